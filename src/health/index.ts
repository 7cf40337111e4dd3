/**
 * The health stage (docs/CONTRACT.md, "Verdicts"): gate success on log-verified gateway health, repair a stale lock once,
 * roll back an unhealthy release. The one entry the pipeline calls is runHealthGate.
 *
 * Each gate (the release, the release after a lock repair, the rolled-back release) gets the full
 * `health-timeout`: each follows a fresh start of the gateway.
 */
import type { Plan } from '../inputs/plan.js'
import {
  causeTitle,
  gateRelease,
  probeHealthUrl,
  type FlyctlRunner,
  type GateOptions,
  type GateResult,
  unhealthyMessage,
} from './gate.js'
import { repairStaleLock } from './lock-repair.js'
import { rollBack, supersededMessage } from './rollback.js'
import type { ReleaseRef } from '../fly/releases.js'
import type { RolloutFeed } from './rollout-feed.js'
import { fixFor, type Cause, type HealthyVerdict, type UnhealthyVerdict } from './verdict.js'
import { hasStateLocalLocks } from '../config/gateway-release.js'

export type { ReleaseRef } from '../fly/releases.js'
export type { Cause } from './verdict.js'
export type { FlyctlRunner, GateResult } from './gate.js'

export interface HealthContext {
  flyctl: FlyctlRunner
  plan: Pick<Plan, 'healthTimeoutSec' | 'healthChannels' | 'healthUrl' | 'fixStaleLock' | 'rollback'>
  app: string
  /** Effective values after render (input, config file or the guide's default). */
  port: number
  bind: string
  stateDir: string
  /** The gateway release the deploy ships (`2026.9.6`), when known: it decides whether a lock may be removed. */
  gatewayRelease?: string
  /** The release the deploy produced. */
  release: ReleaseRef
  /** Runner clock when `fly deploy` began; lines of earlier releases are ignored. */
  deployStartedAtMs?: number
  /**
   * The verdict on `release` already reached by the gate that ran alongside `fly deploy`
   * (watchRollout); without it the release is gated here.
   */
  first?: GateResult
  /**
   * Deploy this image with the run's config (the deploy stage's `fly deploy --image`, gated the
   * same way as it rolls out); returns the new release and its verdict.
   */
  redeploy: (imageRef: string) => Promise<ReleaseRef & { startedAtMs?: number; verdict?: GateResult }>
  log?: (message: string) => void
  signal?: AbortSignal
  /** Test and benchmark knobs. */
  tuning?: Partial<
    Pick<GateOptions, 'pollIntervalMs' | 'lingerMs' | 'bindWarningGraceMs' | 'exitGraceMs' | 'resumeDelayMs'>
  > & {
    fetch?: typeof fetch
    sshRetryDelayMs?: number
    /** Least time the health-url probe may take, whatever is left of the timeout (default 30 s). */
    probeMinMs?: number
    probeIntervalMs?: number
  }
}

/**
 * The health stage's result: the gate's result on this run's release as it came (the engine's
 * Verdict and the gate's facts), and beside it what the stage did about it (lock repair,
 * rollback) and what it says.
 */
export interface HealthOutcome {
  /** The verdict on this run's release (the first gate's, or the one after a lock repair). */
  judged: GateResult
  /** The error for the step (unhealthy, superseded); redacted. */
  message?: string
  rolledBack: boolean
  /**
   * The release the app's machines run after the stage: the new one when healthy; after a rollback,
   * the rollback's release, healthy or not (docs/CONTRACT.md, "Outputs": what serves, not what failed).
   */
  servingRelease?: ReleaseRef
  lockRepaired: boolean
  /** Sentences for the job summary, in order. */
  summary: string[]
  /** Another deploy's release that followed this run's before its verdict: the run fails, nothing is rolled back. */
  superseded?: number
}

