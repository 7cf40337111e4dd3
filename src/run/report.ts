import * as core from '@actions/core'
import type { Machine } from '../fly/schemas.js'
import type { Flyctl } from '../fly/flyctl.js'
import type { Plan } from '../inputs/plan.js'

/** What every stage edge receives. */
export interface StageLog {
  info(message: string): void
  warning(message: string): void
}
export interface StageContext {
  flyctl: Flyctl
  plan: Plan
  log: StageLog
}

export type StageStatus = 'ok' | 'failed' | 'skipped' | 'planned'
export interface StageRecord {
  name: string
  ms: number
  status: StageStatus
  note?: string
}

export interface MachineRow {
  id: string
  region: string
  state: string
  memoryMb?: number
  /** The machine's command (config.init.cmd) for display. */
  command?: string
}

export interface OverrideApplied {
  machineId: string
  command?: string
  memoryMb?: number
}

export interface IpChange {
  action: 'released' | 'allocated'
  address: string
  type: string
}

export type HealthVerdict = 'healthy' | 'unhealthy' | 'skipped'

/** What a dry run would do; names only for secrets. */
export interface DryRunPlan {
  create: string[]
  secretsAdd: string[]
  secretsUpdate: string[]
  secretsPrune: string[]
  deployCommand: string
  overrides: string[]
  ipChanges: string[]
}

/** Everything the report shows, filled in by main.ts as the stages run (also when one fails). */
export interface RunRecord {
  app: string
  /** Empty for a private deployment. */
  url: string
  private: boolean
  release?: number
  image?: string
  machines: MachineRow[]
  secretsSynced: string[]
  secretsPruned: string[]
  overrides: OverrideApplied[]
  /** The overrides asked for (machine-command, machine-memory), in words; the deploy's config carries them. */
  overridesWanted: string[]
  ipChanges: IpChange[]
  health: { verdict: HealthVerdict; message?: string }
  rolledBack: boolean
  /** The release that serves after a rollback. */
  servingRelease?: number
  flyctlVersion?: string
  flyConfig?: string
  /** The gateway release found, and where from (`2026.9.6 (from Dockerfile:1 ...)`), or `unknown`. */
  gatewayRelease?: string
  /** The gateway releases before and after, the snapshot taken before an upgrade and its restore. */
  upgrade?: UpgradeRecord
  /** Names secrets-json held that were not synced, with why (never values). */
  secretsDropped?: Array<{ name: string; why: string }>
  stages: StageRecord[]
  dryRunPlan?: DryRunPlan
  /** What this run changed on Fly, in order. */
  changed: string[]
  /** Machines the deploy left stopped that the run started. */
  startedMachines?: string[]
  /** The gateway's own lines a healthy verdict rests on (`<machine> <time> <line>`). */
  healthEvidence?: string[]
  /** The health gate's own account (lock repair, rollback), in order. */
  healthNotes: string[]
  error?: string
  /** The title of a successful run that did not deploy (the preview modes' destroy and cleanup). */
  heading?: string
  /** Lines of the preview modes, shown under their own heading. */
  previewNotes?: string[]
  /** This run made a release on Fly (its deploy); a rollback counts through rolledBack. */
  released?: boolean
  /** The release fingerprint: what was compared, the outcome, and notes (src/fingerprint/). */
  fingerprint?: { compared: string[]; outcome: string; notes: string[]; unchanged: boolean }
}

export interface UpgradeRecord {
  /** The gateway release that served before the run, and the one it deploys (undefined: unknown). */
  from?: string
  to?: string
  snapshotId?: string
  volumeId?: string
  /** The release serving once the gate decided; null: nothing, or unknown. Unset: the gate did not run. */
  servesAtEnd?: string | null
  /** Lines for the summary's upgrade section. */
  notes: string[]
  restore?: { restoredVolume?: string; machineId?: string }
}

