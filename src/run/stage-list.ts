/**
 * The stages of a run (docs/CONTRACT.md, "Stages") as definitions for the stage runner (stage-runner.ts): what each runs,
 * its line in the summary, and what its result adds to the run record. The work itself is in
 * each stage's module; main.ts lists the stages in order.
 */
import * as core from '@actions/core'
import { deploy, redeploy, type DeployContext, type DeployResult } from '../stages/deploy.js'
import { ensure, readAppStatus, type EnsureResult } from '../stages/ensure.js'
import { MachineListSchema, SecretListSchema, type Machine, type SecretEntry } from '../fly/schemas.js'
import { READING, type Flyctl, type FlyctlOptions } from '../fly/flyctl.js'
import { harden } from '../stages/private-ips.js'
import { runHealthGate, supersededOutcome, watchRollout, type WatchContext } from '../health/index.js'
import { newerOnMachines } from '../health/rollback.js'
import type { RolloutFeed } from '../health/rollout-feed.js'
import { installFlyctl, type InstalledFlyctl } from '../install/install-flyctl.js'
import type { ChangeJournal } from './change-journal.js'
import { reconcileOverrides, type OverridesResult } from '../stages/overrides.js'
import type { Plan } from '../inputs/plan.js'
import { preflightFindings, readRegions } from '../config/preflight.js'
import type { Redactor } from '../shared/redact.js'
import { describeRelease } from '../config/gateway-release.js'
import { effectiveSettings, writeRenderedConfig } from '../config/render.js'
import { machineRows, type RunRecord, type StageContext } from './report.js'
import { syncSecrets } from '../stages/secrets.js'
import type { Stage } from './stage-runner.js'
import { reportFindings, validateFlyConfig } from '../config/guide-rules.js'
import { info } from '../shared/runner-output.js'
import {
  decideSnapshot,
  describeUpgrade,
  servingRelease,
  takeSnapshot,
  type ServingRelease,
  type SnapshotTarget,
} from '../stages/upgrade-snapshot.js'
import { restoreUpgrade, type RestoreReport } from '../health/restore.js'
import type { ResolveOptions } from '../fingerprint/registry.js'

/** What the run's outside world is made of; a test passes its own (run() in-process). */
export interface RunDeps {
  install: typeof installFlyctl
  /** The one flyctl runner; a test passes a Flyctl whose processes are played in-process. */
  flyctl: (options: FlyctlOptions) => Flyctl
  env: NodeJS.ProcessEnv
  /**
   * How FROM tags are resolved to digests for the fingerprint: main.ts passes the global fetch (the
   * registries themselves); a test passes a scripted fetch, so no run reaches a registry by default.
   */
  registry: ResolveOptions & { fetch: typeof fetch }
}

export interface Pipeline {
  plan: Plan
  redactor: Redactor
  signal: AbortSignal
  journal: ChangeJournal
  deps: RunDeps
}

type Rendered = Awaited<ReturnType<typeof writeRenderedConfig>>
type Settings = ReturnType<typeof effectiveSettings>

export interface Installed {
  installed: InstalledFlyctl
  flyctl: Flyctl
}

export function install(p: Pipeline): Stage<Installed> {
  const { plan } = p
  return {
    name: 'install',
    run: async () => {
      const installed = await p.deps.install({
        version: plan.flyctlVersion,
        mirror: plan.flyctlMirror,
        log: info,
        configDir: plan.flyctlConfigDir,
        signal: p.signal,
        env: p.deps.env,
      })
      const flyctl = p.deps.flyctl({
        binary: installed.binary,
        token: plan.apiToken,
        redactor: p.redactor,
        env: p.deps.env,
        cwd: plan.workingDirectory,
        log: info,
        signal: p.signal,
        configDir: plan.flyctlConfigDir,
        journal: p.journal,
        dryRun: plan.dryRun,
      })
      return { installed, flyctl }
    },
    note: ({ installed: r }) =>
      r.fromCache ? `flyctl ${r.version} from the tool cache` : `flyctl ${r.version} downloaded`,
    record: ({ installed }, record) => {
      record.flyctlVersion = installed.version
    },
  }
}