export async function runHealthGate(ctx: HealthContext): Promise<HealthOutcome> {
  const log = ctx.log ?? (() => {})
  const summary: string[] = []
  const redact = (text: string) => ctx.flyctl.redact(text)

  const gate = (release: ReleaseRef, notBeforeMs: number | undefined): Promise<GateResult> =>
    gateWithProbe(ctx, release.version, notBeforeMs)

  // A verdict on another release (another run's, rolled while this one waited) is not this run's.
  const judged = ctx.first?.releaseVersion
  const first =
    ctx.first && (judged === undefined || judged === ctx.release.version)
      ? ctx.first
      : await gate(ctx.release, ctx.deployStartedAtMs)
  const { result, lockRepaired } = await repairStaleLockOnce(ctx, first, summary, gate)
  const verdict = result.verdict
  if (verdict.health === 'healthy') return healthyOutcome(ctx, result, verdict, lockRepaired, summary, log)

  summary.push(
    `Release v${ctx.release.version} is unhealthy: ${causeTitle(verdict.cause)}${verdict.machineId ? ` on ${verdict.machineId}` : ''}.`,
  )
  const failure: HealthOutcome = {
    judged: result,
    message: unhealthyMessage({ ...result, verdict }, redact),
    rolledBack: false,
    lockRepaired,
    summary,
  }
  if (!ctx.plan.rollback) {
    summary.push('Rollback is off (rollback: false); the unhealthy release stays deployed.')
    return failure
  }

  try {
    let rollbackVerdict: GateResult | undefined
    const redeploy = async (imageRef: string) => {
      const deployed = await ctx.redeploy(imageRef)
      rollbackVerdict = deployed.verdict
      return deployed
    }
    const rollback = await rollBack({
      flyctl: ctx.flyctl,
      app: ctx.app,
      failed: ctx.release,
      redeploy,
      log,
      signal: ctx.signal,
    })
    // The releases the rollback read show another deploy's release above ours: not ours to roll back.
    if (!rollback.rolledBack && rollback.newer !== undefined) return supersededOutcome(ctx, rollback.newer, result)
    if (!rollback.rolledBack) {
      summary.push(`Not rolled back: ${rollback.reason}.`)
      failure.message = `${failure.message}\nNot rolled back: ${rollback.reason}.`
      return failure
    }
    failure.rolledBack = true
    // The machines now run the rollback's release, healthy or not: the failed release is on none of
    // them, so the outputs must not name it (the gateway-release output already names the rollback's).
    failure.servingRelease = rollback.deployed
    const after = rollbackVerdict ?? (await gate(rollback.deployed, rollback.startedAtMs))
    const what = `release v${rollback.deployed.version} (the image of v${rollback.from.Version}, ${rollback.deployed.imageRef})`
    const afterVerdict = after.verdict
    if (afterVerdict.health === 'healthy') {
      summary.push(`Rolled back: ${what} is now serving and healthy.`)
      failure.message = `${failure.message}\nRolled back: ${what} is now serving.`
    } else {
      summary.push(`Rolled back to ${what}, but it is unhealthy too: ${causeTitle(afterVerdict.cause)}.`)
      failure.message = `${failure.message}\nRolled back to ${what}, but it is unhealthy too:\n${unhealthyMessage({ ...after, verdict: afterVerdict }, redact)}`
    }
  } catch (err) {
    const text = redact(`The rollback failed: ${(err as Error).message}`)
    summary.push(text)
    failure.message = `${failure.message}\n${text}`
  }
  return failure
}

/** A healthy release: the gateway's own lines the verdict rests on go to the log and the summary. */
function healthyOutcome(
  ctx: HealthContext,
  judged: GateResult,
  result: HealthyVerdict,
  lockRepaired: boolean,
  summary: string[],
  log: (line: string) => void,
): HealthOutcome {
  log(`health: the gateway's own lines this verdict rests on:`)
  for (const line of result.lines ?? []) log(`  ${line}`)
  summary.push(
    `Release v${ctx.release.version} is healthy${lockRepaired ? ' after the lock repair' : ''}: ${result.evidence.join('; ')}.`,
  )
  return { judged, rolledBack: false, lockRepaired, servingRelease: ctx.release, summary }
}

