import * as core from '@actions/core'
import { MachineListSchema, ReleaseListSchema, releaseFailed, type Machine, type Release } from '../fly/schemas.js'
import { isAppMachine, servingAppMachines } from '../fly/machines.js'
import { unhealthyOutcome, type Cause, type GateResult } from '../health/index.js'
import { causeTitle } from '../health/gate.js'
import {
  displayCommand,
  endedFromOutsideNote,
  FlyctlError,
  isTransientText,
  READING,
  type Flyctl,
  type FlyctlResult,
} from '../fly/flyctl.js'
import { inProgress, newest, newestFirst, newestOnMachinesAbove, served } from '../fly/releases.js'
import { RolloutFeed } from '../health/rollout-feed.js'
import type { Change } from '../run/change-journal.js'
import type { Plan } from '../inputs/plan.js'
import type { StageContext } from '../run/report.js'
import { sleep } from '../shared/sleep.js'
import { RELEASE_ENV } from './upgrade-snapshot.js'
import { FINGERPRINT_ENV } from '../fingerprint/fingerprint.js'

/** The rendered config as the deploy needs it (from render.ts). */
export interface RenderedConfig {
  /** Absolute path of the rendered fly.toml. */
  path: string
}

export interface DeployContext extends StageContext {
  rendered: RenderedConfig
  /** Job cancellation: ends a wait for another run's deploy. */
  signal?: AbortSignal
  /** How often `releases --json` is read while another deploy is in progress (default 5 s). */
  releasePollMs?: number
  /**
   * The health gate, run alongside `fly deploy` from the moment it starts: it follows the
   * machines of the first release above `baseline` (health/index.ts watchRollout).
   */
  watch?: (baseline: number, startedAtMs: number, signal: AbortSignal, rollout?: RolloutFeed) => Promise<GateResult>
  /** The gateway port (internal_port), for the fix of a failure the gate could not explain. */
  gatewayPort?: number
  /** How long a failed deploy's gate may take to explain the failure (default 15 s). */
  explainGraceMs?: number
  /** The gateway release this deploy ships, when known: recorded on the release for the next run. */
  gatewayRelease?: string
  /** The release's fingerprint (src/fingerprint/), carried in its `[env]`; a rollback carries none. */
  fingerprint?: string
}

/** Seconds as a Go time.Duration string (`300` -> `5m0s`), the form flyctl's --wait-timeout parses. */
export function formatGoDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds))
  if (s === 0) return '0s'
  const hours = Math.floor(s / 3600)
  const minutes = Math.floor((s % 3600) / 60)
  const seconds = s % 60
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}

/**
 * `fly deploy` argv. The working directory goes first as flyctl's positional WORKING_DIRECTORY
 * (it changes into it: internal/command/command.go ChangeWorkingDirectoryToFirstArgIfPresent), so
 * the build context is the user's. `--ha=false`: one volume, one machine, as the guide runs it.
 * deploy-args come last so a user's flag wins over ours. A rollback passes imageOverride: the
 * previous release's image with the same config, and nothing is built. The fingerprint goes in
 * with `--env` (flyctl sets it into the release's `[env]`: internal/command/deploy/deploy.go,
 * cfg.SetEnvVariables), so the rendered file stays what the user's inputs made.
 */
export function buildDeployArgs(
  plan: Plan,
  rendered: RenderedConfig,
  opts: { imageOverride?: string; gatewayRelease?: string; fingerprint?: string } = {},
): string[] {
  const args = ['deploy', plan.workingDirectory, '--config', rendered.path, '--app', plan.app]
  const image = opts.imageOverride ?? plan.image
  if (image) {
    args.push('--image', image)
  } else {
    for (const [name, value] of plan.buildArgs) args.push('--build-arg', `${name}=${value}`)
  }
  if (plan.strategy) args.push('--strategy', plan.strategy)
  args.push('--wait-timeout', formatGoDuration(plan.healthTimeoutSec))
  args.push('--ha=false')
  if (plan.private) args.push('--no-public-ips')
  // The next run reads which gateway release serves from this entry (stages/upgrade-snapshot.ts).
  if (opts.gatewayRelease) args.push('--env', `${RELEASE_ENV}=${opts.gatewayRelease}`)
  if (opts.fingerprint) args.push('--env', `${FINGERPRINT_ENV}=${opts.fingerprint}`)
  args.push('-y')
  args.push(...plan.deployArgs)
  return args
}