export interface RenderedConfig {
  rendered: Rendered
  settings: Settings
}

export function render(p: Pipeline): Stage<RenderedConfig> {
  return {
    name: 'render',
    run: async () => {
      const rendered = await writeRenderedConfig(p.plan)
      return { rendered, settings: effectiveSettings(rendered.config, rendered.gateway?.parsed) }
    },
    note: ({ rendered }) =>
      rendered.overridden.length ? `${rendered.overridden.length} key(s) set from inputs` : undefined,
    record: ({ rendered }, record) => {
      record.flyConfig = rendered.path
    },
  }
}

/**
 * What the app already has, read once and shared by the stages (each reading call made
 * once): whether it exists, its machines (`status --json`) and its secret names.
 */
export interface AppSurvey {
  appExists: boolean
  secrets: SecretEntry[]
  machines: Machine[]
  /** The gateway release that serves, read from the machines (the one this run deploys is RenderResult.release). */
  servingGateway?: ServingRelease
}

/**
 * The guide's rules, with the app's own secret names for the token rule, and the preflight
 * (region, size, Dockerfile) against Fly's region list: reading calls only, all problems in one report.
 */
export function validate(p: Pipeline, flyctl: Flyctl, { rendered, settings }: RenderedConfig): Stage<AppSurvey> {
  const { plan } = p
  // Read once, by the render stage, and carried from there.
  const release = rendered.release
  return {
    name: 'validate',
    run: async () => {
      info(`Gateway release: ${describeRelease(release)}`)
      const survey = await surveyApp(flyctl, plan.app)
      survey.servingGateway = servingRelease(survey.machines)
      if (survey.appExists) core.info(`Gateway upgrade: ${describeUpgrade(survey.servingGateway, release)}`)
      const regions = await regionsToCheck(flyctl, settings.region, survey.machines)
      const known = new Set([...plan.secrets.keys(), ...(plan.pruneSecrets ? [] : survey.secrets.map((s) => s.name))])
      const preflight = preflightFindings(rendered, plan, {
        ...(regions ? { regions } : {}),
        workspace: plan.githubWorkspace,
      })
      reportFindings(
        [...preflight, ...validateFlyConfig(rendered, plan, known, release ? { release } : {})],
        plan.githubWorkspace,
      )
      return survey
    },
    record: (survey, record) => {
      const serving = survey.servingGateway
      record.gatewayRelease = release ? `${release.version} (from ${release.source})` : 'unknown'
      if (serving)
        record.gatewayRelease = `${describeUpgrade(serving, release)} (serving from ${serving.source}; deploying ${release ? `from ${release.source}` : 'unknown'})`
      record.upgrade = { from: serving?.version, to: release?.version, notes: [] }
    },
  }
}

async function surveyApp(flyctl: Flyctl, app: string): Promise<AppSurvey> {
  const status = await readAppStatus(flyctl, app)
  if (!status) return { appExists: false, secrets: [], machines: [] }
  const secrets = await flyctl.json(['secrets', 'list', '--app', app], SecretListSchema, { retry: READING })
  return { appExists: true, secrets, machines: status.Machines }
}

/** Fly's regions for the region rule: none needed without a region, or for one the app's machines already run in. */
async function regionsToCheck(
  flyctl: Flyctl,
  region: string | undefined,
  machines: readonly Machine[],
): Promise<string[] | undefined> {
  if (region === undefined) return undefined
  if (machines.some((m) => m.region === region)) return [region]
  return readRegions(flyctl, core.warning)
}

function stageContext(p: Pipeline, flyctl: Flyctl): StageContext {
  return { flyctl, plan: p.plan, log: { info, warning: core.warning } }
}

