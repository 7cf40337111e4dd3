import * as fs from 'node:fs'
import * as path from 'node:path'
import * as core from '@actions/core'
import { z } from 'zod'
import { BIND_MODES, STRATEGIES, type Plan } from './plan.js'
import type { InputReader } from './input-context.js'
import { hideUrlCredentials, type Redactor } from '../shared/redact.js'
import { parseDeployArgs } from './deploy-args.js'
import {
  argvSecretProblems,
  buildArgProblems,
  dropReason,
  envProblems,
  neverSynced,
  secretValueProblem,
  shortSecretWarning,
  type Dropped,
  type SecretView,
} from './secret-boundaries.js'
import {
  CHANNEL_TOKEN_GLOBS,
  checkForkPreview,
  checkPreviewTarget,
  forkPreviewDrops,
  readModeInputs,
  type ModeInputs,
} from './preview-inputs.js'
import { SecretSelection, syncedName } from './secrets-select.js'
import { claimRunDirs } from '../run/run-dir.js'
import { ShellWordsError, splitShellWords } from '../shared/shell-words.js'
import { parseMemoryMb } from '../shared/units.js'

/**
 * The inputs stage: every input of docs/CONTRACT.md is read here and nowhere else, checked, and turned into
 * one typed Plan. Secret values are masked the moment they are read, before anything is logged.
 * All problems are collected and reported together, each naming its input and the fix, so a user
 * fixes a workflow in one round trip; nothing has reached Fly at this point.
 */

/** The names (and only the names) of the inputs in docs/CONTRACT.md, in its order. */
export const INPUT_NAMES = [
  'app',
  'api-token',
  'org',
  'region',
  'create',
  'private',
  'config',
  'port',
  'bind',
  'command',
  'vm-size',
  'memory',
  'volume',
  'volume-size',
  'state-dir',
  'env',
  'secrets',
  'secrets-json',
  'secrets-include',
  'prune-secrets',
  'gateway-config',
  'image',
  'dockerfile',
  'build-args',
  'strategy',
  'deploy-args',
  'machine-command',
  'machine-memory',
  'health-timeout',
  'health-channels',
  'health-url',
  'fix-stale-lock',
  'rollback',
  'upgrade-snapshot',
  'flyctl-version',
  'flyctl-mirror',
  'dry-run',
  'working-directory',
  'mode',
  'secrets-prefix',
  'github-token',
  'allow-fork-previews',
  'skip-unchanged',
] as const
export type InputKey = (typeof INPUT_NAMES)[number]

/** The OpenClaw provider and channel secret names that `secrets-json` passes by default. */
export const DEFAULT_SECRETS_INCLUDE = [
  'OPENCLAW_*',
  'ANTHROPIC_*',
  'OPENAI_*',
  'GEMINI_*',
  'GOOGLE_*',
  'OPENROUTER_*',
  'GROQ_*',
  'XAI_*',
  'MISTRAL_*',
  'DEEPSEEK_*',
  'DISCORD_*',
  'TELEGRAM_*',
  'SLACK_*',
  'WHATSAPP_*',
  'SIGNAL_*',
  'MATRIX_*',
  'TWILIO_*',
  'BRAVE_*',
  'ELEVENLABS_*',
]

export interface InputProblem {
  input: InputKey
  message: string
}

export class InputError extends Error {
  readonly problems: InputProblem[]

  constructor(problems: InputProblem[]) {
    super(
      problems.length === 1
        ? `Input \`${problems[0]?.input}\`: ${problems[0]?.message}`
        : `${problems.length} inputs need fixing:\n` + problems.map((p) => `- \`${p.input}\`: ${p.message}`).join('\n'),
    )
    this.name = 'InputError'
    this.problems = problems
  }
}

/** The reader of every input (src/inputs/input-context.ts). */
export type InputContext = InputReader<InputKey>

// ---------------------------------------------------------------- grammar pieces (zod)

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Message of the first zod issue, for an input error. */
function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'invalid value'
}