/** `gateway-release`: what serves at the end: after the gate its account, else what the deploy got to. */
export function gatewayReleaseOutput(run: RunRecord): string {
  const u = run.upgrade
  if (!u) return ''
  if (u.servesAtEnd !== undefined) return u.servesAtEnd ?? ''
  const deployed = run.release !== undefined && !run.dryRunPlan
  return (deployed ? u.to : u.from) ?? ''
}

export function newRunRecord(plan: Pick<Plan, 'app' | 'private'>): RunRecord {
  return {
    app: plan.app,
    url: '',
    private: plan.private,
    machines: [],
    secretsSynced: [],
    secretsPruned: [],
    overrides: [],
    overridesWanted: [],
    ipChanges: [],
    health: { verdict: 'skipped' },
    rolledBack: false,
    stages: [],
    changed: [],
    healthNotes: [],
  }
}

/** The action's outputs, named exactly as docs/CONTRACT.md. */
export interface Outputs {
  'app-name': string
  'app-url': string
  'release-version': string
  image: string
  'machine-ids': string
  'flyctl-version': string
  'fly-config': string
  'secrets-synced': string
  health: HealthVerdict
  'rolled-back': 'true' | 'false'
  released: 'true' | 'false'
  'snapshot-id': string
  'gateway-release': string
}

export function buildOutputs(run: RunRecord): Outputs {
  const dry = run.dryRunPlan !== undefined
  return {
    'app-name': run.app,
    'app-url': run.private ? '' : run.url,
    'release-version': run.release === undefined ? '' : String(run.servingRelease ?? run.release),
    image: run.image ?? '',
    'machine-ids': run.machines.map((m) => m.id).join(','),
    'flyctl-version': run.flyctlVersion ?? '',
    'fly-config': run.flyConfig ?? '',
    // A dry run syncs nothing; the names it would sync are in the summary's plan.
    'secrets-synced': dry ? '' : run.secretsSynced.join(','),
    health: dry ? 'skipped' : run.health.verdict,
    'rolled-back': run.rolledBack ? 'true' : 'false',
    released: !dry && (run.released === true || run.rolledBack) ? 'true' : 'false',
    'snapshot-id': run.upgrade?.snapshotId ?? '',
    'gateway-release': gatewayReleaseOutput(run),
  }
}

/** Machine rows for the summary, from `machines list --json`; destroyed machines left out. */
export function machineRows(machines: readonly Machine[]): MachineRow[] {
  return machines
    .filter((m) => m.state !== 'destroyed' && m.state !== 'destroying')
    .map((m) => ({
      id: m.id,
      region: m.region,
      state: m.state,
      memoryMb: m.config.guest?.memory_mb,
      command: m.config.init?.cmd ? m.config.init.cmd.join(' ') : undefined,
    }))
}

// --- summary ------------------------------------------------------------------------------

/** The job summary as markdown, section by section. Pure; the edge scrubs it once more before writing. */
export function buildSummary(run: RunRecord): string {
  const dry = run.dryRunPlan !== undefined
  const sections: Array<(run: RunRecord) => string[]> = [
    headline,
    overview,
    (r) =>
      r.secretsDropped?.length
        ? ['### Secrets not synced', '', ...r.secretsDropped.map((d) => `- ${code(d.name)}: ${escapeText(d.why)}`), '']
        : [],
    (r) => (r.dryRunPlan ? dryRunSection(r.dryRunPlan) : []),
    (r) => (r.previewNotes?.length ? ['### Preview', '', ...r.previewNotes.map((n) => `- ${escapeText(n)}`), ''] : []),
    fingerprintSection,
    healthSection,
    (r) =>
      r.upgrade?.notes.length
        ? [
            `### Gateway upgrade ${escapeText(`${r.upgrade.from ?? 'unknown'} -> ${r.upgrade.to ?? 'unknown'}`)}`,
            '',
            ...r.upgrade.notes.map(markdownNote),
            '',
          ]
        : [],
    changedSection,
    machinesSection,
    (r) => (dry ? [] : [...secretsSection(r), ...overridesSection(r), ...ipSection(r)]),
    stagesSection,
  ]
  return sections.flatMap((section) => section(run)).join('\n')
}