export interface ReleaseInfo {
  version: number
  imageRef: string
  /** The image of the newest earlier release that did not fail: what a rollback deploys. */
  previousImageRef?: string
  previousVersion?: number
}

/**
 * The run's own release (`own`: the version this deploy made, when known) or else the newest, and
 * the one a rollback would go back to, from `releases --json`.
 */
export function readReleases(releases: readonly Release[], own?: number): ReleaseInfo | undefined {
  const sorted = newestFirst(releases)
  const current = sorted.find((r) => r.Version === own) ?? sorted[0]
  if (!current) return undefined
  const previous = sorted.find((r) => r.Version < current.Version && served(r))
  return {
    version: current.Version,
    imageRef: current.ImageRef,
    previousImageRef: previous?.ImageRef,
    previousVersion: previous?.Version,
  }
}

/**
 * The release this deploy made, as flyctl prints it with FLY_EMIT_RELEASE_JSON set (deploy/
 * machines_deploymachinesapp.go: "lets callers reliably capture the exact release without a
 * separate API call that could race with concurrent deployments"); only after a successful deploy.
 */
export function emittedRelease(stdout: string): number | undefined {
  return emittedReleaseLine(stdout)?.version
}

function emittedReleaseLine(stdout: string): { version: number; imageRef?: string } | undefined {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{')) continue
    try {
      const data = JSON.parse(line) as { version?: unknown; image_ref?: unknown }
      if (typeof data.version === 'number')
        return {
          version: data.version,
          ...(typeof data.image_ref === 'string' && data.image_ref ? { imageRef: data.image_ref } : {}),
        }
    } catch {
      // not the release line
    }
  }
  return undefined
}

/**
 * The release a deploy made from what flyctl emitted and the releases read before it began, with
 * no further call; undefined when flyctl emitted no release (an older flyctl, a failed deploy).
 */
export function releaseFromEmitted(stdout: string, before: readonly Release[]): ReleaseInfo | undefined {
  const emitted = emittedReleaseLine(stdout)
  if (!emitted?.imageRef) return undefined
  const made: Release = {
    Version: emitted.version,
    ImageRef: emitted.imageRef,
    Status: 'complete',
    Description: '',
    Reason: '',
  }
  return readReleases([...before.filter((r) => r.Version !== emitted.version), made], emitted.version)
}

/** flyctl prints "Visit your newly deployed app at <url>" (internal/command/deploy/deploy.go). */
export function appUrl(plan: Pick<Plan, 'app' | 'private'>, deployOutput: string): string {
  if (plan.private) return ''
  const seen = /Visit your newly deployed app at (https?:\/\/\S+)/.exec(deployOutput)
  return seen?.[1] ?? `https://${plan.app}.fly.dev/`
}

export interface DeployResult {
  /** The command line, for the log and a dry run's plan (display only, never run through a shell). */
  command: string
  dryRun: boolean
  url: string
  release?: ReleaseInfo
  /** Runner clock when `fly deploy` began. */
  startedAtMs?: number
  /** The gate's verdict on the release, when the deploy ran with a watcher. */
  verdict?: GateResult
  /** Machines the deploy left stopped that were started (`fly machine start`). */
  startedMachines?: string[]
  /** The gate found the release unhealthy while flyctl still waited, and flyctl was interrupted. */
  interrupted?: boolean
}

export function deploy(ctx: DeployContext): Promise<DeployResult> {
  const args = buildDeployArgs(ctx.plan, ctx.rendered, {
    gatewayRelease: ctx.gatewayRelease,
    ...(ctx.fingerprint ? { fingerprint: ctx.fingerprint } : {}),
  })
  return runDeploy(ctx, args, 'fly deploy', (v) => `deployed release v${v}`)
}