/**
 * Another deploy's release followed this run's before its verdict: the run fails, reporting only
 * its own release and rolling nothing back (another run now owns the app).
 */
export function supersededOutcome(
  ctx: Pick<HealthContext, 'flyctl' | 'app' | 'release' | 'log'>,
  newer: number,
  judged: GateResult,
): HealthOutcome {
  const own = ctx.release.version
  const verdict = judged.verdict
  const message = ctx.flyctl.redact(
    supersededMessage(
      ctx.app,
      own,
      newer,
      verdict.health === 'healthy' ? 'healthy' : `unhealthy: ${causeTitle(verdict.cause)}`,
    ),
  )
  ;(ctx.log ?? (() => {}))(`health: ${message}`)
  return {
    judged,
    message,
    rolledBack: false,
    lockRepaired: false,
    superseded: newer,
    summary: [`Release v${own} was superseded by release v${newer} from another deploy; nothing was rolled back.`],
  }
}

/**
 * A held gateway lock with `fix-stale-lock`: remove the stale lock files, restart the machine
 * once, and gate again from that restart (remediate.ts).
 */
async function repairStaleLockOnce(
  ctx: HealthContext,
  result: GateResult,
  summary: string[],
  gate: (release: ReleaseRef, notBeforeMs: number | undefined) => Promise<GateResult>,
): Promise<{ result: GateResult; lockRepaired: boolean }> {
  const verdict = result.verdict
  if (verdict.health !== 'unhealthy' || verdict.cause !== 'gateway-lock' || !verdict.machineId)
    return { result, lockRepaired: false }
  const machineId = verdict.machineId
  if (hasStateLocalLocks(ctx.gatewayRelease))
    return { result: liveOwnerVerdict(ctx, { ...result, verdict }, summary), lockRepaired: false }
  if (!ctx.plan.fixStaleLock) return { result, lockRepaired: false }
  summary.push(
    `Release v${ctx.release.version}: ${causeTitle(verdict.cause)} on ${machineId}; removing the stale lock and restarting it once.`,
  )
  try {
    const repair = await repairStaleLock({
      flyctl: ctx.flyctl,
      app: ctx.app,
      machineId,
      stateDir: ctx.stateDir,
      retryDelayMs: ctx.tuning?.sshRetryDelayMs,
      log: ctx.log ?? (() => {}),
      signal: ctx.signal,
    })
    summary.push(
      repair.removed.length > 0
        ? `Removed ${repair.removed.join(', ')} and restarted ${machineId}.`
        : `No lock file was left on ${machineId}; restarted it.`,
    )
    return { result: await gate(ctx.release, repair.restartedAtMs), lockRepaired: true }
  } catch (err) {
    summary.push(ctx.flyctl.redact(`The lock repair failed: ${(err as Error).message}`))
    return { result, lockRepaired: false }
  }
}

/**
 * A held lock on a release with the state-local lock tree: it reclaims a dead owner's lock at start
 * by itself, so an "already running" that outlived the deploy's start has a live owner. Nothing is
 * deleted; the verdict names the owner and the guide's check (docs/install/fly.md "Gateway lock issues").
 */
function liveOwnerVerdict(
  ctx: HealthContext,
  result: GateResult & { verdict: UnhealthyVerdict },
  summary: string[],
): GateResult {
  const pid = /already running \(pid (\d+)\)|\bpid[ =:]+(\d+)/i.exec(
    unhealthyMessage(result, (t) => ctx.flyctl.redact(t)),
  )
  const owner = pid ? `the process with pid ${pid[1] ?? pid[2]} recorded in the lock` : 'the owner recorded in the lock'
  const dir = `${ctx.stateDir.replace(/\/+$/, '')}/tmp/openclaw-<uid>`
  const fix =
    `gateway release ${ctx.gatewayRelease ?? ''} keeps its lock in ${dir} and reclaims a dead owner's lock by itself, so ${owner} is alive: another gateway process uses this volume. ` +
    `Check with \`fly status -a ${ctx.app}\` and \`fly logs -a ${ctx.app}\` that no other machine or gateway process uses the volume, and stop it. ` +
    'The lock tree was not deleted (the guide: do not delete it while an owner may still be running); fix-stale-lock does not apply to this release.'
  summary.push(
    `Release v${ctx.release.version}: ${causeTitle(result.verdict.cause)} on ${result.verdict.machineId} by ${owner}; gateway release ${ctx.gatewayRelease ?? ''} reclaims a dead owner's lock itself, so nothing was deleted.`,
  )
  return { ...result, verdict: { ...result.verdict, fix } }
}

