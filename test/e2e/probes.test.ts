import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { cloneMachine, readCounters, readJournal, readState, writeFaults } from '../../standin/platform/inspect.ts'
import { API_TOKEN } from '../support/standin.ts'
import { command, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'
import { stepError } from '../support/workflow-commands.ts'

/**
 * The gateway's own probes, the release that serves, and locks per release, through dist/index.js
 * on the stand-in: its machines run Fly's configured checks against the workload (real gateway
 * where the behaviour is the gateway's; the fake plays a startup that never finishes and a held
 * lock, with the release named by the Dockerfile's ARG OPENCLAW_VERSION as the action reads it).
 */
useWorlds()

const FLYCTL = path.resolve(import.meta.dirname, '../../standin/bin/flyctl')

/** A fake workload whose Dockerfile names a gateway release (the stand-in runs the LABEL's workload). */
function fakeWithRelease(workspace: string, scenario: string, release: string): void {
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    `FROM node:24-slim\nARG OPENCLAW_VERSION=${release}\nLABEL fly-standin.workload=fake-gateway:${scenario}\n`,
  )
}

const SSH_OR_RESTART = /^ssh\b|^(machines?|m) restart\b/

describe('release-aware checks, end to end', () => {
  it(
    'a gateway whose startup never finishes: its /startupz check fails past the grace period, unhealthy with the output, rolled back',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-health-')
      const app = 'probe-stuck'
      // The user's own check (kept as it is), with a short grace so the case stays short.
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'fly.toml'),
        `app = "${app}"\n\n[http_service]\ninternal_port = 3000\nforce_https = true\nauto_stop_machines = false\nmin_machines_running = 1\nprocesses = ["app"]\n\n` +
          '[[http_service.checks]]\ngrace_period = "10s"\ninterval = "5s"\nmethod = "GET"\ntimeout = "5s"\npath = "/startupz"\n',
      )
      fakeWithRelease(w.dirs.workspace, 'ready', '2026.9.6')
      const first = await w.run({ app, config: 'fly.toml', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(first.exitCode, tail(first)).toBe(0)

      fakeWithRelease(w.dirs.workspace, 'startup-stuck', '2026.9.6')
      const second = await w.run({ app, config: 'fly.toml', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true', 'release-version': '3' })
      const error = stepError(second)
      expect(error).toMatch(
        /Health gate: Fly's health check on the gateway fails on machine \w+: Fly's check servicecheck-00-http-3000 \(GET \/startupz\) still fails 10 s after the machine started/,
      )
      expect(error).toMatch(/503 Service Unavailable Output: \{"ok":false,"status":"starting"\}/)
      expect(error).toMatch(/Rolled back: release v3 .* is now serving\./)
    },
    TIMEOUT,
  )
})

describe('the new release must serve', () => {
  it(
    'a deploy that exits 0 while a machine still runs the old release is unhealthy, naming that machine, and rolled back',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-health-')
      const app = 'probe-serving'
      const first = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(first.exitCode, tail(first)).toBe(0)
      const original = (await readState(w.state)).apps[app]!.machines[0]!.id
      // A second machine, as `fly machine clone` makes one.
      const clone = await cloneMachine(w.state, app, original)
      const started = spawnSync(FLYCTL, ['machine', 'start', clone, '-a', app], {
        env: { ...process.env, FLYCTL_STANDIN_STATE: w.state, FLY_API_TOKEN: API_TOKEN },
        encoding: 'utf8',
      })
      expect(started.status, started.stderr).toBe(0)
      // The next deploy leaves the first machine on its release and still exits 0 (superfly/flyctl#2651).
      await writeFaults(w.state, { deployLeavesMachines: 1 })

      // The same push again: its deploy is asked for, not left to skip-unchanged.
      const second = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300', 'skip-unchanged': 'false' })
      expect(second.exitCode, tail(second)).toBe(1)
      const error = stepError(second)
      expect(error).toMatch(
        new RegExp(
          `a machine still serves the old release on machine ${original}: \`fly deploy\` exited 0, but machine ${original} \\(release v1, `,
        ),
      )
      expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true' })
      expect(second.summary).toMatch(/Release v2 is unhealthy: a machine still serves the old release/)
    },
    TIMEOUT,
  )
})

describe('locks per release', () => {
  it(
    'before the state-local tree (2026.7.35): a stale lock is repaired with one restart, also when the crash loop has stopped the machine',
    async () => {
      const w = await newWorld('fake-gateway:lock', 'e2e-health-')
      const app = 'probe-lock-old'
      // No retries: flyd leaves the machine stopped after its first lock timeout.
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'fly.toml'),
        `app = "${app}"\n\n[[restart]]\npolicy = "on-failure"\nretries = 0\n`,
      )
      fakeWithRelease(w.dirs.workspace, 'lock', '2026.7.35')
      const result = await w.run({ app, config: 'fly.toml', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.summary).toMatch(/Removed \/data\/gateway\.[0-9a-f]+\.lock and restarted \w+\./)
      const calls = (await readJournal(w.state)).map(command)
      expect(calls.filter((c) => /^(machines?|m) status\b/.test(c)).length).toBeGreaterThan(0)
      expect(calls.filter((c) => /^(machines?|m) restart\b/.test(c))).toHaveLength(1)
      expect((await readCounters(w.state)).machineRestarts).toBe(1)
    },
    TIMEOUT,
  )

  it(
    "2026.9.6: a held lock is a verdict naming the owner and the guide's check, with no deletion and no restart",
    async () => {
      const w = await newWorld('fake-gateway:lock', 'e2e-health-')
      fakeWithRelease(w.dirs.workspace, 'lock', '2026.9.6')
      const result = await w.run({ app: 'probe-lock-new', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(1)
      const error = stepError(result)
      expect(error).toMatch(/the gateway lock is held/)
      expect(error).toMatch(
        /Fix: gateway release 2026\.9\.6 keeps its lock in \/data\/tmp\/openclaw-<uid> .* the process with pid 7 recorded in the lock is alive/,
      )
      expect(error).toMatch(/no other machine or gateway process uses the volume/)
      const calls = (await readJournal(w.state)).map(command)
      expect(calls.filter((c) => SSH_OR_RESTART.test(c))).toEqual([])
      expect((await readCounters(w.state)).machineRestarts).toBe(0)
    },
    TIMEOUT,
  )
})