/**
 * Roll back: deploy an earlier release's image with the same rendered config, and that release's
 * gateway release when known. It carries no fingerprint: it does not hold what this run's
 * fingerprint describes, so the next run deploys.
 */
export function redeploy(ctx: DeployContext, imageRef: string, gatewayRelease?: string): Promise<DeployResult> {
  const args = buildDeployArgs(ctx.plan, ctx.rendered, { imageOverride: imageRef, gatewayRelease })
  return runDeploy(
    ctx,
    args,
    `fly deploy (rollback to ${imageRef})`,
    (v) => `rolled back: deployed release v${v} with ${imageRef}`,
  )
}

/** How the deploy reads in the change journal once its release is known. */
type Describe = (version: number) => string

async function runDeploy(ctx: DeployContext, args: string[], title: string, describe: Describe): Promise<DeployResult> {
  const { flyctl, plan } = ctx
  const command = flyctl.redact(displayCommand(args))
  if (plan.dryRun) return { command, dryRun: true, url: appUrl(plan, '') }

  const waiter = {
    timeoutMs: plan.healthTimeoutSec * 1000,
    pollMs: ctx.releasePollMs ?? 5_000,
    log: ctx.log.info,
    signal: ctx.signal,
  }
  // Another run's deploy of this app (a push and a scheduled redeploy at once) is waited for.
  const before = await waitForReleaseInProgress(flyctl, plan.app, waiter)
  const baseline = before.newest?.Version ?? 0
  const startedAtMs = Date.now()
  if (ctx.watch)
    return deployWatched(ctx, {
      args,
      title,
      command,
      baseline,
      before: before.releases,
      startedAtMs,
      watch: ctx.watch,
      describe,
    })

  let result: { stdout: string; change?: Change }
  try {
    result = await core.group(title, () => flyctl.run(args, { echo: true, retry: DEPLOY_RETRY }))
  } catch (err) {
    if (!(err instanceof FlyctlError) || !err.transient || ctx.signal?.aborted) throw err
    result = await checkInterruptedDeploy(ctx, args, title, err, baseline, waiter)
  }
  const releases = await flyctl.json(['releases', '--app', plan.app], ReleaseListSchema, { retry: READING })
  const release = readReleases(releases, emittedRelease(result.stdout))
  if (result.change && release) result.change.what = describe(release.version)
  return { command, dryRun: false, url: appUrl(plan, result.stdout), release, startedAtMs }
}

interface Watched {
  args: string[]
  title: string
  command: string
  baseline: number
  /** The app's releases read before the deploy began. */
  before: readonly Release[]
  startedAtMs: number
  watch: NonNullable<DeployContext['watch']>
  describe: Describe
  /** This is the one repeat of a deploy that never reached Fly. */
  repeated?: boolean
}

/**
 * `fly deploy` with the gate alongside (docs/CONTRACT.md, "Deploy and gate are one stage"). flyctl waits for
 * smoke and health checks (internal/machine/leasable_machine.go); the gate reads the gateway's
 * own lines meanwhile. An unhealthy verdict ends flyctl's wait with SIGINT, as Ctrl-C does, and
 * the run goes on at once. A deploy that fails once a machine took the release is a verdict; one
 * that fails before that (build, auth, config) is an error with flyctl's message.
 */
