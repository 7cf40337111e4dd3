import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readCounters, readJournal, readState } from '../../standin/platform/inspect.ts'
import { command, expectDecidedByFatalLine, MUTATING, REAL, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'
import { stepError } from '../support/workflow-commands.ts'

/**
 * End to end: the health gate through dist/index.js on the flyctl stand-in, with the fake gateway
 * in the parts the real one cannot honestly be made to play here (a stale lock, a crash loop), and a
 * bind refused before any deploy. The real gateway's cases are in test/gateway/health.test.ts.
 *
 * Every failing case runs with health-timeout 300: each asserts the verdict names the fatal cause
 * the gateway logged, never "not healthy within health-timeout", so the gate decided on the line
 * and not at the timeout (how fast is measured by `npm run bench`, not here).
 */
useWorlds()

describe('health gate end to end, refused before a deploy', () => {
  it(
    'a public loopback bind is refused before anything changes on Fly',
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({ app: 'health-public-loopback', secrets: TOKEN_SECRET, bind: 'loopback' })
      expect(result.exitCode, tail(result)).toBe(1)
      const error = stepError(result)
      expect(error).toMatch(/public-loopback/)
      expect(error).toMatch(/--bind lan/)
      expect(error).toMatch(/nothing was changed on Fly/)
      const journal = await readJournal(w.state)
      expect(journal.length).toBeGreaterThan(0)
      expect(journal.map(command).filter((c) => MUTATING.test(c))).toEqual([])
      expect((await readState(w.state)).apps['health-public-loopback']).toBeUndefined()
    },
    TIMEOUT,
  )
})

describe('health gate end to end, fake gateway', () => {
  // The real 2026.9.6 reclaims a dead holder's lock by itself, so a stale lock cannot be staged with
  // it; the fake `lock` scenario leaves the guide's /data/gateway.<hash>.lock on the volume once and
  // waits on it like releases up to 2026.7 ("lock timeout after 5000ms").
  it(
    'a stale lock: fix-stale-lock removes the lock files over ssh console, restarts once, then healthy',
    async () => {
      const w = await newWorld('fake-gateway:lock', 'e2e-health-')
      const app = 'health-lock'
      const result = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs).toMatchObject({ health: 'healthy', 'rolled-back': 'false' })
      expect(result.summary).toMatch(
        /Release v1: the gateway lock is held on \w+; removing the stale lock and restarting it once\./,
      )
      expect(result.summary).toMatch(/Removed \/data\/gateway\.[0-9a-f]+\.lock and restarted \w+\./)
      expect(result.summary).toMatch(/Release v1 is healthy after the lock repair/)

      const journal = await readJournal(w.state)
      const calls = journal.map(command)
      // The machine may be down between two crash restarts when ssh first reaches for it: the
      // repair tries again (remediate.ts), so only the last attempt succeeds, and it runs once.
      const ssh = journal.filter((e) => /^ssh console\b/.test(command(e)))
      expect(ssh.at(-1)?.exit).toBe(0)
      expect(ssh.slice(0, -1).filter((e) => e.exit === 0)).toEqual([])
      expect(ssh.length).toBeLessThanOrEqual(3)
      for (const e of ssh) expect(command(e)).toContain("-C sh -c 'for f in /data/gateway.*.lock")
      expect(calls.filter((c) => /^(machines?|m) restart\b/.test(c))).toHaveLength(1)
      expect((await readCounters(w.state)).machineRestarts).toBe(1)
      const volume = (await readState(w.state)).apps[app]!.volumes[0]!
      expect(fs.readdirSync(path.join(w.state, 'volumes', volume.id)).filter((f) => f.endsWith('.lock'))).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a stale lock with fix-stale-lock: false stays unhealthy, with the manual fix',
    async () => {
      const w = await newWorld('fake-gateway:lock', 'e2e-health-')
      const result = await w.run({
        app: 'health-lock-off',
        secrets: TOKEN_SECRET,
        'fix-stale-lock': 'false',
        'health-timeout': '300',
      })
      const error = expectDecidedByFatalLine(result, /the gateway lock is held/)
      expect(error).toMatch(/gateway already running \(pid \d+\); lock timeout after 5000ms/)
      expect(error).toMatch(
        /Fix: A stale gateway lock: remove it and restart, `fly ssh console --machine \w+ -C "sh -c 'rm -f \/data\/gateway\.\*\.lock/,
      )
      const calls = (await readJournal(w.state)).map(command)
      expect(calls.filter((c) => /^ssh\b|^(machines?|m) restart\b/.test(c))).toEqual([])
      expect((await readCounters(w.state)).machineRestarts).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'a crash-looping machine (exit 1 each start) is machine-exited within seconds, not "machine state is starting" at the timeout',
    async () => {
      // Regression: the gate passed exitGraceMs/bindWarningGraceMs through as undefined, which the
      // engine's defaults did not survive, so no grace ever elapsed (src/health/verdict.ts).
      const w = await newWorld('fake-gateway:crash', 'e2e-health-')
      const result = await w.run({ app: 'health-crash', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      const error = expectDecidedByFatalLine(result, /the gateway process exited/)
      expect(error).toMatch(/the gateway process exited \(exit code 1\)/)
      expect(error).toMatch(/Error: fake gateway crashed during startup/)
      expect(error).not.toMatch(/machine state is/)
    },
    TIMEOUT,
  )
})
