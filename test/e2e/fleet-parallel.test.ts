// Fleets (docs/CONTRACT.md, "Fleets"): eight runs of dist/index.js at once on one runner host, from an
// empty tool cache, against the loopback release server and one stand-in platform, with the fake
// gateway. The host shares RUNNER_TOOL_CACHE and HOME between its runners (as self-hosted hosts
// do), and four of the eight share RUNNER_TEMP too (a misconfigured host), so both kinds of run
// race each other in one fleet. Every run must end healthy on its own app and report only that
// app; the tool cache must hold exactly one whole flyctl and none of the runs' staging folders; no
// two runs may share a rendered file or flyctl's config folder (flyctl: $FLY_CONFIG_DIR, else
// $HOME/.fly; helpers/config.go GetConfigDirectory).
//
// Not timed: the timeouts only stop a hung run. Speed is `npm run bench -- --only=fleet`.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PINNED_FLYCTL_VERSION } from '../../src/install/release-assets.js'
import { readJournal, readState } from '../../standin/platform/inspect.ts'
import { installNodeRuntime } from '../../standin/machines/install-runtimes.ts'
import {
  appOfCall,
  callsByConfigDir,
  listTree,
  startFleetHost,
  type FleetHost,
  type FleetRun,
} from '../support/fleet.ts'

const RUNS = 8
/** The first four runs share one RUNNER_TEMP; the other four each have their own. */
const SHARED_TEMP_RUNS = 4
const TIMEOUT = 900_000

let host: FleetHost | undefined

afterEach(async () => {
  await host?.stop()
  host = undefined
})

function tail(run: FleetRun): string {
  return `${run.app}: exit ${run.result.exitCode}\n${run.result.stdout.slice(-4000)}\n${run.result.stderr.slice(-2000)}`
}

async function deployFleet(): Promise<{ host: FleetHost; runs: FleetRun[]; apps: string[] }> {
  // The fake gateway runs on the stand-in's Node 24 (installed once; a no-op when it is there).
  await installNodeRuntime()
  const h = await startFleetHost({ prefix: 'fleet-', sharedTempRuns: SHARED_TEMP_RUNS })
  host = h
  const apps = Array.from({ length: RUNS }, (_, i) => `fleet-${String(i + 1).padStart(2, '0')}`)
  const runs = await h.deploy(apps, () => ({ 'health-timeout': '600' }))
  return { host: h, runs, apps }
}

async function expectFleetIsolated(h: FleetHost, runs: FleetRun[], apps: string[]): Promise<void> {
  const platform = await readState(h.state)

  // Every run healthy, on its own app, reporting only that app.
  for (const run of runs) {
    const { outputs, summary } = run.result
    expect(run.result.exitCode, tail(run)).toBe(0)
    expect(outputs.health, tail(run)).toBe('healthy')
    expect(outputs['app-name']).toBe(run.app)
    expect(outputs['app-url']).toBe(`https://${run.app}.fly.dev/`)
    expect(outputs['flyctl-version']).toBe(PINNED_FLYCTL_VERSION)
    const ownMachines = (platform.apps[run.app]?.machines ?? []).filter((m) => !m.destroyed).map((m) => m.id)
    expect(ownMachines).toHaveLength(1)
    expect(outputs['machine-ids']).toBe(ownMachines.join(','))
    for (const other of apps.filter((a) => a !== run.app)) {
      expect(summary, `${run.app}'s summary names ${other}`).not.toContain(other)
      expect(JSON.stringify(outputs), `${run.app}'s outputs name ${other}`).not.toContain(other)
    }
    expect(summary).toContain(run.app)
  }

  // Rendered files: one folder per run, each fly.toml for its own app.
  const configs = runs.map((r) => r.result.outputs['fly-config'] as string)
  expect(new Set(configs).size).toBe(RUNS)
  for (const [i, run] of runs.entries()) {
    expect(configs[i]?.startsWith(path.join(run.dirs.temp, 'fly-deploy') + path.sep)).toBe(true)
    expect(fs.readFileSync(configs[i] as string, 'utf8')).toMatch(new RegExp(`^app = "${run.app}"$`, 'm'))
  }

  // The tool cache: exactly one flyctl, marked complete, and nothing of any run's own.
  expect(listTree(h.toolCache)).toEqual([
    'flyctl',
    `flyctl/${PINNED_FLYCTL_VERSION}`,
    `flyctl/${PINNED_FLYCTL_VERSION}/x64`,
    `flyctl/${PINNED_FLYCTL_VERSION}/x64.complete`,
    // The copy was verified (checksum, `flyctl version`) before it was placed: later runs skip the version run.
    `flyctl/${PINNED_FLYCTL_VERSION}/x64/.fly-deploy-verified.json`,
    `flyctl/${PINNED_FLYCTL_VERSION}/x64/fly`,
    `flyctl/${PINNED_FLYCTL_VERSION}/x64/flyctl`,
  ])
  // No download work folder left in RUNNER_TEMP either.
  for (const run of runs) expect(fs.readdirSync(run.dirs.temp).filter((n) => n.startsWith('flyctl-'))).toEqual([])

  // flyctl's config folder: never the shared HOME's, one per run, inside that run's folder, and
  // every call made from it names that run's app only.
  expect(fs.existsSync(path.join(h.home, '.fly'))).toBe(false)
  const byDir = await callsByConfigDir(h.state)
  expect([...byDir.keys()].sort()).toEqual(configs.map((c) => path.join(path.dirname(c), 'flyctl')).sort())
  for (const [i, run] of runs.entries()) {
    const calls = byDir.get(path.join(path.dirname(configs[i] as string), 'flyctl')) ?? []
    expect(calls.some((c) => c.argv[0] === 'deploy')).toBe(true)
    const named = new Set(calls.map(appOfCall).filter((a) => a !== undefined))
    expect([...named]).toEqual([run.app])
  }
  // No call failed but the survey of a new app (`status`: not there yet) and the log follower the
  // gate ends once it has its verdict (exit 127, a cancelled flyctl).
  const failed = (await readJournal(h.state))
    .filter((e) => e.exit !== 0)
    .map((e) => `${e.argv[0]} ${e.argv[0] === 'logs' ? e.exit : ''}`.trim())
  for (const f of failed) expect(['status', 'logs 127']).toContain(f)
}

describe('a fleet of eight runs at once on one runner host', () => {
  it(
    'sharing RUNNER_TOOL_CACHE and HOME, four also RUNNER_TEMP: all healthy on their own apps, one whole flyctl in the cache, no rendered file or flyctl folder in common',
    async () => {
      const { host: h, runs, apps } = await deployFleet()
      // Four runs in the one shared RUNNER_TEMP, four in folders of their own.
      expect(runs.filter((r) => r.dirs.temp === h.sharedTemp)).toHaveLength(SHARED_TEMP_RUNS)
      expect(new Set(runs.map((r) => r.dirs.temp)).size).toBe(RUNS - SHARED_TEMP_RUNS + 1)
      await expectFleetIsolated(h, runs, apps)
    },
    TIMEOUT,
  )
})
