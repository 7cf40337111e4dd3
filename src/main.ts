import * as core from '@actions/core'
import { appExistsOnFly, ensure } from './ensure.js'
import { deploy, redeploy, type DeployContext } from './deploy.js'
import { SecretListSchema, MachineListSchema, type SecretEntry } from './fly-json.js'
import { Flyctl, READING } from './flyctl.js'
import { harden } from './harden.js'
import { runHealthGate, watchRollout, type WatchContext } from './health/index.js'
import { describePlan, readPlan } from './inputs.js'
import { installFlyctl } from './install.js'
import { PINNED_FLYCTL_VERSION } from './install-core.js'
import { reconcileOverrides } from './overrides.js'
import type { Plan } from './plan.js'
import { cleanupPreviews, runPreview } from './preview.js'
import { Redactor } from './redact.js'
import { effectiveSettings, writeRenderedConfig } from './render.js'
import { machineRows, newRunRecord, runStage, skipStage, writeReport, type RunRecord, type StageContext } from './report.js'
import { syncSecrets } from './secrets.js'
import { reportFindings, validateFlyConfig } from './validate.js'
import { gatewayReleaseOf, preflightFindings, readRegions } from './preflight.js'
import { describeRelease } from './release.js'

/**
 * Runs the stages of SPEC.md in order. Any error ends the run in one setFailed with a message a
 * user can act on (secrets scrubbed); the outputs and the job summary are written in every case,
 * including a cancelled job, with what had already changed on Fly.
 */
export async function run(): Promise<void> {
  const redactor = new Redactor()
  const cancel = new AbortController()
  let record: RunRecord | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    core.warning(`Received ${signal}: ending the running flyctl call and stopping.`)
    cancel.abort(new CancelledError(signal))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    const plan = readPlan(redactor, PINNED_FLYCTL_VERSION)
    const run = newRunRecord(plan)
    record = run
    run.secretsDropped = plan.secretsDropped ?? []
    for (const d of run.secretsDropped) core.info(`secrets-json: ${d.name} not synced: ${d.why}`)
    const mode = { plan, record: run, redactor, signal: cancel.signal }
    if (plan.mode === 'cleanup-previews') await cleanupPreviews(mode)
    else if (plan.mode === 'preview') await runPreview(mode, (preview) => runStages(preview, run, redactor, cancel.signal))
    else await runStages(plan, run, redactor, cancel.signal)
  } catch (err) {
    const cancelled = cancel.signal.aborted
    const message = redactor.redact(errorMessage(err, cancelled ? cancel.signal.reason : undefined))
    if (record) record.error = message
    // An input error ends the run before its record exists: the verdict is still `skipped` (SPEC.md).
    else core.setOutput('health', 'skipped')
    core.setFailed(message)
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    if (record) await writeReport(record, (text) => redactor.redact(text))
  }
}

class CancelledError extends Error {
  constructor(signal: NodeJS.Signals) {
    super(`the job was cancelled (${signal})`)
    this.name = 'CancelledError'
  }
}

function errorMessage(err: unknown, cancelled: unknown): string {
  if (cancelled instanceof CancelledError) return `${cancelled.message}; the run stopped early (see the summary for what had changed on Fly)`
  if (err instanceof Error) return err.message
  return String(err)
}

