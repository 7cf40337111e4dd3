/**
 * The stages of SPEC.md's run as definitions for the stage runner (stages.ts): what each runs,
 * its line in the summary, and what its result adds to the run record. The work itself is in
 * each stage's module; main.ts lists the stages in order.
 */
import * as core from '@actions/core'
import { deploy, redeploy, type DeployContext, type DeployResult } from '../stages/deploy.js'
import { ensure, readAppStatus, type EnsureResult } from '../stages/ensure.js'
import { MachineListSchema, SecretListSchema, type Machine, type SecretEntry } from '../fly/schemas.js'
import { READING, type Flyctl, type FlyctlOptions } from '../fly/flyctl.js'
import { harden } from '../stages/private-ips.js'
import { runHealthGate, watchRollout, type WatchContext } from '../health/index.js'
import type { RolloutFeed } from '../health/rollout-feed.js'
import { installFlyctl, type InstalledFlyctl } from '../install/install-flyctl.js'
import type { ChangeJournal } from './change-journal.js'
import { reconcileOverrides, type OverridesResult } from '../stages/overrides.js'
import type { Plan } from '../inputs/plan.js'
import { gatewayReleaseOf, preflightFindings, readRegions } from '../config/preflight.js'
import type { Redactor } from '../shared/redact.js'
import { describeRelease } from '../config/gateway-release.js'
import { effectiveSettings, writeRenderedConfig } from '../config/render.js'
import { machineRows, type RunRecord, type StageContext } from './report.js'
import { syncSecrets } from '../stages/secrets.js'
import type { Stage } from './stage-runner.js'
import { reportFindings, validateFlyConfig } from '../config/guide-rules.js'
import type { ResolveOptions } from '../fingerprint/registry.js'

/** What the run's outside world is made of; a test passes its own (run() in-process). */
export interface RunDeps {
  install: typeof installFlyctl
  /** The one flyctl runner; a test passes a Flyctl whose processes are played in-process. */
  flyctl: (options: FlyctlOptions) => Flyctl
  env: NodeJS.ProcessEnv
  /** How base image tags are resolved (a test passes its own fetch); the registries' own when unset. */
  registry?: ResolveOptions
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
        log: core.info,
        configDir: plan.flyctlConfigDir,
      })
      const flyctl = p.deps.flyctl({
        binary: installed.binary,
        token: plan.apiToken,
        redactor: p.redactor,
        cwd: plan.workingDirectory,
        log: core.info,
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
 * What the app already has, read once and shared by the stages (issue 17: each reading call made
 * once): whether it exists, its machines (`status --json`) and its secret names.
 */
export interface AppSurvey {
  appExists: boolean
  secrets: SecretEntry[]
  machines: Machine[]
}

/**
 * The guide's rules, with the app's own secret names for the token rule, and the preflight
 * (region, size, Dockerfile) against Fly's region list: reading calls only, all problems in one report.
 */
export function validate(p: Pipeline, flyctl: Flyctl, { rendered, settings }: RenderedConfig): Stage<AppSurvey> {
  const { plan } = p
  const release = gatewayReleaseOf(rendered, plan, p.deps.env.GITHUB_WORKSPACE)
  return {
    name: 'validate',
    run: async () => {
      core.info(`Gateway release: ${describeRelease(release)}`)
      const survey = await surveyApp(flyctl, plan.app)
      const regions = await regionsToCheck(flyctl, settings.region, survey.machines)
      const known = new Set([...plan.secrets.keys(), ...(plan.pruneSecrets ? [] : survey.secrets.map((s) => s.name))])
      const preflight = preflightFindings(rendered, plan, {
        ...(regions ? { regions } : {}),
        workspace: p.deps.env.GITHUB_WORKSPACE,
      })
      reportFindings([...preflight, ...validateFlyConfig(rendered, plan, known, release ? { release } : {})])
      return survey
    },
    record: (_survey, record) => {
      record.gatewayRelease = release ? `${release.version} (from ${release.source})` : 'unknown'
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
  return { flyctl, plan: p.plan, log: { info: core.info, warning: core.warning } }
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

/** The deploy's context, shared by the deploy stage and the rollback: the gate runs alongside each rollout. */
export function deployContext(
  p: Pipeline,
  flyctl: Flyctl,
  { rendered, settings }: RenderedConfig,
  fingerprint?: string,
): DeployContext {
  const watchCtx: WatchContext = {
    flyctl,
    plan: p.plan,
    app: p.plan.app,
    port: settings.port,
    bind: settings.bind,
    stateDir: gatewayStateDir(settings),
    log: core.info,
    signal: p.signal,
  }
  return {
    ...stageContext(p, flyctl),
    signal: p.signal,
    rendered: { path: rendered.path, dockerfileArg: rendered.dockerfileArg },
    gatewayPort: settings.port,
    ...(fingerprint ? { fingerprint } : {}),
    // health-timeout is at least 10 s (inputs.ts): every deploy is gated as it rolls out.
    watch: (baseline: number, startedAtMs: number, stop: AbortSignal, rollout?: RolloutFeed) =>
      watchRollout(watchCtx, baseline, startedAtMs, stop, rollout),
  }
}

function gatewayStateDir(settings: Settings): string {
  return settings.stateDir ?? settings.mountDestination ?? '/data'
}

/** Deploy, gated while it rolls out (SPEC "Deploy and gate are one stage"). */
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
    ...(deployed.verdict?.health === 'unhealthy' ? { skip: 'the release is unhealthy' } : {}),
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
): Stage<HealthOutcome> {
  const { plan } = p
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
        release: { version: release.version, imageRef: release.imageRef },
        deployStartedAtMs: deployed.startedAtMs,
        // A machine override restarts machines: their new boot is gated again, not the deploy's.
        first: overrides?.applied.length ? undefined : deployed.verdict,
        redeploy: async (imageRef) => {
          const again = await redeploy(ctx, imageRef)
          if (!again.release) throw new Error(`the rollback deploy of ${imageRef} produced no release`)
          return {
            version: again.release.version,
            imageRef: again.release.imageRef,
            startedAtMs: again.startedAtMs,
            verdict: again.verdict,
          }
        },
        log: core.info,
        signal: p.signal,
      })
      // What serves now, for machine-ids and the summary's machine table: the last read, unless something changed since.
      const machines = await ctx.flyctl.json(['machines', 'list', '--app', plan.app], MachineListSchema, {
        retry: READING,
        reuse: true,
      })
      return { ...outcome, machines: machineRows(machines) }
    },
    note: (o) => (o.lockRepaired ? `${o.health} after a stale-lock repair` : o.health),
    record: (o, record) => recordHealth(o, record),
    // The step fails on an unhealthy release, after what serves was read and recorded.
    failure: (o) => (o.health === 'unhealthy' ? (o.message ?? 'the gateway did not become healthy') : undefined),
  }
}

function recordHealth(o: HealthOutcome, record: RunRecord): void {
  record.machines = o.machines
  // The summary's table gets the short account; the step's error carries the last log lines.
  record.health = { verdict: o.health, message: o.summary.at(-1) }
  record.healthNotes = o.summary
  record.healthEvidence = o.evidenceLines
  record.rolledBack = o.rolledBack
  // SPEC, Outputs: after a rollback, release-version, image and machine-ids describe what serves.
  if (o.rolledBack && o.servingRelease) {
    record.servingRelease = o.servingRelease.version
    record.image = o.servingRelease.imageRef
  }
}