const booleanInput = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    // The YAML 1.2 core schema spellings that @actions/core's getBooleanInput accepts; nothing else.
    z.enum(['true', 'True', 'TRUE', 'false', 'False', 'FALSE'], {
      error: (iss) => `must be \`true\` or \`false\`, got "${String(iss.input)}"`,
    }),
  )
  .transform((s) => s.toLowerCase() === 'true')

/** A whole number in [min, max]; `unit` (plural, or '' for a bare number) only words the message. */
function integerInput(min: number, max: number, unit: string): z.ZodType<number, string> {
  const of = unit ? ` of ${unit}` : ''
  const suffix = unit ? ` ${unit}` : ''
  return z
    .string()
    .regex(/^\d+$/, { error: (iss) => `must be a whole number${of} from ${min} to ${max}, got "${String(iss.input)}"` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be at least ${min}${suffix}` })
        .max(max, { error: `must be at most ${max}${suffix}` }),
    )
}

const memoryInput = z.string().transform((text, ctx) => {
  const mb = parseMemoryMb(text)
  if (mb === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be a size like \`2048mb\`, \`2gb\` or \`2048\` (MB), got "${text}"` })
    return z.NEVER
  }
  if (mb < 256 || mb > 131072) {
    ctx.addIssue({ code: 'custom', message: `must be between 256mb and 128gb, got ${mb} MB` })
    return z.NEVER
  }
  return mb
})

const urlInput = z.string().transform((text, ctx) => {
  try {
    const url = new URL(text)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme')
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: 'must not carry credentials; pass them as secrets instead' })
      return z.NEVER
    }
    return text.replace(/\/+$/, '')
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be an http(s) URL, got "${hideUrlCredentials(text)}"` })
    return z.NEVER
  }
})

/**
 * The cloud metadata service and other link-local hosts (169.254.0.0/16, fe80::/10, AWS's IPv6
 * fd00:ec2::254, and the IPv4-mapped forms; the URL parser has already turned decimal and hex
 * IPv4 spellings into dotted ones): a probe there would read the runner's cloud credentials.
 */
export function isLinkLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (/^169\.254\.\d+\.\d+$/.test(host) || host === 'metadata.google.internal') return true
  if (/^fe[89ab][0-9a-f]:/.test(host) || host === 'fd00:ec2::254') return true
  // ::ffff:169.254.x.y as the URL parser writes it: ::ffff:a9fe:xxxx.
  return /^::ffff:a9fe:[0-9a-f]{1,4}$/.test(host)
}

const healthUrlInput = urlInput.refine((url) => !isLinkLocalHost(new URL(url).hostname), {
  error:
    "points at a link-local or cloud metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254): the probe would run on the runner, where that address serves its cloud credentials; use the app's public URL",
})

const patterns = {
  app: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, {
    error: (iss) =>
      `"${String(iss.input)}" is not a Fly app name: use 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit`,
  }),
  org: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
    error: (iss) =>
      `"${String(iss.input)}" is not an org slug (lower-case letters, digits, hyphens; see \`fly orgs list\`)`,
  }),
  region: z.string().regex(/^[a-z]{3}$/, {
    error: (iss) =>
      `"${String(iss.input)}" is not a Fly region code (three letters such as \`iad\`, \`lhr\`, \`sjc\`; see \`fly platform regions\`)`,
  }),
  vmSize: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, {
    error: (iss) =>
      `"${String(iss.input)}" is not a VM size (such as \`shared-cpu-2x\` or \`performance-1x\`; see \`fly platform vm-sizes\`)`,
  }),
  // Fly: "Volume name must consist of only lowercase alphanumeric characters and _, and be 30 characters or fewer".
  volume: z.string().regex(/^[a-z0-9_]{1,30}$/, {
    error: (iss) => `"${String(iss.input)}" is not a volume name (up to 30 lower-case letters, digits and underscores)`,
  }),
  stateDir: z.string().regex(/^\/[^\s]*$/, {
    error: (iss) => `"${String(iss.input)}" must be an absolute path inside the machine, such as \`/data\``,
  }),
  image: z.string().regex(/^[^\s]+$/, {
    error: 'must be an image reference without spaces, such as `ghcr.io/openclaw/openclaw:2026.9.6`',
  }),
  flyctlVersion: z
    .string()
    .regex(/^(latest|v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)$/, {
      error: (iss) =>
        `"${String(iss.input)}" is not a flyctl version: use an exact version such as \`0.4.87\`, or \`latest\``,
    })
    .transform((v) => v.replace(/^v/, '')),
  channel: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
    error: (iss) => `"${String(iss.input)}" is not a channel name (such as \`discord\`, \`telegram\`, \`slack\`)`,
  }),
}