async function runStages(plan: Plan, record: RunRecord, redactor: Redactor, signal: AbortSignal): Promise<void> {
  core.startGroup('Plan')
  core.info(JSON.stringify(describePlan(plan), null, 2))
  core.endGroup()
  if (plan.dryRun) {
    record.dryRunPlan = { create: [], secretsAdd: [], secretsUpdate: [], secretsPrune: [], deployCommand: '', overrides: [], ipChanges: [] }
  }
  const checkCancel = (): void => signal.throwIfAborted()

  // 1. install
  const installed = await runStage(record, 'install', () => installFlyctl({ version: plan.flyctlVersion, mirror: plan.flyctlMirror, log: core.info, configDir: plan.flyctlConfigDir }), (r) =>
    r.fromCache ? `flyctl ${r.version} from the tool cache` : `flyctl ${r.version} downloaded`,
  )
  record.flyctlVersion = installed.version
  core.setOutput('flyctl-version', installed.version)
  const flyctl = new Flyctl({ binary: installed.binary, token: plan.apiToken, redactor, cwd: plan.workingDirectory, log: core.info, signal, configDir: plan.flyctlConfigDir })
  const ctx: StageContext = { flyctl, plan, log: { info: core.info, warning: core.warning } }
  checkCancel()

  // 2. render
  const rendered = await runStage(record, 'render', () => writeRenderedConfig(plan), (r) =>
    r.overridden.length ? `${r.overridden.length} key(s) set from inputs` : undefined,
  )
  record.flyConfig = rendered.path
  const settings = effectiveSettings(rendered.config, rendered.gateway?.parsed)

  // 3. validate: the guide's rules, with the app's own secret names for the token rule, and the
  // preflight (region, size, Dockerfile) with Fly's region list: reading calls only, all problems in one report.
  const gatewayRelease = gatewayReleaseOf(rendered, plan, process.env.GITHUB_WORKSPACE)
  record.gatewayRelease = gatewayRelease ? `${gatewayRelease.version} (from ${gatewayRelease.source})` : 'unknown'
  core.info(`Gateway release: ${describeRelease(gatewayRelease)}`)
  const existing = await runStage(record, 'validate', async () => {
    const survey = await surveyApp(flyctl, plan.app)
    const regions = await readRegions(flyctl, core.warning)
    const pruned = plan.pruneSecrets
    const known = new Set([...plan.secrets.keys(), ...(pruned ? [] : survey.secrets.map((s) => s.name))])
    const preflight = preflightFindings(rendered, plan, { ...(regions ? { regions } : {}), workspace: process.env.GITHUB_WORKSPACE })
    reportFindings([...preflight, ...validateFlyConfig(rendered, plan, known, gatewayRelease ? { release: gatewayRelease } : {})])
    return survey
  })
  checkCancel()

  // 4. ensure app + volume
  const region = settings.region ?? plan.region ?? 'iad'
  const ensured = await runStage(record, 'ensure', () => ensure(ctx, { region, volume: settings.volume, appExists: existing.appExists }), (r) =>
    r.created.length ? `${plan.dryRun ? 'would create' : 'created'} ${r.created.join(', ')}` : 'app and volume exist',
  )
  if (record.dryRunPlan) record.dryRunPlan.create = ensured.created
  if (!plan.dryRun && ensured.created.length) record.changed.push(...ensured.created.map((c) => `created ${c}`))
  checkCancel()

  // 5. secrets, staged: the deploy applies them in its one rollout.
  const secrets = await runStage(
    record,
    'secrets',
    () => syncSecrets(ctx, { appExists: ensured.appExists, gatewayAuthRequired: false, existing: existing.secrets }),
    (r) => `${r.synced.length} ${plan.dryRun ? 'would be synced' : 'synced'}${r.prune.length ? `, ${r.prune.length} ${plan.dryRun ? 'would be pruned' : 'pruned'}` : ''}`,
  )
  record.secretsSynced = secrets.synced
  record.secretsPruned = secrets.prune
  if (record.dryRunPlan) {
    record.dryRunPlan.secretsAdd = secrets.add
    record.dryRunPlan.secretsUpdate = secrets.update
    record.dryRunPlan.secretsPrune = secrets.prune
  } else {
    if (secrets.synced.length) record.changed.push(`staged secrets ${secrets.synced.join(', ')}`)
    if (secrets.prune.length) record.changed.push(`staged removal of secrets ${secrets.prune.join(', ')}`)
  }
  checkCancel()

  // 6. deploy, gated while it rolls out (SPEC "Deploy and gate are one stage").
  const watchCtx: WatchContext = {
    flyctl,
    plan,
    app: plan.app,
    port: settings.port,
    bind: settings.bind,
    stateDir: settings.stateDir ?? settings.mountDestination ?? '/data',
    log: core.info,
  }
  const gated = plan.healthTimeoutSec > 0
  const deployCtx: DeployContext = {
    ...ctx,
    signal,
    rendered: { path: rendered.path, dockerfileArg: rendered.dockerfileArg },
    gatewayPort: settings.port,
    ...(gated ? { watch: (baseline: number, startedAtMs: number, stop: AbortSignal) => watchRollout({ ...watchCtx, signal }, baseline, startedAtMs, stop) } : {}),
  }
  const deployed = await runStage(record, 'deploy', () => deploy(deployCtx), (r) =>
    r.release ? `release v${r.release.version}${r.interrupted ? ' (unhealthy: flyctl interrupted)' : ''}${r.startedMachines?.length ? `; started ${r.startedMachines.join(', ')}` : ''}` : r.command,
  )
  const deployStartedAtMs = deployed.startedAtMs ?? Date.now()
  record.url = deployed.url
  if (record.dryRunPlan) record.dryRunPlan.deployCommand = deployed.command
  if (deployed.release) {
    record.release = deployed.release.version
    record.image = deployed.release.imageRef
    record.changed.push(`deployed release v${deployed.release.version}`)
  }
  if (deployed.startedMachines?.length) record.changed.push(`started machine(s) ${deployed.startedMachines.join(', ')} that the deploy left stopped`)
  const unhealthyAlready = deployed.verdict?.health === 'unhealthy'

  // 7. overrides: only a drifted machine is updated. An unhealthy release goes straight to repair or rollback.
  const overrides = unhealthyAlready
    ? (skipStage(record, 'overrides', 'the release is unhealthy'), { wanted: [], applied: [] })
    : await runStage(record, 'overrides', () => reconcileOverrides(ctx), (r) =>
        r.applied.length ? `${r.applied.length} machine(s) updated` : r.wanted.length ? 'no drift' : 'none set',
      )
  record.overridesWanted = overrides.wanted
  record.overrides = overrides.applied.map((d) => ({ machineId: d.machineId, command: d.command?.join(' '), memoryMb: d.memoryMb }))
  if (record.dryRunPlan) record.dryRunPlan.overrides = overrides.wanted
  if (overrides.applied.length) record.changed.push(`updated machine(s) ${overrides.applied.map((o) => o.machineId).join(', ')}`)
  checkCancel()

  // 8. harden a private deployment's IPs.
  if (plan.private) {
    const hardened = await runStage(record, 'harden', () => harden(ctx, { appExists: ensured.appExists }), (r) => `${r.changes.length} IP change(s)`)
    record.ipChanges = hardened.changes
    if (record.dryRunPlan) record.dryRunPlan.ipChanges = hardened.changes.map((c) => `${c.action} ${c.type} ${c.address}`)
    else if (hardened.changes.length) record.changed.push(...hardened.changes.map((c) => `${c.action} ${c.type} ${c.address}`))
  } else {
    skipStage(record, 'harden', 'public deployment')
  }

  if (plan.dryRun) {
    skipStage(record, 'health', 'dry run: nothing was deployed')
    record.health = { verdict: 'skipped', message: 'dry run' }
    core.info('Dry run: the plan is in the job summary; nothing was changed on Fly.')
    return
  }
  checkCancel()

  // 9. gate on the gateway's own logs; stale-lock repair and rollback inside. 10. read what serves now.
  const release = deployed.release
  if (!release) {
    // Never report success for what could not be verified.
    throw new Error(`fly deploy finished, but \`flyctl releases --app ${plan.app} --json\` lists no release, so the gateway cannot be verified; check \`fly releases -a ${plan.app}\``)
  }
  await runStage(
    record,
    'health',
    async () => {
      const outcome = await runHealthGate({
        flyctl,
        plan,
        app: plan.app,
        port: settings.port,
        bind: settings.bind,
        stateDir: settings.stateDir ?? settings.mountDestination ?? '/data',
        release: { version: release.version, imageRef: release.imageRef },
        deployStartedAtMs,
        // A machine override restarts machines: their new boot is gated again, not the deploy's.
        first: overrides.applied.length ? undefined : deployed.verdict,
        redeploy: async (imageRef) => {
          const again = await redeploy(deployCtx, imageRef)
          if (!again.release) throw new Error(`the rollback deploy of ${imageRef} produced no release`)
          record.changed.push(`rolled back: deployed release v${again.release.version} with ${imageRef}`)
          return { version: again.release.version, imageRef: again.release.imageRef, startedAtMs: again.startedAtMs, verdict: again.verdict }
        },
        log: core.info,
        signal,
      })
      // The summary's table gets the short account; the step's error carries the last log lines.
      record.health = { verdict: outcome.health, message: outcome.summary.at(-1) }
      record.healthNotes = outcome.summary
      record.healthEvidence = outcome.evidenceLines
      record.rolledBack = outcome.rolledBack
      // SPEC, Outputs: after a rollback, release-version, image and machine-ids describe what serves.
      if (outcome.rolledBack && outcome.servingRelease) {
        record.servingRelease = outcome.servingRelease.version
        record.image = outcome.servingRelease.imageRef
      }
      record.machines = machineRows(await flyctl.json(['machines', 'list', '--app', plan.app], MachineListSchema, { retry: READING }))
      if (outcome.health === 'unhealthy') throw new Error(outcome.message ?? 'the gateway did not become healthy')
      return outcome
    },
    (o) => (o.lockRepaired ? `${o.health} after a stale-lock repair` : o.health),
  )
}

interface AppSurvey {
  appExists: boolean
  secrets: SecretEntry[]
}

/** What the app already has, read once: whether it exists, and its secret names (never values). */
async function surveyApp(flyctl: Flyctl, app: string): Promise<AppSurvey> {
  if (!(await appExistsOnFly(flyctl, app))) return { appExists: false, secrets: [] }
  const secrets = await flyctl.json(['secrets', 'list', '--app', app], SecretListSchema, { retry: READING })
  return { appExists: true, secrets }
}
