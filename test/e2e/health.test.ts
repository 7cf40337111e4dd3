import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readCounters, readJournal, readState } from '../../standin/platform/inspect.ts'
import { command, expectDecidedByFatalLine, fakeWithRelease, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

/**
 * End to end: the health gate's stale-lock repair through dist/index.js on the flyctl stand-in,
 * with the fake gateway, which plays what the real one cannot honestly be made to play here (a
 * stale lock): on a machine that crash-loops under the default restart policy, and on one the
 * restart policy has left stopped; and a crash loop, whose verdict quotes the crash. The real
 * gateway's cases are in test/gateway/health.test.ts.
 *
 * The gate's other cases end to end, each where its run is shared with another question: a public
 * loopback bind refused before any deploy is a case of test/e2e/bad-inputs.test.ts; a lock
 * verdict decided on the gateway's line, with no ssh and no restart, is the held lock of
 * test/e2e/probes.test.ts; a crash loop decided on the machine's exit within seconds, not at
 * health-timeout, is the crash loop of test/e2e/untrusted-text.test.ts. In-process:
 * test/unit/run/health-inputs.test.ts (the loopback refusal, and fix-stale-lock: false).
 */
useWorlds()

describe('health gate end to end, fake gateway', () => {
  it(
    'a stale lock under the default restart policy (a crash loop): fix-stale-lock reaches the machine between restarts, removes the lock files, restarts once, then healthy',
    async () => {
      const w = await newWorld('fake-gateway:lock', 'e2e-health-')
      const app = 'health-lock-loop'
      const result = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs).toMatchObject({ health: 'healthy', 'rolled-back': 'false' })
      expect(result.summary).toMatch(
        /Release v1: the gateway lock is held on \w+; removing the stale lock and restarting it once\./,
      )
      expect(result.summary).toMatch(/Removed \/data\/gateway\.[0-9a-f]+\.lock and restarted \w+\./)
      expect(result.summary).toMatch(/Release v1 is healthy after the lock repair/)
      const journal = await readJournal(w.state)
      // The machine may be down between two crash restarts when ssh first reaches for it: the
      // repair tries again (src/health/lock-repair.ts), so only the last attempt succeeds, and it runs once.
      const ssh = journal.filter((e) => /^ssh console\b/.test(command(e)))
      expect(ssh.at(-1)?.exit).toBe(0)
      expect(ssh.slice(0, -1).filter((e) => e.exit === 0)).toEqual([])
      expect(ssh.length).toBeLessThanOrEqual(3)
      expect(journal.map(command).filter((c) => /^(machines?|m) restart\b/.test(c))).toHaveLength(1)
      expect((await readCounters(w.state)).machineRestarts).toBe(1)
      const volume = (await readState(w.state)).apps[app]!.volumes[0]!
      expect(fs.readdirSync(path.join(w.state, 'volumes', volume.id)).filter((f) => f.endsWith('.lock'))).toEqual([])
    },
    TIMEOUT,
  )

  // The real 2026.9.6 reclaims a dead holder's lock by itself, so a stale lock cannot be staged with
  // it; the fake `lock` scenario leaves the guide's /data/gateway.<hash>.lock on the volume once and
  // waits on it like releases up to 2026.7 ("lock timeout after 5000ms").
  it(
    'a stale lock before the state-local tree (2026.7.35), its crash loop stopped by the restart policy: fix-stale-lock removes the lock files over ssh console, restarts once, then healthy',
    async () => {
      const w = await newWorld(undefined, 'e2e-health-')
      const app = 'health-lock'
      // No retries: flyd leaves the machine stopped after its first lock timeout.
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'fly.toml'),
        `app = "${app}"\n\n[[restart]]\npolicy = "on-failure"\nretries = 0\n`,
      )
      // The release as the action reads it, from the Dockerfile's ARG OPENCLAW_VERSION.
      fakeWithRelease(w.dirs.workspace, 'lock', '2026.7.35')
      const result = await w.run({ app, config: 'fly.toml', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs).toMatchObject({ health: 'healthy', 'rolled-back': 'false' })
      expect(result.summary).toMatch(
        /Release v1: the gateway lock is held on \w+; removing the stale lock and restarting it once\./,
      )
      expect(result.summary).toMatch(/Removed \/data\/gateway\.[0-9a-f]+\.lock and restarted \w+\./)
      expect(result.summary).toMatch(/Release v1 is healthy after the lock repair/)

      const journal = await readJournal(w.state)
      const calls = journal.map(command)
      // Before ssh, the repair reads the machine afresh (its crash loop may have left it stopped).
      expect(calls.filter((c) => /^(machines?|m) status\b/.test(c)).length).toBeGreaterThan(0)
      // The machine may be down (stopped, or between two starts) when ssh first reaches for it: the
      // repair starts it and tries again (src/health/lock-repair.ts), so only the last attempt
      // succeeds, and it runs once.
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
    'a crash-looping machine (exit 1 each start) is machine-exited within seconds, not "machine state is starting" at the timeout, quoting the crash',
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
