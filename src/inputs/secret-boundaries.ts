/**
 * docs/CONTRACT.md, "Secret boundaries": which names never reach the app, what `secrets-json` drops (and
 * why, by name only), and where a secret's value must never land: `[env]` (plain text in fly.toml
 * and on Fly), `build-args` and `deploy-args` (flyctl's command line), and values that
 * `fly secrets import` cannot carry. Pure functions; inputs.ts turns their answers into problems.
 */

export interface Dropped {
  name: string
  why: string
}

/** Names never synced to the app, whatever `secrets-include` says, each with why. */
const NEVER_SYNCED: Array<[RegExp, string]> = [
  [/^(FLY_API_TOKEN|FLY_ACCESS_TOKEN)$/i, 'the Fly token stays with flyctl and is never synced to the app'],
  [/^GITHUB_TOKEN$/i, "GitHub's job token is never synced to the app"],
  [/^ACTIONS_/i, 'ACTIONS_* names belong to the GitHub runner and are never synced to the app'],
]

/** `secrets-json` names are environment names, upper-case (`^[A-Z_][A-Z0-9_]*$`). */
export const UPPER_ENV_NAME = /^[A-Z_][A-Z0-9_]*$/

/** Why a name (or a value: the Fly token's) may never be synced, or undefined. */
export function neverSynced(name: string, value: unknown, apiToken: string): string | undefined {
  const rule = NEVER_SYNCED.find(([re]) => re.test(name))
  if (rule) return rule[1]
  if (typeof value === 'string' && containsFlyToken(value, apiToken))
    return 'its value contains the Fly token (`api-token`), which is never synced to the app'
  return undefined
}

/**
 * Whether a value holds the Fly token or one of its macaroons: a `FlyV1 fm2_...,fm2_...` token is
 * a comma-separated list, and any one of them is a credential (fly-go tokens.go). Real tokens run
 * to hundreds of characters; a piece under 16 is matched whole only, so it cannot catch words.
 */
export function containsFlyToken(value: string, apiToken: string): boolean {
  const token = apiToken.trim()
  if (token === '') return false
  if (value === token) return true
  const parts = [token, ...token.replace(/^FlyV1\s+/, '').split(',')]
    .map((p) => p.trim())
    .filter((p) => p.length >= MIN_TOKEN_PIECE)
  return parts.some((p) => value.includes(p))
}

const MIN_TOKEN_PIECE = 16

/** Below this length the runner's mask of a value (`***`) hits ordinary words all over the job's log. */
export const SHORT_SECRET_CHARS = 4

/** The warning for a synced secret whose value is very short, naming it (never the value). */
export function shortSecretWarning(name: string, value: string): string | undefined {
  if (value.length >= SHORT_SECRET_CHARS) return undefined
  return (
    `secret ${name} has a value of ${value.length} character${value.length === 1 ? '' : 's'}: the runner masks a secret's value everywhere in the job's log, ` +
    `so every occurrence of it in any step's output becomes *** (and so short a value is easy to guess). ` +
    'If it is not secret, pass it in `env`; otherwise use a longer value'
  )
}

/** Why `secrets-json` drops this entry, or undefined when it is synced. */
export function dropReason(
  name: string,
  value: unknown,
  include: readonly RegExp[],
  apiToken: string,
): string | undefined {
  const never = neverSynced(name, value, apiToken)
  if (never) return never
  if (!UPPER_ENV_NAME.test(name))
    return 'not an upper-case environment name (A-Z, 0-9, _); rename the repository secret to upper case to sync it'
  if (!include.some((re) => re.test(name))) return 'not matched by `secrets-include`'
  return undefined
}

/** bufio.Scanner's default MaxScanTokenSize, which flyctl's import parser reads lines with. */
const MAX_LINE_BYTES = 64 * 1024