// ---------------------------------------------------------------- line lists

interface LineEntry {
  name: string
  value?: string
  line: number
}

/** `NAME=VALUE` lines, split at the first `=`; blank lines and `#` comments skipped. */
function parseLines(text: string, allowBare: boolean): { entries: LineEntry[]; problems: string[] } {
  const entries: LineEntry[] = []
  const problems: string[] = []
  const seen = new Map<string, number>()
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    const lineNo = index + 1
    if (line === '' || line.startsWith('#')) return
    const eq = line.indexOf('=')
    const name = (eq < 0 ? line : line.slice(0, eq)).trim()
    if (!ENV_NAME.test(name)) {
      // Show only the part before `=`: the rest may be a secret.
      problems.push(
        `line ${lineNo}: "${name.slice(0, 40)}" is not a valid variable name (letters, digits, underscores; not starting with a digit)`,
      )
      return
    }
    if (eq < 0 && !allowBare) {
      problems.push(`line ${lineNo}: "${name}" has no \`=VALUE\``)
      return
    }
    const previous = seen.get(name)
    if (previous !== undefined) {
      problems.push(`line ${lineNo}: "${name}" is set again (first on line ${previous}); keep one`)
      return
    }
    seen.set(name, lineNo)
    entries.push({ name, value: eq < 0 ? undefined : raw.slice(raw.indexOf('=') + 1).trim(), line: lineNo })
  })
  return { entries, problems }
}

function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'))
}

/** `*` any run of characters, `?` one; whole-name match, case-sensitive like env names. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`)
}

// ---------------------------------------------------------------- the stage

type Problem = (input: InputKey, message: string) => void

/** What every reader below shares: the raw inputs, and where problems are recorded. */
interface Reader {
  ctx: InputContext
  /** One input's value, trimmed. */
  raw: (name: InputKey) => string
  problem: Problem
  /** Parse a non-empty input with a schema; undefined (and a recorded problem) when it fails. */
  parse: <T>(name: InputKey, schema: z.ZodType<T, string>, fallback?: string) => T | undefined
}

function makeReader(ctx: InputContext, problems: InputProblem[]): Reader {
  const problem: Problem = (input, message) => {
    problems.push({ input, message })
  }
  const raw = (name: InputKey): string => ctx.read(name).trim()
  const parse = <T>(name: InputKey, schema: z.ZodType<T, string>, fallback?: string): T | undefined => {
    const text = raw(name) || fallback
    if (text === undefined || text === '') return undefined
    const result = schema.safeParse(text)
    if (result.success) return result.data
    problem(name, firstIssue(result.error))
    return undefined
  }
  return { ctx, raw, problem, parse }
}

/**
 * Every input, in the contract's groups. The order of the reads is the order of the problems in the
 * error, and secrets come first: masked before any other line of ours can be logged.
 */