async function deployWatched(ctx: DeployContext, w: Watched): Promise<DeployResult> {
  const { flyctl } = ctx
  const interrupt = new AbortController()
  const stopWatch = new AbortController()
  const rollout = new RolloutFeed()
  const deploying = core.group(w.title, () =>
    flyctl.run(w.args, {
      echo: true,
      onLine: (line) => rollout.line(line),
      interrupt: interrupt.signal,
      allowFailure: true,
      retry: DEPLOY_RETRY,
    }),
  )
  const watching = w.watch(w.baseline, w.startedAtMs, stopWatch.signal, rollout)
  watching.catch(() => {}) // awaited below on every path; a cancelled watch must not go unhandled meanwhile
  try {
    const first = await Promise.race([deploying.then(() => undefined), watching])
    if (first?.verdict.health === 'unhealthy') {
      ctx.log.info(
        'health: the release is unhealthy while `fly deploy` still waits: interrupting it (SIGINT), so it marks the release interrupted and gives its lease back',
      )
      interrupt.abort()
      return { ...(await readDeployed(ctx, w, await deploying, first)), verdict: first, interrupted: true }
    }
    const result = await deploying
    // Name the release in the change journal at once: a cancelled gate must not leave it unnamed.
    const emitted = emittedRelease(result.stdout)
    if (result.change && emitted !== undefined) result.change.what = w.describe(emitted)
    ctx.signal?.throwIfAborted()
    // One read once flyctl exited, shared by the gate, the stopped-machine start and a failure's account.
    const machines = await flyctl.json(['machines', 'list', '--app', ctx.plan.app], MachineListSchema, {
      retry: READING,
    })
    rollout.end(machines, emitted)
    if (result.exitCode !== 0) {
      const outcome = await failedDeploy(ctx, w, result, first, watching, machines)
      if (outcome !== 'repeat') return outcome
      stopWatch.abort()
      return await deployWatched(ctx, { ...w, repeated: true, startedAtMs: Date.now() })
    }
    const startedMachines = await startStoppedMachines(ctx, w.baseline, machines, emitted)
    const gated = first ?? (await watching)
    const deployed = await readDeployed(ctx, w, result, gated)
    const verdict =
      (deployed.release && gated.verdict.health === 'healthy' && notServing(ctx, machines, deployed.release)) || gated
    return { ...deployed, verdict, startedMachines }
  } finally {
    stopWatch.abort()
    interrupt.abort()
    await Promise.allSettled([deploying, watching])
  }
}

/**
 * The release this run made: the one flyctl emitted (FLY_EMIT_RELEASE_JSON), else the one the gate
 * followed, else the newest; its journal entry names it.
 */
async function readDeployed(
  ctx: DeployContext,
  w: Watched,
  result: FlyctlResult,
  verdict: GateResult | undefined,
): Promise<DeployResult> {
  const release =
    releaseFromEmitted(result.stdout, w.before) ??
    readReleases(
      await ctx.flyctl.json(['releases', '--app', ctx.plan.app], ReleaseListSchema, { retry: READING }),
      verdict?.releaseVersion,
    )
  if (result.change && release) result.change.what = w.describe(release.version)
  return {
    command: w.command,
    dryRun: false,
    url: appUrl(ctx.plan, result.stdout),
    release,
    startedAtMs: w.startedAtMs,
  }
}

