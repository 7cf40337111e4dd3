import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { detectIsolation } from '../../standin/machines/isolation.ts'
import { readCounters, readJournal, readState } from '../../standin/platform/inspect.ts'
import { command, REAL, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { API_TOKEN, tail } from '../support/standin.ts'

/**
 * The gateway's own probes, the release that serves, and locks per release, through dist/index.js
 * on the stand-in: its machines run Fly's configured checks against the workload (real gateway
 * where the behaviour is the gateway's; the fake plays a startup that never finishes and a held
 * lock, with the release named by the Dockerfile's ARG OPENCLAW_VERSION as the action reads it).
 */
useWorlds()

const FLYCTL = path.resolve(import.meta.dirname, '../../standin/bin/flyctl')

describe('release-aware checks, end to end', () => {
  it(
    "2026.9.6 deploys healthy with the guide's /startupz check, and the summary names the check that passed",
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({ app: 'probe-startupz', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs.health).toBe('healthy')
      const rendered = fs.readFileSync(result.outputs['fly-config']!, 'utf8')
      expect(rendered).toMatch(
        /\[\[http_service\.checks\]\]\ngrace_period = "2m"\ninterval = "15s"\nmethod = "GET"\ntimeout = "5s"\npath = "\/startupz"/,
      )
      expect(result.summary).toMatch(/Fly's check servicecheck-00-http-3000 \(GET \/startupz\) passing/)
    },
    TIMEOUT,
  )

  it(
    '2026.4.29 (before /startupz) deploys healthy with /healthz, and the summary names the check that passed',
    async () => {
      const w = await newWorld('openclaw@2026.4.29', 'e2e-health-')
      // 2026.2.26 - 2026.5 refuse a non-loopback bind without allowed origins (as in health.test.ts).
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'openclaw.json'),
        '{ gateway: { mode: "local", controlUi: { allowedOrigins: ["https://probe-healthz.fly.dev"] } } }\n',
      )
      const result = await w.run({
        app: 'probe-healthz',
        secrets: TOKEN_SECRET,
        'gateway-config': 'openclaw.json',
        'health-timeout': '300',
      })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs.health).toBe('healthy')
      const rendered = fs.readFileSync(result.outputs['fly-config']!, 'utf8')
      expect(rendered).toMatch(/\[\[http_service\.checks\]\][^[]*path = "\/healthz"/)
      expect(rendered).not.toMatch(/startupz/)
      expect(result.summary).toMatch(/Fly's check servicecheck-00-http-3000 \(GET \/healthz\) passing/)
    },
    TIMEOUT,
  )
})

describe('locks per release, real gateway', () => {
  it(
    "2026.9.6 reclaims a dead owner's lock on the volume by itself: healthy, no ssh, no restart, nothing repaired",
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const app = 'probe-dead-lock'
      const first = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(first.exitCode, tail(first)).toBe(0)
      const machine = (await readState(w.state)).apps[app]!.machines[0]!
      const volume = (await readState(w.state)).apps[app]!.volumes[0]!
      // The state-local lock tree (2026.9.6 docs/gateway/gateway-lock.md): <state-dir>/tmp/openclaw-<uid>,
      // the uid the gateway runs as: 0 in a machine's namespaces (as on Fly), the test's own uid
      // when machines fall back to path mapping.
      const uid = detectIsolation(w.state) === 'namespace' ? 0 : process.getuid?.()
      const lockDir = path.join(w.state, 'volumes', volume.id, 'tmp', `openclaw-${uid}`)
      const locks = gatewayLocks(lockDir)
      // The state lock and the config lock, as the running gateway wrote them.
      expect(Object.keys(locks)).toEqual(expect.arrayContaining(['gateway.state.lock']))
      expect(Object.keys(locks).some((name) => /^gateway\.[0-9a-f]{8}\.lock$/.test(name))).toBe(true)

      // The machine goes down (the gateway removes its own locks on a clean shutdown), then its
      // locks come back on the volume as a gateway that died without cleaning up leaves them: the
      // same files, naming a process that has exited.
      const stop = flyctl(w.state, ['machine', 'stop', machine.id, '-a', app])
      expect(stop.status, stop.stderr).toBe(0)
      const deadPid = exitedPid()
      for (const [name, raw] of Object.entries(locks)) fs.writeFileSync(path.join(lockDir, name), withPid(raw, deadPid))
      const before = (await readJournal(w.state)).length

      const second = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300', 'skip-unchanged': 'false' })
      expect(second.exitCode, tail(second)).toBe(0)
      expect(second.outputs).toMatchObject({ health: 'healthy', 'release-version': '2', 'rolled-back': 'false' })
      // The gateway took the locks over: they name its own process now, not the dead one.
      const after = gatewayLocks(lockDir)
      expect(Object.keys(after).sort()).toEqual(Object.keys(locks).sort())
      for (const raw of Object.values(after)) expect(lockPid(raw)).not.toBe(deadPid)
      // The action left the lock to the gateway: no ssh, no restart, and the summary repairs nothing.
      const calls = (await readJournal(w.state)).slice(before).map(command)
      expect(calls.filter((c) => /^ssh\b|^(machines?|m) restart\b/.test(c))).toEqual([])
      expect((await readCounters(w.state)).machineRestarts).toBe(0)
      expect(second.summary).toMatch(/Release v2 is healthy: /)
      expect(second.summary).not.toMatch(/lock repair|stale lock|Removed .*lock|No lock file was left/)
    },
    TIMEOUT,
  )
})

/** The gateway's lock files in a lock tree, by name (not the SQLite coordinators beside them). */
function gatewayLocks(dir: string): Record<string, string> {
  const names = fs.readdirSync(dir).filter((name) => /^gateway\.[^/]+\.lock$/.test(name))
  return Object.fromEntries(names.map((name) => [name, fs.readFileSync(path.join(dir, name), 'utf8')]))
}

/**
 * A lock's payload with another owner pid. The file is the payload as JSON, then the ownership
 * token (a line of tabs and spaces) that JSON.parse reads as whitespace (@openclaw/fs-safe
 * sidecar-lock-reclaim.js serializeSidecarLockPayload); only the pid changes.
 */
function withPid(raw: string, pid: number): string {
  const replaced = raw.replace(/^(\s*"pid": )\d+,$/m, `$1${pid},`)
  expect(lockPid(replaced)).toBe(pid)
  return replaced
}

function lockPid(raw: string): number {
  return (JSON.parse(raw) as { pid: number }).pid
}

/** The pid of a process that ran and exited: no live process has it (the guest's pids are small). */
function exitedPid(): number {
  const done = spawnSync('/bin/sh', ['-c', 'echo $$'], { encoding: 'utf8' })
  return Number(done.stdout.trim())
}

function flyctl(state: string, args: string[]) {
  return spawnSync(FLYCTL, args, {
    env: { ...process.env, FLYCTL_STANDIN_STATE: state, FLY_API_TOKEN: API_TOKEN },
    encoding: 'utf8',
  })
}