export function parseInputs(ctx: InputContext): Plan {
  const problems: InputProblem[] = []
  const r = makeReader(ctx, problems)
  const { parse } = r
  const secrets = readSecretInputs(r)
  const { apiToken, modes, selection } = secrets
  const app = readAppInput(r, secrets)
  const workingDirectory = readWorkingDirectory(r)
  const source = readSourceInputs(r, workingDirectory, secrets.view)
  const gateway = readGatewayInputs(r)
  const rollout = readRolloutInputs(r, secrets.view)
  const machine = readMachineInputs(r)
  const health = readHealthInputs(r, app)
  const env = readEnvInput(r, secrets)

  const plan: Plan = {
    app: app ?? '',
    apiToken,
    org: parse('org', patterns.org, 'personal') ?? 'personal',
    create: parse('create', booleanInput, 'true') ?? true,
    private: health.private,
    config: source.config,
    region: parse('region', patterns.region),
    ...gateway,
    vmSize: machine.vmSize,
    memoryMb: machine.memoryMb,
    volume: rollout.volume,
    stateDir: parse('state-dir', patterns.stateDir),
    env,
    volumeSizeGb: parse('volume-size', integerInput(1, 500, 'GB'), '1') ?? 1,
    secrets: selection.values,
    secretSources: selection.sources,
    secretsDropped: secrets.dropped,
    secretWarnings: [...selection.values].flatMap(([name, value]) => shortSecretWarning(name, value) ?? []),
    pruneSecrets: parse('prune-secrets', booleanInput, 'false') ?? false,
    allowForkPreviews: secrets.allowForkPreviews,
    gatewayConfig: source.gatewayConfig,
    image: source.image,
    dockerfile: source.dockerfile,
    buildArgs: source.buildArgs,
    strategy: rollout.strategy,
    deployArgs: rollout.deployArgs,
    machineCommand: rollout.machineCommand,
    machineMemoryMb: machine.machineMemoryMb,
    healthTimeoutSec: parse('health-timeout', integerInput(30, 3600, 'seconds'), '300') ?? 300,
    healthChannels: health.healthChannels,
    healthUrl: health.healthUrl,
    fixStaleLock: parse('fix-stale-lock', booleanInput, 'true') ?? true,
    rollback: parse('rollback', booleanInput, 'true') ?? true,
    upgradeSnapshot: parse('upgrade-snapshot', booleanInput, 'true') ?? true,
    skipUnchanged: parse('skip-unchanged', booleanInput, 'true') ?? true,
    flyctlVersion: parse('flyctl-version', patterns.flyctlVersion, ctx.pinnedFlyctlVersion) ?? ctx.pinnedFlyctlVersion,
    flyctlMirror: parse('flyctl-mirror', urlInput),
    dryRun: parse('dry-run', booleanInput, 'false') ?? false,
    workingDirectory,
    runnerTemp: ctx.runnerTemp,
    ...runnerFacts(ctx.env),
    mode: modes.mode,
    secretsPrefix: modes.secretsPrefix,
    secretsPrefixed: selection.prefixed,
    githubToken: modes.githubToken,
    ...(modes.repository ? { repository: modes.repository } : {}),
    ...(modes.pullRequest ? { pullRequest: modes.pullRequest } : {}),
  }

  if (problems.length > 0) throw new InputError(problems)
  return plan
}

interface SecretInputs {
  apiToken: string
  modes: ModeInputs
  selection: SecretSelection
  view: SecretView
  dropped: Dropped[]
  allowForkPreviews: boolean
}

/** The token, the mode and the secrets, each value masked as it is read. */
function readSecretInputs(r: Reader): SecretInputs {
  const { ctx, raw, problem } = r
  const apiToken = ctx.read('api-token').trim() || (ctx.env.FLY_API_TOKEN ?? '').trim()
  ctx.redactor.add(apiToken)
  const modes = readModeInputs(ctx, problem)
  const selection = new SecretSelection()
  const includeText = raw('secrets-include')
  // A preview leaves the channel tokens out by default: a second gateway on production's bot token takes its connection over.
  const defaults =
    modes.mode === 'preview'
      ? DEFAULT_SECRETS_INCLUDE.filter((g) => !CHANNEL_TOKEN_GLOBS.includes(g))
      : DEFAULT_SECRETS_INCLUDE
  const include = (includeText ? splitList(includeText) : defaults).map(globToRegExp)
  const view: SecretView = { secrets: selection.values, apiToken, include }
  const dropped = readSecretsJson(ctx, raw, problem, view, selection, modes.secretsPrefix)
  readSecretLines(ctx, problem, view, selection, modes.secretsPrefix)
  const allowForkPreviews = r.parse('allow-fork-previews', booleanInput, 'false') ?? false
  dropped.push(...forkPreviewDrops(modes, selection))
  return { apiToken, modes, selection, view, dropped, allowForkPreviews }
}

