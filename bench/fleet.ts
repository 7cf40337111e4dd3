// Figure 6 of `npm run bench` (docs/CONTRACT.md, "Fleets"): fleets of 1, 4 and 16 gateways, each
// deployed by that many concurrent runs of dist/index.js on one runner host (shared tool cache and
// HOME, test/support/fleet.ts), on the stand-in with the bench's latency (LATENCY: 150 ms per
// flyctl call, 1.5 s per machine (re)start) and the fake gateway. Per size and repetition, on a
// fresh host: a first deploy (new apps, empty tool cache: every run downloads flyctl), then a
// redeploy of the same apps (tool-cache hits). Measured: the fleet's wall time (first run's start
// to last run's end), each gateway's own wall time and its flyctl calls (the stand-in's journal,
// grouped by the flyctl config folder each run uses), and archive downloads.
import { startFleetHost, callsByConfigDir, type FleetHost, type FleetRun } from '../test/support/fleet.ts'
import { readJournal, writeFaults } from '../standin/platform/inspect.ts'
import { LATENCY, log } from './lib.ts'

export const FLEET_SIZES = [1, 4, 16] as const

export interface FleetPhase {
  /** First run's start to last run's end, ms. */
  wallMs: number
  /** Each gateway's own run, start to end, ms. */
  gatewayWallMs: number[]
  /** flyctl calls of each gateway's run. */
  callsPerGateway: number[]
  /** Archive downloads from the release server during the phase. */
  downloads: number
}

export interface FleetSample {
  size: number
  first: FleetPhase
  redeploy: FleetPhase
}

function expectHealthy(runs: FleetRun[], what: string): void {
  for (const run of runs) {
    if (
      run.result.exitCode !== 0 ||
      run.result.outputs.health !== 'healthy' ||
      run.result.outputs['app-name'] !== run.app
    ) {
      throw new Error(
        `${what}: ${run.app} ended with exit ${run.result.exitCode}, health ${run.result.outputs.health}\n${run.result.stdout.slice(-3000)}\n${run.result.stderr.slice(-1000)}`,
      )
    }
  }
}

async function phase(host: FleetHost, apps: string[], what: string): Promise<FleetPhase> {
  const journalBefore = (await readJournal(host.state)).length
  const requestsBefore = host.server.requests.length
  const runs = await host.deploy(apps)
  expectHealthy(runs, what)
  const byDir = await callsByConfigDir(host.state, journalBefore)
  const callsPerGateway = runs.map((run) => {
    const configDir = run.result.outputs['fly-config']?.replace(/fly\.toml$/, 'flyctl') ?? ''
    return byDir.get(configDir)?.length ?? Number.NaN
  })
  return {
    wallMs: Math.max(...runs.map((r) => r.endedAt)) - Math.min(...runs.map((r) => r.startedAt)),
    gatewayWallMs: runs.map((r) => r.endedAt - r.startedAt),
    callsPerGateway,
    downloads: host.server.requests.slice(requestsBefore).filter((r) => r.kind === 'archive').length,
  }
}

/** `reps` repetitions of every size, each on a fresh host. */
export async function fleetScaling(sizes: readonly number[], reps: number): Promise<FleetSample[]> {
  const samples: FleetSample[] = []
  for (let rep = 1; rep <= reps; rep++) {
    for (const size of sizes) {
      const host = await startFleetHost({ prefix: `bench-fleet-${size}-`, sharedTempRuns: 0 })
      try {
        await writeFaults(host.state, { latencyMs: { '*': LATENCY.callMs }, restartLatencyMs: LATENCY.restartMs })
        const apps = Array.from({ length: size }, (_, i) => `bench-fleet-${String(i + 1).padStart(2, '0')}`)
        const first = await phase(host, apps, `fleet of ${size}, first deploy`)
        const redeploy = await phase(host, apps, `fleet of ${size}, redeploy`)
        samples.push({ size, first, redeploy })
        log(
          `fleet of ${size} (${rep}/${reps}): first deploy ${first.wallMs} ms, ${first.downloads} download(s); redeploy ${redeploy.wallMs} ms; calls per gateway ${first.callsPerGateway.join('/')} then ${redeploy.callsPerGateway.join('/')}`,
        )
      } finally {
        await host.stop()
      }
    }
  }
  return samples
}