export function ensureApp(
  p: Pipeline,
  flyctl: Flyctl,
  { settings }: RenderedConfig,
  survey: AppSurvey,
): Stage<EnsureResult> {
  const region = settings.region ?? p.plan.region ?? 'iad'
  return {
    name: 'ensure',
    run: () =>
      ensure(stageContext(p, flyctl), {
        region,
        volume: settings.volume,
        appExists: survey.appExists,
        machines: survey.machines,
      }),
    note: (r) =>
      r.created.length ? `${r.dryRun ? 'would create' : 'created'} ${r.created.join(', ')}` : 'app and volume exist',
    record: (r, record) => {
      if (record.dryRunPlan) record.dryRunPlan.create = r.created
    },
  }
}

/** Secrets, staged: the deploy applies them in its one rollout. */
export function stageSecrets(
  p: Pipeline,
  flyctl: Flyctl,
  ensured: EnsureResult,
  survey: AppSurvey,
): Stage<Awaited<ReturnType<typeof syncSecrets>>> {
  const would = p.plan.dryRun ? 'would be ' : ''
  return {
    name: 'secrets',
    run: () =>
      syncSecrets(stageContext(p, flyctl), {
        appExists: ensured.appExists,
        gatewayAuthRequired: false,
        existing: survey.secrets,
      }),
    note: (r) => `${r.synced.length} ${would}synced${r.prune.length ? `, ${r.prune.length} ${would}pruned` : ''}`,
    record: (r, record) => {
      record.secretsSynced = r.synced
      record.secretsPruned = r.prune
      if (record.dryRunPlan)
        Object.assign(record.dryRunPlan, { secretsAdd: r.add, secretsUpdate: r.update, secretsPrune: r.prune })
    },
  }
}

/** The snapshot taken before this run's gateway upgrade; the rollback restores it. */
export interface UpgradeSnapshot {
  snapshotId: string
  target: SnapshotTarget
}

/**
 * Before a deploy that changes the gateway release: snapshot the app's volume and wait until the
 * snapshot exists (stages/upgrade-snapshot.ts). A snapshot that fails stops the run before the deploy.
 */
export function snapshotUpgrade(
  p: Pipeline,
  flyctl: Flyctl,
  { rendered, settings }: RenderedConfig,
  survey: AppSurvey,
): Stage<UpgradeSnapshot | undefined> {
  const serving = survey.servingGateway
  const deploying = rendered.release
  const decision = decideSnapshot({
    enabled: p.plan.upgradeSnapshot,
    machines: survey.machines,
    volume: settings.volume,
    serving,
    deploying,
  })
  if (!decision.take) {
    if (decision.notice) core.notice(decision.reason)
    return { name: 'snapshot', skip: decision.reason, run: async () => undefined }
  }
  const { target } = decision
  const upgrade = describeUpgrade(serving, deploying)
  if (p.plan.dryRun)
    return {
      name: 'snapshot',
      skip: `dry run: would snapshot volume ${target.volumeId} before the upgrade ${upgrade}`,
      run: async () => undefined,
    }
  return {
    name: 'snapshot',
    run: async () => {
      core.info(
        `Gateway upgrade ${upgrade}: snapshotting volume ${target.volumeId} first, so a rollback can restore ${serving?.version}'s state`,
      )
      try {
        const wait = { timeoutMs: p.plan.healthTimeoutSec * 1000, log: core.info, signal: p.signal }
        return { snapshotId: await takeSnapshot(flyctl, p.plan.app, target.volumeId, wait), target }
      } catch (err) {
        if (p.signal.aborted) throw err
        throw new Error(
          `the volume snapshot before the gateway upgrade ${upgrade} failed: ${(err as Error).message}. Nothing was deployed: ${serving?.version} still serves. ` +
            `Check \`fly volumes snapshots list ${target.volumeId} -a ${p.plan.app}\` and re-run, or set \`upgrade-snapshot: false\` to deploy without a way back`,
          { cause: err },
        )
      }
    },
    note: (r) => (r ? `${r.snapshotId} of ${r.target.volumeId} (${upgrade})` : undefined),
    record: (r, record) => {
      if (!r || !record.upgrade) return
      record.upgrade.snapshotId = r.snapshotId
      record.upgrade.volumeId = r.target.volumeId
      record.upgrade.notes.push(
        `Snapshot ${r.snapshotId} of volume ${r.target.volumeId} holds ${serving?.version}'s state from before the upgrade.`,
      )
    },
  }
}