/** The app's name; the token's problems are reported here, next to it. */
function readAppInput(r: Reader, secrets: SecretInputs): string | undefined {
  const { raw, problem } = r
  const { apiToken, modes } = secrets
  if (apiToken === '') {
    problem(
      'api-token',
      "no Fly token: set `api-token: ${{ secrets.FLY_API_TOKEN }}` (create one with `fly tokens create deploy`), or FLY_API_TOKEN in the step's env",
    )
  } else if (/[\r\n]/.test(apiToken)) {
    problem('api-token', 'the token spans several lines; paste it as one line (`fly tokens create deploy` prints one)')
  }
  const app = r.parse('app', patterns.app)
  if (raw('app') === '') problem('app', 'is required: the name of your Fly app, such as `my-openclaw`')
  checkPreviewTarget(modes, app, apiToken, problem)
  checkForkPreview(modes, secrets.allowForkPreviews, problem)
  return app
}

function readWorkingDirectory(r: Reader): string {
  const { raw, problem, ctx } = r
  const workingDirectory = path.resolve(ctx.workspace, raw('working-directory') || '.')
  if (!isDirectory(workingDirectory)) {
    problem(
      'working-directory',
      `"${raw('working-directory')}" is not a directory (resolved to ${workingDirectory}); check out the repository first, or fix the path`,
    )
    return workingDirectory
  }
  return insideWorkspace(r, 'working-directory', workingDirectory) ?? workingDirectory
}

/**
 * A path input, symlinks followed (realpath), must stay inside GITHUB_WORKSPACE (itself resolved):
 * a link to the runner's ~/.docker/config.json or /proc/self/environ would otherwise deliver that
 * file to the machine. Checked before anything reads the file; returns the resolved path.
 */
function insideWorkspace({ raw, problem, ctx }: Reader, name: InputKey, full: string): string | undefined {
  const workspace = realpathOr(ctx.workspace)
  const real = realpathOr(full)
  const rel = path.relative(workspace, real)
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return real
  problem(
    name,
    `"${raw(name) || path.basename(full)}" resolves to ${real}${real !== full ? ` (through a symlink at ${full})` : ''}, outside the workspace ${workspace}; it was not read. ` +
      'Fix: point it at a file of the checkout (a symlink must stay inside the workspace too)',
  )
  return undefined
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p)
  } catch {
    return p
  }
}

/** A file input's absolute path (relative to working-directory), resolved inside the workspace; a problem when it is missing or outside. */
function existingFile(r: Reader, workingDirectory: string, name: InputKey, hint: string): string | undefined {
  const given = r.raw(name)
  if (!given) return undefined
  const full = path.resolve(workingDirectory, given)
  const inside = insideWorkspace(r, name, full)
  if (inside === undefined) return full
  if (!isFile(inside)) r.problem(name, `file "${given}" not found (looked at ${full}); ${hint}`)
  return inside
}

