/**
 * Whether a run may make no release: only when the fingerprint equals the one every app machine
 * carries, the app's secrets are all deployed as synced, no override drifted, and every app
 * machine is started with its checks passing. Anything else deploys; a doubt (a base image that
 * could not be resolved, an unhealthy machine) deploys with a notice that says why. Pure.
 */
import type { Machine, SecretEntry } from '../fly/schemas.js'
import type { Drift } from '../stages/overrides.js'
import { appMachines } from '../fly/machines.js'
import { changedParts, FINGERPRINT_ENV, parseFingerprint, type Fingerprint, type Part } from './fingerprint.js'

export interface SkipInputs {
  enabled: boolean
  /** This run's fingerprint, made with the serving release's salt; or why none could be made. */
  computed: { fingerprint: Fingerprint } | { doubt: string }
  /** The app's machines (`status --json`). */
  machines: readonly Machine[]
  /** The app's secrets (`secrets list --json`). */
  secrets: readonly SecretEntry[]
  synced: readonly string[]
  prune: boolean
  drift: readonly Drift[]
}

export type SkipDecision =
  | { skip: true; release?: string; image?: string; machineIds: string[] }
  | {
      skip: false
      /** Why a release is made, in words. */
      why: string
      /** A doubt (not a change): said as a notice. */
      notice: boolean
      changed?: Part[]
    }

/** The fingerprint every app machine carries; undefined when one carries none or they differ. */
export function servingFingerprint(machines: readonly Machine[]): Fingerprint | undefined {
  const texts = new Set(appMachines(machines).map((m) => m.config.env?.[FINGERPRINT_ENV] ?? ''))
  if (texts.size !== 1) return undefined
  return parseFingerprint([...texts][0])
}

export function decideSkip(i: SkipInputs): SkipDecision {
  const deploy = (why: string, notice = false, changed?: Part[]): SkipDecision => ({
    skip: false,
    why,
    notice,
    ...(changed ? { changed } : {}),
  })
  if (!i.enabled) return deploy('skip-unchanged is false')
  if ('doubt' in i.computed) return deploy(i.computed.doubt, true)
  const machines = appMachines(i.machines)
  if (machines.length === 0) return deploy('no app machine serves yet')
  const serving = servingFingerprint(machines)
  if (!serving)
    return deploy(
      'the serving release carries no fingerprint (made before fingerprints, by a rollback, or its machines differ)',
    )
  const changed = changedParts(serving, i.computed.fingerprint)
  if (changed.length > 0) return deploy(`changed since the serving release: ${changed.join(', ')}`, false, changed)
  const secretsWhy = secretsOutOfStep(i)
  if (secretsWhy) return deploy(secretsWhy, false, ['secrets'])
  if (i.drift.length > 0)
    return deploy(`machine overrides drifted on ${i.drift.map((d) => d.machineId).join(', ')}`, false, ['overrides'])
  const unhealthy = unhealthyMachines(machines)
  if (unhealthy.length > 0) return deploy(`nothing changed, but ${unhealthy.join('; ')}`, true)
  const versions = new Set(machines.map((m) => m.config.metadata?.fly_release_version ?? ''))
  return {
    skip: true,
    ...(versions.size === 1 && [...versions][0] ? { release: [...versions][0] } : {}),
    ...(machines[0]?.config.image ? { image: machines[0].config.image } : {}),
    machineIds: machines.map((m) => m.id),
  }
}

/** Secrets on Fly that differ from the synced set by name or deployment (values are in the fingerprint). */
function secretsOutOfStep(i: SkipInputs): string | undefined {
  const onApp = new Map(i.secrets.map((s) => [s.name, s.status]))
  const missing = i.synced.filter((n) => !onApp.has(n))
  if (missing.length > 0) return `secrets missing on the app: ${missing.join(', ')}`
  const pending = i.secrets.filter((s) => /^(staged|partial)$/i.test(s.status)).map((s) => s.name)
  if (pending.length > 0) return `secrets staged but not deployed: ${pending.join(', ')}`
  if (i.prune) {
    const extra = [...onApp.keys()].filter((n) => !i.synced.includes(n))
    if (extra.length > 0) return `secrets to prune: ${extra.join(', ')}`
  }
  return undefined
}

/** Each app machine that is not started or has a check that does not pass, in words. */
export function unhealthyMachines(machines: readonly Machine[]): string[] {
  const out: string[] = []
  for (const m of machines) {
    if (m.state !== 'started') {
      out.push(`machine ${m.id} is ${m.state}`)
      continue
    }
    const failing = (m.checks ?? []).filter((c) => c.status !== 'passing')
    if (failing.length > 0)
      out.push(`machine ${m.id} has checks not passing (${failing.map((c) => `${c.name}: ${c.status}`).join(', ')})`)
  }
  return out
}
