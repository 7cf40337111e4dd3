import * as core from '@actions/core'
import { Flyctl } from './fly/flyctl.js'
import { describePlan, readPlan } from './inputs/parse-inputs.js'
import { installFlyctl } from './install/install-flyctl.js'
import { PINNED_FLYCTL_VERSION } from './install/release-assets.js'
import type { Plan } from './inputs/plan.js'
import * as stage from './run/stage-list.js'
import type { Pipeline, RunDeps } from './run/stage-list.js'
import { cleanupPreviews, runPreview } from './preview/preview.js'
import { Redactor } from './shared/redact.js'
import { newRunRecord } from './run/report.js'
import { StageRunner } from './run/stage-runner.js'
import { info } from './shared/runner-output.js'
import { removeRunFiles } from './run/run-dir.js'
import { fingerprintStage, leftOut, servingHealthStage } from './run/unchanged.js'

/**
 * The real world: flyctl from the tool cache, run as a process, the runner's environment, and the
 * registries reached with the global fetch (for the digests of FROM tags).
 */
export const defaultDeps: RunDeps = {
  install: installFlyctl,
  flyctl: (options) => new Flyctl(options),
  env: process.env,
  registry: { fetch: (input, init) => fetch(input, init) },
}

/**
 * Runs the stages of docs/CONTRACT.md in order. Any error ends the run in one setFailed with a message a
 * user can act on (secrets scrubbed); the outputs and the job summary are written in every case,
 * an input error and a cancelled job included, with what the run changed on Fly.
 */
export async function run(deps: RunDeps = defaultDeps): Promise<void> {
  const redactor = new Redactor()
  const cancel = onJobCancelled()
  let stages: StageRunner | undefined
  let plan: Plan | undefined
  try {
    plan = readPlan(redactor, PINNED_FLYCTL_VERSION, deps.env)
    stages = new StageRunner(newRunRecord(plan), cancel.signal)
    stages.record.secretsDropped = plan.secretsDropped ?? []
    for (const d of stages.record.secretsDropped) info(`secrets: ${d.name} not synced: ${d.why}`)
    for (const w of plan.secretWarnings ?? []) core.warning(w)
    const p: Pipeline = { plan, redactor, signal: cancel.signal, journal: stages.journal, deps }
    await runMode(stages, p)
    await stages.finish(redactor)
  } catch (err) {
    // An input error ends the run before the plan exists: its record has the app as typed, health skipped.
    stages ??= new StageRunner(
      newRunRecord({ app: redactor.redact(core.getInput('app')), private: false }),
      cancel.signal,
    )
    await stages.finish(redactor, redactor.redact(errorMessage(err, cancel.signal.reason)))
  } finally {
    cancel.dispose()
    // The run's own files (flyctl's folder, the openclaw.json copy) go; the fly-config output's file stays.
    if (plan?.runDir) removeRunFiles(plan.runDir, stages?.record.flyConfig)
  }
}

function runMode(stages: StageRunner, p: Pipeline): Promise<void> {
  const mode = {
    plan: p.plan,
    record: stages.record,
    redactor: p.redactor,
    signal: p.signal,
    stages,
    install: () => installOnly(stages, p),
  }
  if (p.plan.mode === 'cleanup-previews') return cleanupPreviews(mode)
  if (p.plan.mode === 'preview') return runPreview(mode, (preview) => deployStages(stages, { ...p, plan: preview }))
  return deployStages(stages, p)
}

/** The stages of a deploy (docs/CONTRACT.md, "Stages"), in order. */
async function deployStages(s: StageRunner, p: Pipeline): Promise<void> {
  core.startGroup('Plan')
  info(JSON.stringify(describePlan(p.plan), null, 2))
  core.endGroup()
  if (p.plan.dryRun)
    s.record.dryRunPlan = {
      create: [],
      secretsAdd: [],
      secretsUpdate: [],
      secretsPrune: [],
      deployCommand: '',
      overrides: [],
      ipChanges: [],
    }

  const { flyctl } = await s.must(stage.install(p))
  const config = await s.must(stage.render(p))
  const survey = await s.must(stage.validate(p, flyctl, config))
  const ensured = await s.must(stage.ensureApp(p, flyctl, config, survey))
  const { decision, fingerprint } = await s.must(fingerprintStage(p, config, survey))
  if (decision.skip) {
    // Nothing that goes into a release changed: no release, no restart; the verdict is on what serves.
    for (const name of ['secrets', 'deploy', 'overrides']) await s.run(leftOut(name))
    await s.run(stage.hardenIps(p, flyctl, ensured))
    await s.run(servingHealthStage(p, flyctl, decision))
    return
  }
  await s.must(stage.stageSecrets(p, flyctl, ensured, survey))
  const snapshot = await s.run(stage.snapshotUpgrade(p, flyctl, config, survey))
  const deployCtx = stage.deployContext(p, flyctl, config, fingerprint?.text)
  const deployed = await s.must(stage.deployRelease(deployCtx))
  const overrides = await s.run(stage.reapplyOverrides(p, flyctl, deployed))
  await s.run(stage.hardenIps(p, flyctl, ensured))
  const upgrade = { snapshot, from: survey.servingGateway?.version, to: config.rendered.release?.version }
  await s.run(stage.gateHealth(p, deployCtx, config, deployed, overrides, upgrade))
  if (p.plan.dryRun) info('Dry run: the plan is in the job summary; nothing was changed on Fly.')
}

async function installOnly(s: StageRunner, p: Pipeline): Promise<Flyctl> {
  return (await s.must(stage.install(p))).flyctl
}

class CancelledError extends Error {
  constructor(signal: NodeJS.Signals) {
    super(`the job was cancelled (${signal})`)
    this.name = 'CancelledError'
  }
}

/** SIGINT/SIGTERM (the runner cancelling the job) abort the run; the running flyctl call is ended. */
function onJobCancelled(): { signal: AbortSignal; dispose(): void } {
  const cancel = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    core.warning(`Received ${signal}: ending the running flyctl call and stopping.`)
    cancel.abort(new CancelledError(signal))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return {
    signal: cancel.signal,
    dispose: () => {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    },
  }
}

function errorMessage(err: unknown, cancelled: unknown): string {
  if (cancelled instanceof CancelledError)
    return `${cancelled.message}; the run stopped early (see the summary for what had changed on Fly)`
  if (err instanceof Error) return err.message
  return String(err)
}