/** Where the config, the gateway's config and the image come from. */
function readSourceInputs(
  r: Reader,
  workingDirectory: string,
  view: SecretView,
): Pick<Plan, 'config' | 'gatewayConfig' | 'image' | 'dockerfile' | 'buildArgs'> {
  const { raw, problem } = r
  const file = (name: InputKey, hint: string): string | undefined => existingFile(r, workingDirectory, name, hint)
  const config = file(
    'config',
    "give the path of your fly.toml relative to `working-directory`, or leave it empty to use the guide's defaults",
  )
  const gatewayConfig = file('gateway-config', 'give the path of your openclaw.json relative to `working-directory`')
  const image = r.parse('image', patterns.image)
  const dockerfileGiven = raw('dockerfile')
  const dockerfile = dockerfileGiven
    ? (file('dockerfile', "give the Dockerfile's path relative to `working-directory`, or set `image` instead") ?? '')
    : path.join(workingDirectory, 'Dockerfile')
  // The default Dockerfile is held to the workspace too when it is there (a symlink may lead out).
  if (!dockerfileGiven && !image && fs.existsSync(dockerfile)) insideWorkspace(r, 'dockerfile', dockerfile)
  if (image && dockerfileGiven)
    problem(
      'image',
      'is set together with `dockerfile`: set `image` to deploy a built image, or `dockerfile` to build one, not both',
    )

  const buildArgs = parseNameValueInput(r.ctx, 'build-args', problem)
  for (const p of buildArgProblems(buildArgs, view)) problem('build-args', p)
  if (image && buildArgs.length > 0)
    problem('build-args', 'has no effect with `image` (nothing is built); remove it or deploy from the Dockerfile')
  return { config, gatewayConfig, image, dockerfile, buildArgs }
}

/** How the gateway is started: port, bind and the process command. */
function readGatewayInputs(r: Reader): Pick<Plan, 'port' | 'bind' | 'command'> {
  const port = r.parse('port', integerInput(1, 65535, ''))
  const bind = r.parse(
    'bind',
    z.enum(BIND_MODES, { error: (iss) => `must be one of ${BIND_MODES.join(', ')}; got "${String(iss.input)}"` }),
  )
  const command = r.raw('command') || undefined
  if (command) checkSplits('command', command, r.problem)
  return { port, bind, command }
}

/** How the release rolls out: strategy, volume, extra deploy arguments, the machine's command. */
function readRolloutInputs(
  r: Reader,
  view: SecretView,
): Pick<Plan, 'strategy' | 'volume' | 'deployArgs' | 'machineCommand'> {
  const { raw, problem } = r
  const strategy = r.parse(
    'strategy',
    z.enum(STRATEGIES, { error: (iss) => `must be one of ${STRATEGIES.join(', ')}; got "${String(iss.input)}"` }),
  )
  const volume = r.parse('volume', patterns.volume)
  // bluegreen and canary with the (always rendered) volume: refused at validation (config/preflight.ts strategyRule).

  const deployArgs = checkSplits('deploy-args', raw('deploy-args'), problem) ?? []
  for (const p of [...parseDeployArgs(deployArgs).problems, ...argvSecretProblems(deployArgs, view)])
    problem('deploy-args', p)

  const machineCommandText = raw('machine-command')
  const machineArgv = machineCommandText ? checkSplits('machine-command', machineCommandText, problem) : undefined
  if (machineArgv && machineArgv.length === 0)
    problem('machine-command', 'is blank; leave it empty or give the full gateway command')
  const machineCommand =
    machineArgv && machineArgv.length > 0 ? { argv: machineArgv, text: machineCommandText } : undefined
  return { strategy, volume, deployArgs, machineCommand }
}

/** The machine's size and memory; shared-CPU machines take memory in steps of 256 MB. */
function readMachineInputs(r: Reader): Pick<Plan, 'vmSize' | 'memoryMb' | 'machineMemoryMb'> {
  const vmSize = r.parse('vm-size', patterns.vmSize)
  const memoryMb = r.parse('memory', memoryInput)
  const machineMemoryMb = r.parse('machine-memory', memoryInput)
  const sharedCpu = (vmSize ?? 'shared-cpu-2x').startsWith('shared-')
  for (const [name, mb] of [
    ['memory', memoryMb],
    ['machine-memory', machineMemoryMb],
  ] as const) {
    if (mb !== undefined && sharedCpu && mb % 256 !== 0) {
      r.problem(
        name,
        `${mb} MB is not a multiple of 256 MB, which shared-CPU machines require; use for example ${Math.ceil(mb / 256) * 256}mb`,
      )
    }
  }
  return { vmSize, memoryMb, machineMemoryMb }
}

