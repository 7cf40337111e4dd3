// Two runs of the action deploying one app at once, as two workflows without a `concurrency`
// group do: shared by the e2e test (test/e2e/two-runs.test.ts) and `npm run bench` (bench/two-runs.ts).
import * as path from 'node:path'
import { readState, writeFaults } from '../../standin/platform/inspect.ts'
import { readRuntime } from '../../standin/machines/runtime.ts'
import { runAction, type ActionResult } from '../../standin/runner/runner.ts'
import { API_TOKEN, GATEWAY_TOKEN, writeDockerfile, type StandinWorld } from './standin.ts'
import { errorText } from './workflow-commands.ts'

export const TWO_RUNS_APP = 'oc-two-runs'

export function twoRunsInputs(world: StandinWorld, run: string): Record<string, string> {
  return {
    app: TWO_RUNS_APP,
    'api-token': API_TOKEN,
    'flyctl-mirror': world.server.mirrorUrl,
    'secrets-json': JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN }),
    env: `DEPLOYED_BY=${run}`,
    'health-timeout': '180',
  }
}

export interface RunOutcome {
  name: string
  result: ActionResult
  /** The release this run's `fly deploy` made, from the line flyctl emitted (FLY_EMIT_RELEASE_JSON). */
  made?: number
}

export interface TwoRuns {
  runs: RunOutcome[]
  /** The app's newest release at the end, its status, and the releases its machines run. */
  newest: { version: number; status: string }
  machineReleases: string[]
  machineStates: string[]
  /** Which run's config each machine runs (its DEPLOYED_BY env). */
  machineDeployers: string[]
}

/** The release a run's flyctl emitted: `{"id":...,"version":N,"image_ref":...}` in its deploy output. */
export function madeRelease(stdout: string): number | undefined {
  const seen = [...stdout.matchAll(/\{"id":"[^"]*","version":(\d+),"image_ref"/g)].map((m) => Number(m[1]))
  return seen[0]
}

/**
 * A first deploy (v1), then two runs started together. Machines take `startLatencyMs` to start, so
 * a rollout outlasts the other run's way to its own `fly deploy` (that run's release is then on the
 * app before the first run's verdict): the race that workflows without `concurrency` have.
 */
export async function raceTwoDeploys(world: StandinWorld, opts: { startLatencyMs?: number } = {}): Promise<TwoRuns> {
  writeDockerfile(world.dirs, 'fake-gateway:ready')
  const env = { FLYCTL_STANDIN_STATE: world.state }
  const first = await runAction({
    dirs: world.dirs,
    inputs: twoRunsInputs(world, 'first'),
    env,
    commandDir: path.join(world.dirs.root, 'cmd-first'),
  })
  if (first.exitCode !== 0) throw new Error(`the first deploy failed:\n${first.stdout.slice(-3000)}`)
  await writeFaults(world.state, { restartLatencyMs: opts.startLatencyMs ?? 10_000 })
  const names = ['a', 'b']
  const results = await Promise.all(
    names.map((name) =>
      runAction({
        dirs: world.dirs,
        inputs: twoRunsInputs(world, name),
        env,
        commandDir: path.join(world.dirs.root, `cmd-${name}`),
      }),
    ),
  )
  await writeFaults(world.state, {})
  const app = (await readState(world.state)).apps[TWO_RUNS_APP]
  const newest = [...(app?.releases ?? [])].sort((x, y) => y.Version - x.Version)[0]
  const machines = (app?.machines ?? []).filter((m) => !m.destroyed)
  return {
    runs: results.map((result, i) => ({ name: names[i] as string, result, made: madeRelease(result.stdout) })),
    newest: { version: newest?.Version ?? 0, status: newest?.Status ?? '' },
    machineReleases: machines.map((m) => m.config.metadata.fly_release_version ?? ''),
    machineStates: machines.map((m) => String(readRuntime(world.state, TWO_RUNS_APP, m.id).state)),
    machineDeployers: machines.map((m) => m.config.env.DEPLOYED_BY ?? ''),
  }
}

export type TwoRunsVerdict = 'won' | 'superseded'

/**
 * What each run did, judged by the promises (empty `violations` when they hold): a run that exits 0
 * reports the release it made, healthy; a run that fails says which release superseded its own,
 * with the `concurrency` advice; no run rolls anything back; the app ends on a healthy release.
 */
export function judgeTwoRuns(t: TwoRuns): { verdicts: Record<string, TwoRunsVerdict>; violations: string[] } {
  const violations: string[] = []
  const verdicts: Record<string, TwoRunsVerdict> = {}
  for (const { name, result, made } of t.runs) {
    const out = result.outputs
    if (out['rolled-back'] !== 'false') violations.push(`run ${name} rolled back (rolled-back=${out['rolled-back']})`)
    if (made === undefined) violations.push(`run ${name}'s fly deploy emitted no release`)
    if (out['release-version'] !== String(made))
      violations.push(`run ${name} reports release v${out['release-version']} but made v${made}`)
    if (result.exitCode === 0) {
      verdicts[name] = 'won'
      if (out.health !== 'healthy') violations.push(`run ${name} exited 0 with health=${out.health}`)
      continue
    }
    verdicts[name] = 'superseded'
    const error = errorText(result.stdout)
    const by = /superseded by release v(\d+) from another deploy/.exec(error)
    if (!by) violations.push(`run ${name} failed without saying which release superseded it:\n${error.slice(0, 1500)}`)
    else if (made !== undefined && Number(by[1]) <= made)
      violations.push(`run ${name} says v${by[1]} superseded its v${made}`)
    if (!error.includes('`concurrency` group per app'))
      violations.push(`run ${name}'s error gives no concurrency advice`)
  }
  if (!Object.values(verdicts).includes('won')) violations.push('no run succeeded')
  if (t.newest.status !== 'complete')
    violations.push(`the app's newest release v${t.newest.version} is ${t.newest.status}`)
  if (t.machineReleases.some((v) => v !== String(t.newest.version)))
    violations.push(`machines run releases ${t.machineReleases.join(',')}, not v${t.newest.version}`)
  if (t.machineStates.some((s) => s !== 'started')) violations.push(`machines are ${t.machineStates.join(',')}`)
  const owner = t.runs.find((r) => r.made === t.newest.version)?.name
  if (!owner) violations.push(`no run made the app's newest release v${t.newest.version}`)
  else if (t.machineDeployers.some((d) => d !== owner))
    violations.push(`machines run the config of ${t.machineDeployers.join(',')}, not of run ${owner}`)
  return { verdicts, violations }
}