/** The gate's verdict if it comes within `ms`; undefined otherwise. */
async function settleWithin(watching: Promise<GateResult>, ms: number): Promise<GateResult | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms)
  })
  try {
    return await Promise.race([watching.catch(() => undefined), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The new release must be the one serving: after `fly deploy` exited 0, every app machine runs this
 * release's image and config version. A deploy can exit 0 and leave a machine behind (a blue-green
 * deploy that gives up: superfly/flyctl#2651); the gate judged only the machines that took it.
 */
export function notServing(
  ctx: Pick<DeployContext, 'flyctl' | 'gatewayPort'>,
  machines: readonly Machine[],
  release: ReleaseInfo,
): GateResult | undefined {
  const behind = servingAppMachines(machines).filter(
    (m) =>
      m.config?.metadata?.fly_release_version !== String(release.version) ||
      (release.imageRef !== '' && m.config?.image !== undefined && m.config.image !== release.imageRef),
  )
  const first = behind[0]
  if (!first) return undefined
  const shown = behind
    .map((m) => `${m.id} (release v${m.config?.metadata?.fly_release_version ?? '?'}, image ${m.config?.image ?? '?'})`)
    .join(', ')
  const detail = `\`fly deploy\` exited 0, but ${behind.length === 1 ? 'machine' : 'machines'} ${shown} still ${behind.length === 1 ? 'serves' : 'serve'} an old release, not v${release.version} (${release.imageRef})`
  return unhealthyOutcome({ flyctl: ctx.flyctl, port: ctx.gatewayPort ?? 3000 }, 'not-serving', detail, first.id)
}

/** App machines on a release above `baseline`: the ones that took the deploy. */
function machinesAbove(machines: readonly Machine[], baseline: number): Machine[] {
  return machines.filter((m) => isAppMachine(m) && Number(m.config?.metadata?.fly_release_version) > baseline)
}

/**
 * A failed `fly deploy`. When no machine took the release it is an error with flyctl's message,
 * unless the error was transient: then `releases --json` says whether the deploy reached Fly, and
 * one that never did is repeated once ('repeat'). When machines took it, the release is unhealthy
 * with the gate's cause (or flyctl's), or, after a transient error with a healthy gateway, only
 * flyctl's answer was lost and the deploy stands.
 */
async function failedDeploy(
  ctx: DeployContext,
  w: Watched,
  result: FlyctlResult,
  first: GateResult | undefined,
  watching: Promise<GateResult>,
  machines: Machine[],
): Promise<DeployResult | 'repeat'> {
  const { flyctl } = ctx
  if (result.endedFromOutside && !ctx.signal?.aborted)
    return endedFromOutside(
      ctx,
      w,
      result,
      first ?? (await settleWithin(watching, ctx.explainGraceMs ?? 15_000)),
      machines,
    )
  const flyError = flyctl.redact(result.error ?? '')
  const transient =
    (isTransientText(`${result.error ?? ''}\n${result.stderr}`) || result.exitCode === 126) && !ctx.signal?.aborted
  const error = () =>
    new FlyctlError(flyctl.redact(displayCommand(w.args)), result.exitCode, flyError, flyctl.redact(result.stderr))
  if (machinesAbove(machines, w.baseline).length === 0) {
    if (!transient || w.repeated) throw error()
    return repeatIfNeverReached(ctx, w, error())
  }
  const verdict =
    first ??
    (transient ? await watching.catch(() => undefined) : await settleWithin(watching, ctx.explainGraceMs ?? 15_000))
  if (transient && verdict?.verdict.health === 'healthy') {
    ctx.log.warning(
      `fly deploy failed with a transient error (${flyError.split('\n')[0] ?? ''}), but its release rolled out and the gateway is healthy: only flyctl's answer was lost, so the deploy is not repeated`,
    )
    return {
      ...(await readDeployed(ctx, w, result, verdict)),
      verdict,
      startedMachines: await startStoppedMachines(ctx, w.baseline, machines),
    }
  }
  const explained = verdict?.verdict.health === 'unhealthy' ? verdict : unhealthyFromDeploy(ctx, flyError, verdict)
  return { ...(await readDeployed(ctx, w, result, explained)), verdict: explained }
}

/**
 * `fly deploy` killed by a signal this action did not send, or crashed: say so, with the signal. It
 * is not a verdict on the gateway, so nothing is rolled back (least of all a release the gate found
 * healthy); the user checks the app and runs the workflow again.
 */
function endedFromOutside(
  ctx: DeployContext,
  w: Watched,
  result: FlyctlResult,
  verdict: GateResult | undefined,
  machines: Machine[],
): never {
  const took = machinesAbove(machines, w.baseline)
  const version = verdict?.releaseVersion ?? newestOnMachinesAbove(took, w.baseline)
  const release = version !== undefined ? `release v${version}` : 'the new release'
  const state =
    took.length === 0
      ? 'No machine took a new release.'
      : `${took.length === 1 ? 'Machine' : 'Machines'} ${took.map((m) => m.id).join(', ')} took ${release}` +
        (verdict?.verdict.health === 'healthy'
          ? ', and the health gate had found it healthy, so it stays.'
          : verdict?.verdict.health === 'unhealthy'
            ? `; the health gate found it unhealthy (${causeTitle(verdict.verdict.cause)}), but it is not rolled back after a flyctl that did not finish.`
            : '; the health gate had no verdict yet, and nothing is rolled back.')
  throw new FlyctlError(
    ctx.flyctl.redact(displayCommand(w.args)),
    result.exitCode,
    result.endedFromOutside ?? 'ended from outside',
    ctx.flyctl.redact(result.stderr),
    `${endedFromOutsideNote(result.endedFromOutside ?? '')}. ${state} Check \`fly status --app ${ctx.plan.app}\` and \`fly releases --app ${ctx.plan.app}\`, then run the workflow again`,
  )
}

/** A transient failure before any machine took the release: repeat only a deploy that never reached Fly. */
async function repeatIfNeverReached(ctx: DeployContext, w: Watched, err: FlyctlError): Promise<'repeat'> {
  ctx.log.warning(
    `fly deploy failed with a transient error (${err.flyError.split('\n')[0] ?? ''}); checking \`fly releases\` before anything is repeated`,
  )
  const releases = await ctx.flyctl.json(['releases', '--app', ctx.plan.app], ReleaseListSchema, { retry: READING })
  const verdict = judgeInterruptedDeploy(releases, w.baseline)
  if (verdict.action !== 'repeat') {
    throw new Error(
      `${err.message}. Fly recorded release v${verdict.version}${verdict.action === 'failed' ? ` as ${verdict.status}` : ''} but no machine took it, so it was not repeated; see the output above`,
      { cause: err },
    )
  }
  ctx.log.warning(
    `no release newer than v${w.baseline} was recorded: the deploy never reached Fly, so it is run once more`,
  )
  return 'repeat'
}

/** flyctl's own words for an unhealthy rollout, and what they mean (deploy/machines_deploymachinesapp.go, leasable_machine.go). */
const DEPLOY_FAILURES: Array<{ test: RegExp; cause: Cause }> = [
  { test: /appears to be crashing/, cause: 'machine-exited' },
  { test: /waiting for health checks to pass/, cause: 'unreachable' },
  { test: /failed to start|entered "failed"|waiting for machine's state/, cause: 'start-failed' },
]

function unhealthyFromDeploy(ctx: DeployContext, flyError: string, seen: GateResult | undefined): GateResult {
  const machineId = /(?:machine|for) ([0-9a-f]{14})\b/.exec(flyError)?.[1]
  const cause = DEPLOY_FAILURES.find((f) => f.test.test(flyError))?.cause ?? 'start-failed'
  const logged =
    seen?.verdict.health === 'healthy'
      ? ' although the gateway logged ready (Fly checks the port of [http_service] and [checks])'
      : ''
  return unhealthyOutcome(
    { flyctl: ctx.flyctl, port: ctx.gatewayPort ?? 3000 },
    cause,
    `\`fly deploy\` failed: ${flyError}${logged}`,
    machineId,
  )
}

/**
 * flyctl leaves a machine that was stopped or suspended before the deploy stopped (it replaces
 * its config only: deploy/machines_launchinput.go shouldSkipLaunch). Every app machine that took
 * the release should run, so start those.
 */
async function startStoppedMachines(
  ctx: DeployContext,
  baseline: number,
  read?: Machine[],
  own?: number,
): Promise<string[]> {
  const { flyctl, plan } = ctx
  const machines =
    read ?? (await flyctl.json(['machines', 'list', '--app', plan.app], MachineListSchema, { retry: READING }))
  // Only this deploy's release: a machine on another deploy's (rolling once our leases were given back) is that deploy's to start.
  const ours = machinesAbove(machines, baseline).filter(
    (m) => own === undefined || Number(m.config?.metadata?.fly_release_version) === own,
  )
  const stopped = ours.filter((m) => m.state === 'stopped' || m.state === 'suspended')
  for (const m of stopped) {
    ctx.log.info(`machine ${m.id} took the release but was left ${m.state} by \`fly deploy\`; starting it`)
    await flyctl.run(['machine', 'start', m.id, '--app', plan.app], {
      echo: true,
      change: `started machine ${m.id}, which the deploy left ${m.state}`,
      retry: { safe: 'idempotent', why: 'starting a started machine changes nothing' },
    })
  }
  return stopped.map((m) => m.id)
}

/**
 * `fly deploy` is not repeated blindly: a transient error (a lost connection, a 5xx) may come
 * after Fly recorded the release and started rolling it out, and a second deploy would then roll
 * out twice or fight the first. `releases --json` says what happened; see checkInterruptedDeploy.
 */
const DEPLOY_RETRY = {
  safe: 'once',
  why: 'a deploy that failed with a transient error is checked with `fly releases --json` before it is repeated',
} as const

interface Waiter {
  timeoutMs: number
  pollMs: number
  log: (message: string) => void
  signal?: AbortSignal
}

/**
 * Decide after a transient `fly deploy` failure, from the releases Fly recorded:
 * - a new release that completed: the deploy went through and only its answer was lost;
 * - a new release still rolling out: wait for it (bounded), then as above;
 * - a new release that failed: the deploy failed, report it;
 * - no new release: the deploy never reached Fly, so one repeat is safe.
 */
export type InterruptedDeploy =
  { action: 'done'; version: number } | { action: 'failed'; version: number; status: string } | { action: 'repeat' }

export function judgeInterruptedDeploy(releases: readonly Release[], baseline: number): InterruptedDeploy {
  const last = newest(releases)
  if (!last || last.Version <= baseline) return { action: 'repeat' }
  if (releaseFailed(last)) return { action: 'failed', version: last.Version, status: last.Status }
  return { action: 'done', version: last.Version }
}

async function checkInterruptedDeploy(
  ctx: DeployContext,
  args: string[],
  title: string,
  err: FlyctlError,
  baseline: number,
  waiter: Waiter,
): Promise<{ stdout: string }> {
  const { flyctl, plan, log } = ctx
  log.warning(
    `fly deploy failed with a transient error (${flyctl.redact(err.flyError.split('\n')[0] ?? '')}); checking \`fly releases\` before anything is repeated`,
  )
  const after = await waitForReleaseInProgress(flyctl, plan.app, waiter)
  const verdict = judgeInterruptedDeploy(after.releases, baseline)
  if (verdict.action === 'done') {
    log.warning(
      `release v${verdict.version} of ${plan.app} was recorded and rolled out; only flyctl's answer was lost, so the deploy is not repeated`,
    )
    return { stdout: '' }
  }
  if (verdict.action === 'failed') {
    throw new Error(
      `${err.message}. Fly recorded release v${verdict.version} as ${verdict.status}: the deploy ran and failed, so it was not repeated; see its output above`,
    )
  }
  log.warning(`no release newer than v${baseline} was recorded: the deploy never reached Fly, so it is run once more`)
  return core.group(`${title} (repeated)`, () => flyctl.run(args, { echo: true, retry: DEPLOY_RETRY }))
}

/**
 * Wait while the app's newest release is still rolling out (another run's deploy), polling
 * `releases --json` up to the bound; past it, a clear error. Returns the releases last read.
 */
export async function waitForReleaseInProgress(
  flyctl: Pick<Flyctl, 'json'>,
  app: string,
  w: Waiter,
): Promise<{ releases: Release[]; newest?: Release }> {
  const started = Date.now()
  let announced = false
  for (;;) {
    const releases = await flyctl.json(['releases', '--app', app], ReleaseListSchema, {
      retry: READING,
      signal: w.signal,
    })
    const latest = newest(releases)
    if (!latest || !inProgress(latest)) {
      if (announced)
        w.log(
          `release v${latest?.Version ?? '?'} of ${app} is no longer in progress (${latest?.Status || 'done'}); continuing`,
        )
      return { releases, newest: latest }
    }
    const waited = Date.now() - started
    if (waited >= w.timeoutMs) {
      throw new Error(
        `another deploy of ${app} is in progress (release v${latest.Version}, status ${latest.Status || 'running'}) and did not finish within ` +
          `${Math.round(w.timeoutMs / 1000)} s (\`health-timeout\`). Two runs deploy the same app at once: give the workflows one ` +
          '`concurrency` group per app (see examples/), or raise `health-timeout`, then re-run',
      )
    }
    if (!announced) {
      w.log(
        `release v${latest.Version} of ${app} is still in progress (another deploy); waiting up to ${Math.round(w.timeoutMs / 1000)} s for it to finish`,
      )
      announced = true
    }
    if (await sleep(Math.min(w.pollMs, Math.max(0, w.timeoutMs - waited)), w.signal)) throw w.signal?.reason
  }
}
