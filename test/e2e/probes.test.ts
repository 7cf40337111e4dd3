import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  cloneMachine,
  readCounters,
  readJournal,
  readState,
  writeFaults,
  type AppRecord,
} from '../../standin/platform/inspect.ts'
import { API_TOKEN, type StandinWorld } from '../support/standin.ts'
import { command, expectDecidedByFatalLine, fakeWithRelease, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'
import { stepError } from '../support/workflow-commands.ts'

/**
 * The gateway's own probes, the release that serves, and locks per release, through dist/index.js
 * on the stand-in: its machines run Fly's configured checks against the workload (real gateway
 * where the behaviour is the gateway's; the fake plays a startup that never finishes and a held
 * lock, with the release named by the Dockerfile's ARG OPENCLAW_VERSION as the action reads it).
 * One world for the file, each case on its own app but the first two: they share one healthy app
 * (one deploy of a fresh app for both), each redeploying it into a failure that is rolled back, so
 * the next starts from a healthy serving release again.
 */
useWorlds()

let w: StandinWorld

beforeAll(async () => {
  w = await newWorld(undefined, 'e2e-health-')
})

const FLYCTL = path.resolve(import.meta.dirname, '../../standin/bin/flyctl')

async function appState(app: string): Promise<AppRecord> {
  const record = (await readState(w.state)).apps[app]
  if (!record) throw new Error(`no app ${app} in the stand-in's state`)
  return record
}

function newestRelease(app: AppRecord): number {
  return Math.max(...app.releases.map((r) => r.Version))
}

const SSH_OR_RESTART = /^ssh\b|^(machines?|m) restart\b/

/** The app the next two cases redeploy; its first release (beforeAll) is healthy. */
const APP = 'probe-app'

describe('a healthy app, redeployed into a failure', () => {
  beforeAll(async () => {
    // The user's own check (kept as it is), with a short grace so the cases stay short.
    fs.writeFileSync(
      path.join(w.dirs.workspace, 'probe.toml'),
      `app = "${APP}"\n\n[http_service]\ninternal_port = 3000\nforce_https = true\nauto_stop_machines = false\nmin_machines_running = 1\nprocesses = ["app"]\n\n` +
        '[[http_service.checks]]\ngrace_period = "10s"\ninterval = "5s"\nmethod = "GET"\ntimeout = "5s"\npath = "/startupz"\n',
    )
    fakeWithRelease(w.dirs.workspace, 'ready', '2026.9.6')
    const first = await w.run({ app: APP, config: 'probe.toml', secrets: TOKEN_SECRET, 'health-timeout': '300' })
    expect(first.exitCode, tail(first)).toBe(0)
  }, TIMEOUT)

  describe('release-aware checks, end to end', () => {
    it(
      'a gateway whose startup never finishes: its /startupz check fails past the grace period, unhealthy with the output, rolled back',
      async () => {
        const newest = newestRelease(await appState(APP))
        fakeWithRelease(w.dirs.workspace, 'startup-stuck', '2026.9.6')
        const second = await w.run({ app: APP, config: 'probe.toml', secrets: TOKEN_SECRET, 'health-timeout': '300' })
        expect(second.exitCode, tail(second)).toBe(1)
        // Its own release, then the rollback's.
        expect(second.outputs).toMatchObject({
          health: 'unhealthy',
          'rolled-back': 'true',
          'release-version': String(newest + 2),
        })
        const error = stepError(second)
        expect(error).toMatch(
          /Health gate: Fly's health check on the gateway fails on machine \w+: Fly's check servicecheck-00-http-3000 \(GET \/startupz\) still fails 10 s after the machine started/,
        )
        expect(error).toMatch(/503 Service Unavailable Output: \{"ok":false,"status":"starting"\}/)
        expect(error).toMatch(new RegExp(`Rolled back: release v${newest + 2} .* is now serving\\.`))
      },
      TIMEOUT,
    )
  })

  describe('the new release must serve', () => {
    it(
      'a deploy that exits 0 while a machine still runs the old release is unhealthy, naming that machine, and rolled back',
      async () => {
        fakeWithRelease(w.dirs.workspace, 'ready', '2026.9.6')
        const app = await appState(APP)
        const machines = app.machines.filter((m) => !m.destroyed)
        expect(machines).toHaveLength(1)
        const original = machines[0]!.id
        const serving = machines[0]!.config.metadata.fly_release_version
        const newest = newestRelease(app)
        // A second machine, as `fly machine clone` makes one.
        const clone = await cloneMachine(w.state, APP, original)
        const started = spawnSync(FLYCTL, ['machine', 'start', clone, '-a', APP], {
          env: { ...process.env, FLYCTL_STANDIN_STATE: w.state, FLY_API_TOKEN: API_TOKEN },
          encoding: 'utf8',
        })
        expect(started.status, started.stderr).toBe(0)
        // The next deploy leaves the first machine on its release and still exits 0 (superfly/flyctl#2651).
        await writeFaults(w.state, { deployLeavesMachines: 1 })

        // The same push again: its deploy is asked for, not left to skip-unchanged.
        const second = await w.run({
          app: APP,
          config: 'probe.toml',
          secrets: TOKEN_SECRET,
          'health-timeout': '300',
          'skip-unchanged': 'false',
        })
        expect(second.exitCode, tail(second)).toBe(1)
        const error = stepError(second)
        expect(error).toMatch(
          new RegExp(
            `a machine still serves the old release on machine ${original}: \`fly deploy\` exited 0, but machine ${original} \\(release v${serving}, `,
          ),
        )
        expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true' })
        expect(second.summary).toMatch(
          new RegExp(`Release v${newest + 1} is unhealthy: a machine still serves the old release`),
        )
      },
      TIMEOUT,
    )
  })
})

// The release before the state-local tree (2026.7.35), whose stale lock is repaired, is the stale
// lock case of test/e2e/health.test.ts.
describe('locks per release', () => {
  it(
    "2026.9.6: a held lock is a verdict naming the owner and the guide's check, with no deletion and no restart",
    async () => {
      fakeWithRelease(w.dirs.workspace, 'lock', '2026.9.6')
      // The world is the file's: its counters count the other cases' machines too.
      const restartsBefore = (await readCounters(w.state)).machineRestarts
      const result = await w.run({ app: 'probe-lock-new', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      // Decided on the gateway's line, which the error quotes, not at health-timeout.
      const error = expectDecidedByFatalLine(result, /the gateway lock is held/)
      expect(error).toMatch(/gateway already running \(pid 7\); lock timeout after 5000ms/)
      expect(error).toMatch(
        /Fix: gateway release 2026\.9\.6 keeps its lock in \/data\/tmp\/openclaw-<uid> .* the process with pid 7 recorded in the lock is alive/,
      )
      expect(error).toMatch(/no other machine or gateway process uses the volume/)
      const calls = (await readJournal(w.state)).filter((e) => e.argv.includes('probe-lock-new')).map(command)
      expect(calls.length).toBeGreaterThan(0)
      expect(calls.filter((c) => SSH_OR_RESTART.test(c))).toEqual([])
      expect((await readCounters(w.state)).machineRestarts).toBe(restartsBefore)
    },
    TIMEOUT,
  )
})