/** Privacy and what the health gate watches: a public health URL contradicts `private`. */
function readHealthInputs(r: Reader, app: string | undefined): Pick<Plan, 'private' | 'healthUrl' | 'healthChannels'> {
  const { problem } = r
  const isPrivate = r.parse('private', booleanInput, 'false') ?? false
  const healthUrl = r.parse('health-url', healthUrlInput)
  if (isPrivate && healthUrl && app && new URL(healthUrl).hostname === `${app}.fly.dev`) {
    problem(
      'health-url',
      `points at the public ${app}.fly.dev but \`private: true\` releases the public IPs; probe a tunnel URL instead, or leave health-url empty`,
    )
  }
  const healthChannels = splitList(r.raw('health-channels')).filter((name) => {
    const ok = patterns.channel.safeParse(name)
    if (!ok.success) problem('health-channels', firstIssue(ok.error))
    return ok.success
  })
  return { private: isPrivate, healthUrl, healthChannels }
}

/** Plain env values: never a synced secret's name, never a secret's value. */
function readEnvInput(r: Reader, { selection, view }: SecretInputs): Plan['env'] {
  const env = parseNameValueInput(r.ctx, 'env', r.problem)
  for (const [name] of env) {
    if (selection.values.has(name))
      r.problem('env', `"${name}" is also a synced secret; keep it in one place (secrets are for sensitive values)`)
  }
  for (const p of envProblems(env, view)) r.problem('env', p)
  return env
}

function checkSplits(name: InputKey, text: string, problem: Problem): string[] | undefined {
  try {
    return splitShellWords(text)
  } catch (err) {
    if (err instanceof ShellWordsError) {
      problem(name, `cannot be split into arguments: ${err.message}`)
      return undefined
    }
    throw err
  }
}

function parseNameValueInput(ctx: InputContext, name: 'env' | 'build-args', problem: Problem): Array<[string, string]> {
  const { entries, problems } = parseLines(ctx.read(name), false)
  for (const p of problems) problem(name, `${p}; write one \`NAME=VALUE\` a line`)
  return entries.map((e) => [e.name, e.value ?? ''])
}

function readSecretLines(
  ctx: InputContext,
  problem: Problem,
  view: SecretView,
  selection: SecretSelection,
  prefix: string,
): void {
  const { entries, problems } = parseLines(ctx.read('secrets'), true)
  for (const entry of entries) {
    const value = entry.value ?? ctx.env[entry.name]
    ctx.redactor.add(value)
    if (value === undefined || value === '') {
      problem(
        'secrets',
        entry.value === undefined
          ? `line ${entry.line}: "${entry.name}" is not in the step's environment; add \`env: ${entry.name}: \${{ secrets.${entry.name} }}\` to the step`
          : `line ${entry.line}: "${entry.name}" has an empty value; Fly cannot store an empty secret`,
      )
      continue
    }
    // `<prefix><NAME>` is synced as `<NAME>` (secrets-select.ts); the synced name is held to the same boundaries.
    const synced = syncedName(entry.name, prefix, undefined) ?? entry.name
    const never = neverSynced(entry.name, value, view.apiToken) ?? neverSynced(synced, value, view.apiToken)
    const refused = never ?? secretValueProblem(value)
    if (refused) {
      problem(
        'secrets',
        `line ${entry.line}: "${entry.name}" cannot be synced: ${refused}${never ? '. Fix: remove the line' : ''}`,
      )
      continue
    }
    // Explicit lines win over the bulk JSON.
    selection.offer(entry.name, synced, value, 'secrets')
  }
  for (const p of problems) problem('secrets', `${p}; write \`NAME=VALUE\` or a bare \`NAME\` read from the step's env`)
}