function headline(run: RunRecord): string[] {
  const title = run.error
    ? `❌ Deploy of ${code(run.app)} failed`
    : run.dryRunPlan
      ? `🧪 Dry run for ${code(run.app)}: nothing was changed on Fly`
      : run.rolledBack
        ? `⚠️ ${code(run.app)} rolled back`
        : (run.heading ??
          (run.fingerprint?.unchanged
            ? `✅ Nothing changed: ${code(run.app)} was not redeployed`
            : `✅ Deployed ${code(run.app)}`))
  return [`## ${title}`, '', ...(run.error ? [...run.error.split(/\r?\n/).map((l) => `> ${escapeText(l)}`), ''] : [])]
}

function overview(run: RunRecord): string[] {
  const serving =
    run.rolledBack && run.servingRelease !== undefined ? `, rolled back: v${run.servingRelease} serves` : ''
  const rows: Array<[string, string | undefined]> = [
    ['App', code(run.app)],
    ['URL', run.private ? 'none (private deployment: no public IPs)' : run.url ? escapeText(run.url) : '—'],
    ['Release', run.release !== undefined ? `v${run.release}${serving}` : '—'],
    ['Image', run.image ? code(run.image) : '—'],
    ['Health', `${run.health.verdict}${run.health.message ? `: ${escapeText(run.health.message)}` : ''}`],
    ['Rolled back', run.rolledBack ? 'yes' : 'no'],
    ['flyctl', run.flyctlVersion ? code(run.flyctlVersion) : undefined],
    ['Config', run.flyConfig ? code(run.flyConfig) : undefined],
    ['Gateway release', run.gatewayRelease ? escapeText(run.gatewayRelease) : undefined],
  ]
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined)
  return [
    ...table(
      ['', ''],
      shown.map(([k, v]) => [`**${k}**`, v]),
    ),
    '',
  ]
}

/** What the release fingerprint compared, and what came of it (no release, or why one was made). */
function fingerprintSection(run: RunRecord): string[] {
  const f = run.fingerprint
  if (!f) return []
  return [
    '### Release fingerprint',
    '',
    escapeText(f.outcome),
    '',
    'Compared:',
    '',
    ...f.compared.map((c) => `- ${escapeText(c)}`),
    ...f.notes.map((n) => `\n> ${escapeText(n)}`),
    '',
  ]
}

function healthSection(run: RunRecord): string[] {
  const out: string[] = []
  if (run.healthNotes.length) out.push('### Health gate', '', ...run.healthNotes.map((n) => `- ${escapeText(n)}`), '')
  if (run.healthEvidence?.length)
    out.push("The gateway's own lines this verdict rests on:", '', ...run.healthEvidence.map((l) => `- ${code(l)}`), '')
  return out
}

/** What the run changed on Fly (the change journal); a failed or cancelled run also says where it stopped. */
function changedSection(run: RunRecord): string[] {
  const changes = run.changed.map((c) => `- ${escapeText(c)}`)
  if (!run.error) return run.changed.length && !run.dryRunPlan ? ['### Changed on Fly', '', ...changes, ''] : []
  const stopped = run.stages.find((s) => s.status === 'failed')
  const last = run.stages.at(-1)
  const where = stopped
    ? `In the ${code(stopped.name)} stage.`
    : last
      ? `After the ${code(last.name)} stage.`
      : 'Before the first stage.'
  return [
    '### Where the run stopped',
    '',
    where,
    '',
    run.changed.length ? 'Already changed on Fly:' : 'Nothing had been changed on Fly.',
    '',
    ...(changes.length ? [...changes, ''] : []),
  ]
}

function machinesSection(run: RunRecord): string[] {
  if (run.machines.length === 0) return ['### Machines', '', 'none read', '']
  const rows = run.machines.map((m) => [
    code(m.id),
    escapeText(m.region),
    escapeText(m.state),
    m.memoryMb === undefined ? '—' : `${m.memoryMb} MB`,
    m.command ? code(m.command) : '—',
  ])
  return ['### Machines', '', ...table(['ID', 'Region', 'State', 'Memory', 'Command'], rows), '']
}