/** The deploy's context, shared by the deploy stage and the rollback: the gate runs alongside each rollout. */
export function deployContext(
  p: Pipeline,
  flyctl: Flyctl,
  { rendered, settings }: RenderedConfig,
  fingerprint?: string,
): DeployContext {
  const gatewayRelease = rendered.release?.version
  const watchCtx: WatchContext = {
    flyctl,
    plan: p.plan,
    app: p.plan.app,
    port: settings.port,
    bind: settings.bind,
    stateDir: gatewayStateDir(settings),
    ...(gatewayRelease ? { gatewayRelease } : {}),
    log: info,
    signal: p.signal,
  }
  return {
    ...stageContext(p, flyctl),
    signal: p.signal,
    rendered: { path: rendered.path },
    gatewayPort: settings.port,
    ...(gatewayRelease ? { gatewayRelease } : {}),
    ...(fingerprint ? { fingerprint } : {}),
    // health-timeout is at least 30 s (parse-inputs.ts): every deploy is gated as it rolls out.
    watch: (baseline: number, startedAtMs: number, stop: AbortSignal, rollout?: RolloutFeed) =>
      watchRollout(watchCtx, baseline, startedAtMs, stop, rollout),
  }
}

function gatewayStateDir(settings: Settings): string {
  return settings.stateDir ?? settings.mountDestination ?? '/data'
}

/** Deploy, gated while it rolls out (docs/CONTRACT.md, "Deploy and gate are one stage"). */
export function deployRelease(ctx: DeployContext): Stage<DeployResult> {
  return {
    name: 'deploy',
    run: () => deploy(ctx),
    note: (r) =>
      r.release
        ? `release v${r.release.version}${r.interrupted ? ' (unhealthy: flyctl interrupted)' : ''}${r.startedMachines?.length ? `; started ${r.startedMachines.join(', ')}` : ''}`
        : r.command,
    record: (r, record) => {
      record.url = r.url
      if (record.dryRunPlan) record.dryRunPlan.deployCommand = r.command
      if (r.release) {
        record.release = r.release.version
        record.image = r.release.imageRef
        record.released = !r.dryRun
      }
      record.startedMachines = r.startedMachines
    },
  }
}

/** Machine overrides: only a drifted machine is updated. An unhealthy release goes straight to repair or rollback. */
export function reapplyOverrides(p: Pipeline, flyctl: Flyctl, deployed: DeployResult): Stage<OverridesResult> {
  return {
    name: 'overrides',
    ...(deployed.verdict?.verdict.health === 'unhealthy' ? { skip: 'the release is unhealthy' } : {}),
    run: () => reconcileOverrides(stageContext(p, flyctl)),
    note: (r) =>
      r.applied.length ? `${r.applied.length} machine(s) updated` : r.wanted.length ? 'no drift' : 'none set',
    record: (r, record) => {
      record.overridesWanted = r.wanted
      record.overrides = r.applied.map((d) => ({
        machineId: d.machineId,
        command: d.command?.join(' '),
        memoryMb: d.memoryMb,
      }))
      if (record.dryRunPlan) record.dryRunPlan.overrides = r.wanted
    },
  }
}

/** A private deployment's IPs: public ones released, a private v6 ensured. */
export function hardenIps(
  p: Pipeline,
  flyctl: Flyctl,
  ensured: EnsureResult,
): Stage<Awaited<ReturnType<typeof harden>>> {
  return {
    name: 'harden',
    ...(p.plan.private ? {} : { skip: 'public deployment' }),
    run: () => harden(stageContext(p, flyctl), { appExists: ensured.appExists }),
    note: (r) => `${r.changes.length} IP change(s)`,
    record: (r, record) => {
      record.ipChanges = r.changes
      if (record.dryRunPlan) record.dryRunPlan.ipChanges = r.changes.map((c) => `${c.action} ${c.type} ${c.address}`)
    },
  }
}