/**
 * Why `fly secrets import` cannot carry a value (internal/command/secrets/parser.go reads
 * `NAME="""...` up to a line ending in `"""`, with bufio.ScanLines, which also drops a CR),
 * or undefined. Never quotes the value.
 */
export function secretValueProblem(value: string): string | undefined {
  if (value.includes('\0'))
    return 'its value holds a NUL byte, which no environment variable can carry. Fix: remove it from the value'
  if (value.includes('\r'))
    return "its value holds a carriage return, which flyctl's import drops or mangles. Fix: store the value with LF line endings only"
  if (value.includes('"""'))
    return 'its value holds """, which ends flyctl\'s multi-line form early. Fix: encode the value (for example base64) and decode it in the app'
  if (value.split('\n').some((line) => Buffer.byteLength(line, 'utf8') >= MAX_LINE_BYTES)) {
    return "a line of its value is 64 KiB or longer, past flyctl's import line limit. Fix: split the value or store it as a file"
  }
  return undefined
}

/** Non-secret OpenClaw settings that `OPENCLAW_*` in `secrets-include` would otherwise catch. */
const PLAIN_SETTINGS = new Set([
  'OPENCLAW_STATE_DIR',
  'OPENCLAW_CONFIG_PATH',
  'OPENCLAW_GATEWAY_PORT',
  'OPENCLAW_GATEWAY_BIND',
  'OPENCLAW_PREFER_PNPM',
  'OPENCLAW_LOG_LEVEL',
  'OPENCLAW_NO_RESPAWN',
  'OPENCLAW_DEPLOY_PREVIEW',
])

export interface SecretView {
  /** The synced set, name to value. */
  secrets: Map<string, string>
  apiToken: string
  include: readonly RegExp[]
}

/** The secret whose value equals `value` (the Fly token counts as `api-token`), if any. */
function secretWithValue(value: string, view: SecretView): string | undefined {
  if (value === '') return undefined
  if (value === view.apiToken) return '`api-token`'
  for (const [name, secret] of view.secrets) if (secret === value) return name
  return undefined
}

/** `env` lines that would put a secret in plain text: by name (secrets-include) or by value. */
export function envProblems(env: ReadonlyArray<readonly [string, string]>, view: SecretView): string[] {
  const problems: string[] = []
  for (const [name, value] of env) {
    const holder = secretWithValue(value, view)
    if (holder) {
      problems.push(
        `"${name}" holds the value of the secret ${holder}: [env] is plain text in fly.toml and on Fly. Fix: remove the line; the secret already reaches the machine as an environment variable${holder.startsWith('`') ? '' : ` named ${holder}`}`,
      )
    } else if (!PLAIN_SETTINGS.has(name) && !view.secrets.has(name) && view.include.some((re) => re.test(name))) {
      problems.push(
        `"${name}" is a secret name (it matches \`secrets-include\`): [env] is plain text in fly.toml and on Fly. Fix: pass it in \`secrets\` (or \`secrets-json\`) instead`,
      )
    }
  }
  return problems
}

/** `build-args` values that are secrets: they would go onto flyctl's command line. */
export function buildArgProblems(args: ReadonlyArray<readonly [string, string]>, view: SecretView): string[] {
  return args.flatMap(([name, value]) => {
    const holder = secretWithValue(value, view)
    return holder
      ? [
          `"${name}" holds the value of the secret ${holder}, and build arguments go onto flyctl's command line and into the image's history. Fix: remove it; read secrets at run time, not at build time`,
        ]
      : []
  })
}

/** Words of an argv input that contain a secret's value. */
export function argvSecretProblems(words: readonly string[], view: SecretView): string[] {
  const values = [...view.secrets.entries(), ['`api-token`', view.apiToken] as const].filter(([, v]) => v.length >= 4)
  return values
    .filter(([, v]) => words.some((w) => w.includes(v)))
    .map(
      ([name]) =>
        `a word holds the value of the secret ${name}, and these words go onto flyctl's command line. Fix: remove it`,
    )
}