/** Reads `secrets-json` into the synced set; returns the names it dropped, with why (never values). */
function readSecretsJson(
  ctx: InputContext,
  raw: (n: InputKey) => string,
  problem: Problem,
  view: SecretView,
  selection: SecretSelection,
  prefix: string,
): Dropped[] {
  const text = raw('secrets-json')
  if (!text) return []
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    // The JSON parser's message quotes the text, which holds secrets: say where instead.
    problem('secrets-json', 'is not valid JSON; pass `${{ toJSON(secrets) }}`')
    return []
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    problem('secrets-json', 'must be a JSON object of name to value, such as `${{ toJSON(secrets) }}`')
    return []
  }
  const entries = Object.entries(data as Record<string, unknown>)
  for (const [, value] of entries) if (typeof value === 'string') ctx.redactor.add(value)
  const dropped: Dropped[] = []
  for (const [name, value] of entries) {
    // `<prefix><NAME>` is synced as `<NAME>` whatever secrets-include says: the prefix is the opt-in.
    const synced = syncedName(name, prefix, () => true) ?? name
    const why =
      (synced !== name ? neverSynced(name, value, view.apiToken) : undefined) ??
      dropReason(synced, value, synced !== name ? [/^/] : view.include, view.apiToken)
    if (why) {
      dropped.push({ name, why })
      continue
    }
    const bad = typeof value !== 'string' || value === '' ? 'must be a non-empty string' : secretValueProblem(value)
    if (bad) {
      problem('secrets-json', `"${name}" cannot be synced: ${bad}`)
      continue
    }
    selection.offer(name, synced, value as string, 'secrets-json')
  }
  return dropped
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

/** The runner's own facts, read once here: no stage reads the environment. */
export function runnerFacts(env: NodeJS.ProcessEnv): Pick<Plan, 'githubWorkspace' | 'githubApiUrl' | 'runUrl'> {
  const { GITHUB_WORKSPACE: workspace, GITHUB_API_URL: apiUrl, GITHUB_SERVER_URL: server } = env
  const { GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: id } = env
  return {
    ...(workspace !== undefined ? { githubWorkspace: workspace } : {}),
    ...(apiUrl !== undefined ? { githubApiUrl: apiUrl } : {}),
    ...(repo && id ? { runUrl: `${server || 'https://github.com'}/${repo}/actions/runs/${id}` } : {}),
  }
}

// ---------------------------------------------------------------- edge

/** Read the real inputs of this step (INPUT_* variables, from the environment main.ts hands in) into a Plan. */
export function readPlan(redactor: Redactor, pinnedFlyctlVersion: string, env: NodeJS.ProcessEnv): Plan {
  const runnerTemp = env.RUNNER_TEMP
  if (!runnerTemp)
    throw new Error(
      'RUNNER_TEMP is not set: this action must run inside a GitHub Actions job (or a runner-like environment)',
    )
  const plan = parseInputs({
    read: (name) => core.getInput(name),
    env,
    redactor,
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    runnerTemp,
    pinnedFlyctlVersion,
  })
  // Parallel runs may share RUNNER_TEMP and HOME (docs/CONTRACT.md, "Fleets"): each gets folders of its own.
  return { ...plan, ...claimRunDirs(runnerTemp, plan.app) }
}

/** The plan as it may be printed: secret names only, token hidden. */
export function describePlan(plan: Plan): Record<string, unknown> {
  const { apiToken: _token, githubToken: _github, secrets, secretSources: _sources, secretsPrefixed, ...rest } = plan
  return {
    ...rest,
    apiToken: plan.apiToken ? '***' : '',
    githubToken: plan.githubToken ? '***' : '',
    secrets: [...secrets.keys()].sort(),
    secretsPrefixed: Object.fromEntries(secretsPrefixed),
  }
}
