import { SecretListSchema, type SecretEntry } from '../fly/schemas.js'
import type { StageContext } from '../run/report.js'

/**
 * Secrets stage: the synced set goes to Fly with `fly secrets import --stage` on stdin, so the
 * deploy that follows applies it in its one rollout; with prune-secrets the other names are
 * unset, staged too.
 *
 * Diff by name only. `secrets list` shows a digest, but it is computed by Fly's API (flaps
 * ListAppSecrets; flyctl's internal/appsecrets/secrets.go only passes it through), so it cannot
 * be reproduced here. Every synced value is therefore re-imported each run: staged, it costs no
 * restart, and the deploy rolls the machines anyway.
 */

export interface SecretsPlan {
  /** Synced names not yet on the app. */
  add: string[]
  /** Synced names already on the app; re-imported because values cannot be compared. */
  update: string[]
  /** Names on the app that this run unsets (only with prune-secrets, never a synced name). */
  prune: string[]
  /** Names on the app that this run leaves alone. */
  unchanged: string[]
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

export function planSecrets(synced: Iterable<string>, existing: readonly SecretEntry[], prune: boolean): SecretsPlan {
  const syncedNames = new Set(synced)
  const existingNames = new Set(existing.map((s) => s.name))
  const others = [...existingNames].filter((n) => !syncedNames.has(n)).sort(byName)
  return {
    add: [...syncedNames].filter((n) => !existingNames.has(n)).sort(byName),
    update: [...syncedNames].filter((n) => existingNames.has(n)).sort(byName),
    prune: prune ? others : [],
    unchanged: prune ? [] : others,
  }
}

const GATEWAY_AUTH_NAMES = ['OPENCLAW_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_PASSWORD']

/**
 * The gateway-token rule (docs/CONTRACT.md, "Rules from the guide"), counting a token already set on the app, and the names this run
 * keeps there (a pruned token no longer counts). Returns the error text, or undefined when fine.
 */
export function gatewayAuthProblem(plan: SecretsPlan, authRequired: boolean): string | undefined {
  if (!authRequired) return undefined
  const present = new Set([...plan.add, ...plan.update, ...plan.unchanged])
  if (GATEWAY_AUTH_NAMES.some((n) => present.has(n))) return undefined
  const pruned = GATEWAY_AUTH_NAMES.filter((n) => plan.prune.includes(n))
  return (
    'the gateway binds a non-loopback address but OPENCLAW_GATEWAY_TOKEN (or OPENCLAW_GATEWAY_PASSWORD) is ' +
    (pruned.length > 0
      ? `set on the app only and prune-secrets would remove it (${pruned.join(', ')}). `
      : 'neither among the synced secrets nor set on the app. ') +
    'Non-loopback binding (--bind lan) requires a gateway token: add OPENCLAW_GATEWAY_TOKEN to the `secrets` input ' +
    '(for example a repository secret made with `openssl rand -hex 32`), or set it once with ' +
    '`fly secrets set OPENCLAW_GATEWAY_TOKEN=$(openssl rand -hex 32)`.'
  )
}

// --- flyctl's import format ---------------------------------------------------------------

/** bufio.Scanner's default MaxScanTokenSize: a longer line stops flyctl's parser silently. */
const MAX_LINE_BYTES = 64 * 1024 - 1

export class SecretFormatError extends Error {
  constructor(
    readonly secretName: string,
    reason: string,
  ) {
    // The value never appears here: only the name and why it cannot be written.
    super(`secret ${secretName} cannot be passed to \`fly secrets import\`: ${reason}`)
    this.name = 'SecretFormatError'
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The stdin text for `fly secrets import`. Each value is written in the first form that
 * flyctl's parser reads back unchanged (bare, "double", 'single', """triple"""; multi-line
 * values only as """...""" across lines); a value no form can carry is refused, naming the
 * secret and never showing its value.
 */
export function formatSecretsImport(entries: Iterable<readonly [string, string]>): string {
  const lines: string[] = []
  for (const [name, value] of entries) lines.push(formatEntry(name, value))
  return lines.map((l) => `${l}\n`).join('')
}

function formatEntry(name: string, value: string): string {
  if (!NAME.test(name))
    throw new SecretFormatError(name, 'the name must be letters, digits and _ and not start with a digit')
  if (value.includes('\0'))
    throw new SecretFormatError(name, 'the value contains a NUL byte, which no environment variable can hold')
  if (value.includes('\n') && value.includes('"""'))
    throw new SecretFormatError(name, 'the multi-line value contains """, which ends flyctl\'s multi-line form early')
  if (value.includes('\r\n'))
    throw new SecretFormatError(
      name,
      'the value has CRLF line endings, and flyctl drops the CR; convert it to LF line endings',
    )

  const candidates = value.includes('\n')
    ? [`${name}="""${value}"""`]
    : [`${name}=${value}`, `${name}="${value}"`, `${name}='${value}'`, `${name}="""${value}"""`]
  let tooLong = false
  for (const text of candidates) {
    if (text.split('\n').some((line) => Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES)) {
      tooLong = true
      continue
    }
    const parsed = parseSecretsLikeFlyctl(`${text}\n`)
    if (parsed.ok && parsed.secrets.size === 1 && parsed.secrets.get(name) === value) return text
  }
  if (tooLong)
    throw new SecretFormatError(name, `a line of the value is longer than flyctl's ${MAX_LINE_BYTES}-byte line limit`)
  throw new SecretFormatError(
    name,
    value.includes('\n')
      ? 'its first line has a # after an odd number of " characters, which flyctl reads as a comment'
      : 'its mix of quotes, # and leading spaces cannot be read back unchanged by flyctl',
  )
}

export type ParseResult = { ok: true; secrets: Map<string, string> } | { ok: false; error: string }

/**
 * A line-for-line port of flyctl's parseSecrets (internal/command/secrets/parser.go, the parser
 * behind `fly secrets import`), used to prove that what we write is read back unchanged.
 * Go's strings are bytes; every delimiter here is ASCII, so UTF-16 indexing finds the same cuts.
 */
export function parseSecretsLikeFlyctl(input: string): ParseResult {
  const secrets = new Map<string, string>()
  let multiline = false
  let parsedKey = ''
  let parsedVal = ''
  for (const line of scanLines(input)) {
    if (!multiline) {
      if (line.startsWith('#') || goTrimSpace(line) === '') continue
      const eq = line.indexOf('=')
      if (eq < 0) return { ok: false, error: 'Secrets must be provided as NAME=VALUE pairs' }
      const key = goTrimSpace(line.slice(0, eq))
      let value = line.slice(eq + 1).replace(/^ +/, '')
      const hash = value.indexOf('#')
      if (hash >= 0) {
        const before = value.slice(0, hash)
        if (countChar(before, '"') % 2 === 0) value = before.replace(/ +$/, '')
      }
      if (value.startsWith('"""') && value.endsWith('"""') && value.length >= 6) {
        secrets.set(key, value.slice(3, -3))
      } else if (value.startsWith('"""')) {
        multiline = true
        parsedKey = key
        parsedVal = `${value.slice(3)}\n`
      } else {
        const quoted = (q: string): boolean => value.startsWith(q) && value.endsWith(q)
        if (quoted('"') || quoted("'")) {
          // Go's value[1:len(value)-1] panics on a lone quote character.
          if (value.length < 2) return { ok: false, error: 'flyctl would panic on a lone quote' }
          value = value.slice(1, -1)
        }
        secrets.set(key, value)
      }
    } else if (line.endsWith('"""')) {
      secrets.set(parsedKey, parsedVal + line.slice(0, -3))
      parsedVal = ''
      parsedKey = ''
      multiline = false
    } else {
      parsedVal += `${line}\n`
    }
  }
  return { ok: true, secrets }
}

/** bufio.ScanLines: split on \n, drop one CR before it, keep a final unterminated line. */
function scanLines(input: string): string[] {
  const lines = input.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
}

// Go's unicode.IsSpace set, which strings.TrimSpace uses.
const GO_SPACE =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g
function goTrimSpace(s: string): string {
  return s.replace(GO_SPACE, '')
}

function countChar(s: string, ch: string): number {
  let n = 0
  for (const c of s) if (c === ch) n++
  return n
}

// --- edge ---------------------------------------------------------------------------------

export interface SecretsOptions {
  /** False when the app does not exist yet (a dry run before creation): nothing to list. */
  appExists: boolean
  /** The rendered command binds a non-loopback address: the gateway-token rule applies. */
  gatewayAuthRequired: boolean
  /** The app's secrets when this run already listed them; listed here when undefined. */
  existing?: readonly SecretEntry[]
}

export interface SecretsResult extends SecretsPlan {
  /** The synced names (the `secrets-synced` output), sorted. */
  synced: string[]
  dryRun: boolean
}

export async function syncSecrets(ctx: StageContext, options: SecretsOptions): Promise<SecretsResult> {
  const { flyctl, plan, log } = ctx
  const existing =
    options.existing ??
    (options.appExists
      ? await flyctl.json(['secrets', 'list', '--app', plan.app], SecretListSchema, { retry: { safe: 'reading' } })
      : [])
  const secretsPlan = planSecrets(plan.secrets.keys(), existing, plan.pruneSecrets)
  const authProblem = gatewayAuthProblem(secretsPlan, options.gatewayAuthRequired)
  if (authProblem) throw new Error(authProblem)

  // Formatting checks every value, so a dry run refuses what the real run would refuse.
  const stdin = formatSecretsImport(plan.secrets)
  const synced = [...plan.secrets.keys()].sort(byName)
  const result: SecretsResult = { ...secretsPlan, synced, dryRun: plan.dryRun }
  if (plan.dryRun) return result

  // flyctl refuses an empty import ("requires at least one SECRET=VALUE pair").
  if (synced.length > 0) {
    await flyctl.run(['secrets', 'import', '--stage', '--app', plan.app], {
      stdin,
      change: `staged secrets ${synced.join(', ')}`,
      retry: { safe: 'idempotent', why: 'staging the same values again leaves the same staged set' },
    })
    log.info(`Staged ${synced.length} secret(s): ${synced.join(', ')}`)
  }
  if (secretsPlan.prune.length > 0) {
    await flyctl.run(['secrets', 'unset', '--stage', '--app', plan.app, ...secretsPlan.prune], {
      retry: {
        safe: 'once',
        why: 'a repeat after a lost answer fails on names already unset; re-run the job, which prunes what is left',
      },
    })
    log.info(`Staged removal of ${secretsPlan.prune.length} secret(s): ${secretsPlan.prune.join(', ')}`)
  }
  return result
}