type HealthOutcome = Awaited<ReturnType<typeof runHealthGate>> & { machines: ReturnType<typeof machineRows> }

/** Gate on the gateway's own logs, stale-lock repair and rollback inside; then read what serves. */
export function gateHealth(
  p: Pipeline,
  ctx: DeployContext,
  config: RenderedConfig,
  deployed: DeployResult,
  overrides: OverridesResult | undefined,
  upgrade: UpgradeRollback = {},
): Stage<HealthOutcome> {
  const { plan } = p
  const restoreReport: RestoreReport = { done: [], byHand: [] }
  // Releases this run's own rollback made: never "another deploy's" (a restore can fail after its deploy).
  const madeByRollback = new Set<number>()
  return {
    name: 'health',
    ...(plan.dryRun ? { skip: 'dry run: nothing was deployed' } : {}),
    run: async () => {
      const release = deployed.release
      // Never report success for what could not be verified.
      if (!release)
        throw new Error(
          `fly deploy finished, but \`flyctl releases --app ${plan.app} --json\` lists no release, so the gateway cannot be verified; check \`fly releases -a ${plan.app}\``,
        )
      const outcome = await runHealthGate({
        flyctl: ctx.flyctl,
        plan,
        app: plan.app,
        port: config.settings.port,
        bind: config.settings.bind,
        stateDir: gatewayStateDir(config.settings),
        ...(config.rendered.release ? { gatewayRelease: config.rendered.release.version } : {}),
        release: { version: release.version, imageRef: release.imageRef },
        deployStartedAtMs: deployed.startedAtMs,
        // A machine override restarts machines: their new boot is gated again, not the deploy's.
        first: overrides?.applied.length ? undefined : deployed.verdict,
        redeploy: (imageRef) => rollbackDeploy(ctx, imageRef, upgrade, restoreReport, madeByRollback),
        log: info,
        signal: p.signal,
      })
      // What serves now, for machine-ids and the summary's machine table: the last read, unless something changed since.
      const machines = await ctx.flyctl.json(['machines', 'list', '--app', plan.app], MachineListSchema, {
        retry: READING,
        reuse: true,
      })
      // Another deploy's release already on the machines: this run's verdict no longer describes the app.
      const newer =
        outcome.superseded === undefined && !outcome.rolledBack ? newerOnMachines(machines, release.version) : undefined
      const final =
        newer === undefined || madeByRollback.has(newer) || !deployed.verdict
          ? outcome
          : supersededOutcome({ ...ctx, app: plan.app, release, log: core.info }, newer, deployed.verdict)
      return { ...final, machines: machineRows(machines) }
    },
    note: (o) => {
      const health = o.judged.verdict.health
      return o.lockRepaired ? `${health} after a stale-lock repair` : health
    },
    record: (o, record) => {
      recordHealth(o, record)
      recordUpgrade(o, record, upgrade, restoreReport)
    },
    // The step fails on an unhealthy release, after what serves was read and recorded.
    failure: (o) =>
      o.superseded !== undefined || o.judged.verdict.health === 'unhealthy'
        ? (o.message ?? 'the gateway did not become healthy')
        : undefined,
  }
}

function recordHealth(o: HealthOutcome, record: RunRecord): void {
  record.machines = o.machines
  // The summary's table gets the short account; the step's error carries the last log lines.
  const verdict = o.judged.verdict
  // The record keeps the verdict's word (the `health` output) and its evidence lines for the summary.
  record.health = { verdict: verdict.health, message: o.summary.at(-1) }
  record.healthNotes = o.summary
  record.healthEvidence = verdict.health === 'healthy' && o.superseded === undefined ? verdict.lines : undefined
  record.rolledBack = o.rolledBack
  // docs/CONTRACT.md, "Outputs": after a rollback, release-version, image and machine-ids describe what serves.
  if (o.rolledBack && o.servingRelease) {
    record.servingRelease = o.servingRelease.version
    record.image = o.servingRelease.imageRef
  }
}