/** What the rollout watcher needs: the gate's context without a release yet. */
export type WatchContext = Omit<HealthContext, 'release' | 'first' | 'redeploy' | 'deployStartedAtMs'>

/**
 * The gate that runs alongside `fly deploy` (docs/CONTRACT.md, "Deploy and gate are one stage"): it follows
 * the machines of the first release above `baselineVersion` from the moment the deploy starts.
 */
export function watchRollout(
  ctx: WatchContext,
  baselineVersion: number,
  notBeforeMs: number,
  signal: AbortSignal,
  rollout?: RolloutFeed,
): Promise<GateResult> {
  return gateWithProbe({ ...ctx, signal }, { after: baselineVersion }, notBeforeMs, rollout)
}

/** An unhealthy outcome from a cause, detail and the guide's fix (a failed deploy the gate could not explain). */
export function unhealthyOutcome(
  ctx: Pick<WatchContext, 'flyctl' | 'port'>,
  cause: Cause,
  detail: string,
  machineId?: string,
): GateResult {
  const verdict: UnhealthyVerdict = {
    health: 'unhealthy',
    cause,
    atMs: Date.now(),
    machineId,
    detail,
    fix: fixFor(cause, { port: ctx.port, machineId }),
    lastLines: [],
  }
  return { verdict, machineIds: [], lastLines: [], machineStates: {} }
}

async function gateWithProbe(
  ctx: WatchContext,
  release: number | { after: number },
  notBeforeMs: number | undefined,
  rollout?: RolloutFeed,
): Promise<GateResult> {
  const timeoutMs = ctx.plan.healthTimeoutSec * 1000
  const started = Date.now()
  const result: GateResult = await gateRelease({
    flyctl: ctx.flyctl,
    app: ctx.app,
    releaseVersion: release,
    port: ctx.port,
    bind: ctx.bind,
    channels: ctx.plan.healthChannels,
    timeoutMs,
    notBeforeMs,
    signal: ctx.signal,
    log: ctx.log,
    pollIntervalMs: ctx.tuning?.pollIntervalMs,
    lingerMs: ctx.tuning?.lingerMs,
    bindWarningGraceMs: ctx.tuning?.bindWarningGraceMs,
    exitGraceMs: ctx.tuning?.exitGraceMs,
    resumeDelayMs: ctx.tuning?.resumeDelayMs,
    rollout,
  })
  const { verdict } = result
  if (verdict.health === 'unhealthy' || !ctx.plan.healthUrl) return result

  // The probe gets what is left of the timeout, and at least 30 s: the proxy may lag the machine.
  const deadline = Math.max(started + timeoutMs, Date.now() + (ctx.tuning?.probeMinMs ?? 30_000))
  const probe = await probeHealthUrl(ctx.plan.healthUrl, deadline, {
    fetch: ctx.tuning?.fetch,
    signal: ctx.signal,
    intervalMs: ctx.tuning?.probeIntervalMs,
  })
  if (probe.ok) return { ...result, verdict: { ...verdict, evidence: [...verdict.evidence, probe.detail] } }
  const failed: UnhealthyVerdict = {
    health: 'unhealthy',
    cause: 'health-url',
    atMs: Date.now(),
    detail: `the gateway logged ready, but ${ctx.flyctl.redact(probe.detail)}`,
    fix: fixFor('health-url', { port: ctx.port }),
    lastLines: [],
  }
  return { ...result, verdict: failed, lastLines: [] }
}