function secretsSection(run: RunRecord): string[] {
  const pruned = run.secretsPruned.length ? ['', `Pruned: ${run.secretsPruned.map(code).join(', ')}`] : []
  return [
    '### Secrets synced (names only)',
    '',
    run.secretsSynced.length ? run.secretsSynced.map(code).join(', ') : 'none',
    ...pruned,
    '',
  ]
}

function overridesSection(run: RunRecord): string[] {
  if (run.overrides.length === 0) {
    const wanted = run.overridesWanted.length
      ? `${run.overridesWanted.map(escapeText).join('; ')}: applied by the deploy's config; no machine had drifted afterwards`
      : 'none asked for'
    return ['### Overrides applied', '', wanted, '']
  }
  const rows = run.overrides.map((o) => [
    code(o.machineId),
    o.command ? code(o.command) : '—',
    o.memoryMb === undefined ? '—' : `${o.memoryMb} MB`,
  ])
  return ['### Overrides applied', '', ...table(['Machine', 'Command', 'Memory'], rows), '']
}

function ipSection(run: RunRecord): string[] {
  return [
    '### IP changes',
    '',
    ...(run.ipChanges.length
      ? run.ipChanges.map((c) => `- ${c.action} ${escapeText(c.type)} ${code(c.address)}`)
      : ['none']),
    '',
  ]
}

function stagesSection(run: RunRecord): string[] {
  if (run.stages.length === 0) return ['### Stages', '', 'none ran', '']
  const rows = run.stages.map((s) => [escapeText(s.name), s.status, formatMs(s.ms), s.note ? escapeText(s.note) : ''])
  return ['### Stages', '', ...table(['Stage', 'Status', 'Time', 'Note'], rows), '']
}

function dryRunSection(plan: DryRunPlan): string[] {
  const list = (items: string[], render: (s: string) => string = escapeText): string =>
    items.length ? items.map(render).join(', ') : 'none'
  return [
    '### Plan',
    '',
    ...table(
      ['Step', 'Would do'],
      [
        ['Create', list(plan.create)],
        ['Secrets to add', list(plan.secretsAdd, code)],
        ['Secrets to re-import', list(plan.secretsUpdate, code)],
        ['Secrets to prune', list(plan.secretsPrune, code)],
        ['Deploy', plan.deployCommand ? code(plan.deployCommand) : '—'],
        ['Overrides', list(plan.overrides)],
        ['IP changes', list(plan.ipChanges)],
      ],
    ),
    '',
  ]
}

/** A note whose `backticked` commands show as code, the rest as text. */
function markdownNote(note: string): string {
  return `- ${note
    .split('`')
    .map((part, i) => (i % 2 === 1 ? code(part) : escapeText(part)))
    .join('')}`
}

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ]
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '&#124;')
}

/** Text safe inside a table cell or a list item: no markup, no cell breaks, one line. */
function escapeText(s: string): string {
  return escapeHtml(s.replace(/([\\`*_[\]#])/g, '\\$1')).replace(/\r?\n/g, ' ')
}

/** An inline code span that survives any content (backticks, pipes, newlines). */
function code(s: string): string {
  return `<code>${escapeHtml(s).replace(/\r?\n/g, ' ')}</code>`
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const whole = Math.round(seconds)
  return `${Math.floor(whole / 60)} min ${whole % 60} s`
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? ''
}

// --- edge ---------------------------------------------------------------------------------

/** Set every output and write the job summary; runs for failed runs too, so it never throws. */
export async function writeReport(run: RunRecord, redact: (text: string) => string): Promise<Outputs> {
  const outputs = buildOutputs(run)
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
  try {
    await core.summary.addRaw(redact(buildSummary(run)), true).write()
  } catch (err) {
    // Outside Actions (no GITHUB_STEP_SUMMARY) the summary has nowhere to go; the outputs are set.
    core.warning(`could not write the job summary: ${redact(errorText(err))}`)
  }
  return outputs
}