/** What the rollback needs to know of this run's gateway upgrade. */
export interface UpgradeRollback {
  /** The snapshot taken before the upgrade; with it, a rollback restores it. */
  snapshot?: UpgradeSnapshot
  /** The releases before and after (`2026.4.29`, `2026.9.6`), when known. */
  from?: string
  to?: string
}

/**
 * The rollback's deploy of the previous image: onto the volume restored from the snapshot when
 * this run took one (health/restore.ts), else the image alone, gated as it rolls out.
 */
async function rollbackDeploy(
  ctx: DeployContext,
  imageRef: string,
  upgrade: UpgradeRollback,
  report: RestoreReport,
  made: Set<number>,
) {
  const snapshot = upgrade.snapshot
  if (!snapshot) {
    const again = await redeploy(ctx, imageRef, upgrade.from)
    if (!again.release) throw new Error(`the rollback deploy of ${imageRef} produced no release`)
    made.add(again.release.version)
    return {
      version: again.release.version,
      imageRef: again.release.imageRef,
      startedAtMs: again.startedAtMs,
      verdict: again.verdict,
    }
  }
  core.info(
    `health: restoring snapshot ${snapshot.snapshotId} with the previous image: ${upgrade.from ?? 'the previous release'} gets back the state it had`,
  )
  return restoreUpgrade({
    flyctl: ctx.flyctl,
    app: ctx.plan.app,
    source: { snapshotId: snapshot.snapshotId, ...snapshot.target, from: upgrade.from, to: upgrade.to },
    imageRef,
    // Not watched: the machine it updates is stopped and stays so; the clone is gated afterwards.
    deployPrevious: async (ref) => {
      const again = await redeploy({ ...ctx, watch: undefined }, ref, upgrade.from)
      if (!again.release) throw new Error(`the rollback deploy of ${ref} produced no release`)
      made.add(again.release.version)
      return { version: again.release.version, imageRef: again.release.imageRef }
    },
    report,
    log: core.info,
    signal: ctx.signal,
  })
}

/** The summary's account of the snapshot and its restore, and the gateway release that serves at the end. */
function recordUpgrade(o: HealthOutcome, record: RunRecord, upgrade: UpgradeRollback, report: RestoreReport): void {
  const u = record.upgrade
  if (!u) return
  u.servesAtEnd = (o.rolledBack ? upgrade.from : upgrade.to) ?? null
  const snapshot = upgrade.snapshot
  if (!snapshot) return
  const app = record.app
  const migrated = snapshot.target.volumeId
  if (report.done.length === 0 && report.byHand.length === 0) {
    if (o.judged.verdict.health === 'unhealthy' && !o.rolledBack)
      u.notes.push(
        `Not restored. To go back by hand: \`fly volumes create ${snapshot.target.volumeName} --snapshot-id ${snapshot.snapshotId} --region ${snapshot.target.region} -a ${app} -y\`, then attach the new volume to a machine of the previous image.`,
      )
    return
  }
  u.restore = report
  u.notes.push(...report.done.map((d) => `Restore: ${d}.`))
  if (report.serves) u.notes.push(`Serving: ${report.serves}.`)
  if (report.byHand.length) {
    // A restore that stopped before the clone leaves nothing serving, unless it stopped at its first step.
    u.servesAtEnd = (report.machineId ? upgrade.from : report.done.length === 0 ? upgrade.to : undefined) ?? null
    u.notes.push(
      `The restore stopped early; the migrated volume ${migrated} is untouched and nothing was deleted. To finish by hand: ${report.byHand.map((c) => `\`${c}\``).join(', then ')}.`,
    )
  }
  u.notes.push(
    `The migrated volume ${migrated} (${upgrade.to ?? 'the upgrade'}'s state) is kept. Once you are sure you do not need it: \`fly volumes destroy ${migrated} -a ${app}\`.`,
  )
}
