/**
 * Runs that change nothing (the `skip-unchanged` input): the fingerprint stage, which decides
 * whether this run makes a release, and, when it makes none, the health verdict on the machines
 * that serve. The fingerprint itself is in src/fingerprint/.
 */
import * as core from '@actions/core'
import { collectFingerprintInputs, type Collected } from '../fingerprint/collect.js'
import { appMachines } from '../fly/machines.js'
import { decideSkip, servingFingerprint, unhealthyMachines, type SkipDecision } from '../fingerprint/decide.js'
import { computeFingerprint, newSalt, type Fingerprint } from '../fingerprint/fingerprint.js'
import { READING, type Flyctl } from '../fly/flyctl.js'
import { MachineListSchema } from '../fly/schemas.js'
import { probeHealthUrl } from '../health/gate.js'
import { appUrl } from '../stages/deploy.js'
import { findDrift } from '../stages/overrides.js'
import { machineRows, type RunRecord } from './report.js'
import type { AppSurvey, Pipeline, RenderedConfig } from './stage-list.js'
import type { Stage } from './stage-runner.js'

export interface Unchanged {
  decision: SkipDecision
  /** The fingerprint the release carries when this run makes one (undefined: none could be made). */
  fingerprint?: Fingerprint
}

/** Compute the fingerprint and decide: no release, or a release and why. */
export function fingerprintStage(p: Pipeline, { rendered }: RenderedConfig, survey: AppSurvey): Stage<Unchanged> {
  const { plan } = p
  let compared: string[] = []
  let notes: string[] = []
  return {
    name: 'fingerprint',
    run: async () => {
      const collected = await collectFingerprintInputs(
        plan,
        { path: rendered.path, config: rendered.config },
        { ...p.deps.registry, signal: p.signal },
      ).catch(
        // A fingerprint that cannot be made (an unreadable file of the context) never stops a deploy: it is a doubt.
        (err: unknown): Collected => {
          p.signal.throwIfAborted()
          return {
            doubt: `the release could not be fingerprinted (${p.redactor.redact((err as Error).message)})`,
            compared: [],
            notes: [],
          }
        },
      )
      ;({ compared, notes } = collected)
      for (const note of notes) core.notice(note, { title: 'fly-deploy: skip-unchanged' })
      // The serving release's salt, so that equal inputs give an equal fingerprint.
      const salt = servingFingerprint(survey.machines)?.salt ?? newSalt()
      const fingerprint = collected.inputs ? computeFingerprint(collected.inputs, salt) : undefined
      const drift = findDrift(survey.machines, { argv: plan.machineCommand?.argv, memoryMb: plan.machineMemoryMb })
      const decision = decideSkip({
        enabled: plan.skipUnchanged,
        computed: fingerprint ? { fingerprint } : { doubt: collected.doubt ?? 'no fingerprint could be made' },
        machines: survey.machines,
        secrets: survey.secrets,
        synced: [...plan.secrets.keys()],
        prune: plan.pruneSecrets,
        drift,
      })
      if (decision.skip)
        core.info('skip-unchanged: the release would hold nothing new and every app machine is healthy: no release')
      else if (decision.notice)
        core.notice(`skip-unchanged: deploying, because ${decision.why}`, { title: 'fly-deploy: skip-unchanged' })
      else core.info(`skip-unchanged: deploying: ${decision.why}`)
      return { decision, ...(fingerprint ? { fingerprint } : {}) }
    },
    note: ({ decision }) => (decision.skip ? 'nothing changed: no release' : `a release: ${decision.why}`),
    record: ({ decision }, record) => {
      const outcome = decision.skip
        ? `Nothing changed since release v${decision.release ?? '?'}, and every app machine is started with its checks passing: no release was made and nothing was restarted.`
        : `A release is made: ${decision.why}.`
      record.fingerprint = { compared, outcome, notes, unchanged: decision.skip }
      // The synced names are on the app with these values already (the fingerprint says so).
      if (decision.skip) record.secretsSynced = [...plan.secrets.keys()].sort()
    },
  }
}

/** A stage the unchanged run leaves out, shown as skipped in the summary. */
export function leftOut(name: string): Stage<void> {
  return { name, skip: 'nothing changed', run: async () => {} }
}

interface ServingHealth {
  health: 'healthy' | 'unhealthy'
  message?: string
  machines: ReturnType<typeof machineRows>
}

/**
 * The health verdict on the machines that serve, for a run that made no release: every app
 * machine started with its checks passing (one fresh read), and `health-url` answering if set.
 */
export function servingHealthStage(
  p: Pipeline,
  flyctl: Flyctl,
  decision: Extract<SkipDecision, { skip: true }>,
): Stage<ServingHealth> {
  const { plan } = p
  return {
    name: 'health',
    ...(plan.dryRun ? { skip: 'dry run: nothing was deployed' } : {}),
    run: async () => {
      const machines = await flyctl.json(['machines', 'list', '--app', plan.app], MachineListSchema, { retry: READING })
      const serving = appMachines(machines)
      const problems = serving.length === 0 ? ['no app machine serves'] : unhealthyMachines(serving)
      if (problems.length === 0 && plan.healthUrl) {
        const probe = await probeHealthUrl(plan.healthUrl, Date.now() + 30_000, { signal: p.signal })
        if (!probe.ok) problems.push(flyctl.redact(probe.detail))
      }
      const rows = machineRows(machines)
      if (problems.length > 0)
        return {
          health: 'unhealthy',
          message: `The serving release is unhealthy: ${problems.join('; ')}.`,
          machines: rows,
        }
      return {
        health: 'healthy',
        message: `Release v${decision.release ?? '?'} serves on ${serving.map((m) => m.id).join(', ')}: started, checks passing.`,
        machines: rows,
      }
    },
    note: (o) => o.health,
    record: (o, record) => recordServing(p, decision, o, record),
    failure: (o) =>
      o.health === 'unhealthy' ? `${o.message} Re-run with skip-unchanged: false to deploy again.` : undefined,
  }
}

function recordServing(
  p: Pipeline,
  decision: Extract<SkipDecision, { skip: true }>,
  o: ServingHealth,
  record: RunRecord,
): void {
  record.machines = o.machines
  record.health = { verdict: o.health, ...(o.message ? { message: o.message } : {}) }
  record.healthNotes = o.message ? [o.message] : []
  record.url = appUrl(p.plan, '')
  if (decision.release) record.release = Number(decision.release)
  if (decision.image) record.image = decision.image
}
