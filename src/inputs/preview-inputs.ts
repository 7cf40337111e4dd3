import * as fs from 'node:fs'
import { z } from 'zod'
import type { InputReader } from './input-context.js'
import { MODES, type Mode, type PullRequestRef } from './plan.js'
import type { SecretSelection } from './secrets-select.js'
import type { Dropped } from './secret-boundaries.js'

/**
 * The inputs of previews (docs/CONTRACT.md, "Previews"): `mode`, `secrets-prefix`, `github-token`, and for
 * `mode: preview` the pull request read from the event GitHub wrote to GITHUB_EVENT_PATH. Read by
 * parse-inputs.ts like every other input: problems are collected, each naming its input and the fix.
 */

/** The inputs read or named here (a subset of parse-inputs.ts INPUT_NAMES). */
type InputKey = 'mode' | 'secrets-prefix' | 'github-token' | 'app' | 'api-token' | 'allow-fork-previews'
type Problem = (input: InputKey, message: string) => void

/** The channel-token names a preview leaves out by default: a second gateway on production's bot token takes its connection over. */
export const CHANNEL_TOKEN_GLOBS = [
  'DISCORD_*',
  'TELEGRAM_*',
  'SLACK_*',
  'WHATSAPP_*',
  'SIGNAL_*',
  'MATRIX_*',
  'TWILIO_*',
]

export const PREVIEW_SECRETS_PREFIX = 'PREVIEW_'

/** Fly app names: at most 63 characters (the `app` input's rule). */
const MAX_APP_NAME = 63

export interface ModeInputs {
  mode: Mode
  secretsPrefix: string
  githubToken: string
  repository?: string
  pullRequest?: PullRequestRef
}

// GitHub's webhook payload (docs.github.com "Webhook events and payloads", pull_request): only the
// fields used here; everything else passes through.
const RepoSchema = z.looseObject({ full_name: z.string() })
const PullRequestEventSchema = z.looseObject({
  action: z.string(),
  pull_request: z.looseObject({
    number: z.number().int().positive(),
    head: z.looseObject({ sha: z.string().optional(), repo: RepoSchema.nullish() }),
    base: z.looseObject({ repo: RepoSchema }),
  }),
})

const PREVIEW_EVENTS = ['pull_request', 'pull_request_target'] as const

/**
 * The pull request of the event, or the reason there is none (worded for the `mode` input).
 * Pure: the caller reads the event file.
 */
export function parsePullRequestEvent(
  eventName: string | undefined,
  payload: string | undefined,
  thisRepository?: string,
): PullRequestRef | string {
  const fix = 'run `mode: preview` from a workflow `on: pull_request` (see examples/preview.yml), or set `mode: deploy`'
  const name = PREVIEW_EVENTS.find((e) => e === eventName)
  if (!name)
    return `\`preview\` needs a \`pull_request\` or \`pull_request_target\` event, and this run is a \`${eventName || 'unknown'}\` event; ${fix}`
  if (payload === undefined) return `the ${name} event's payload (GITHUB_EVENT_PATH) cannot be read; ${fix}`
  let data: unknown
  try {
    data = JSON.parse(payload)
  } catch {
    return `the ${name} event's payload (GITHUB_EVENT_PATH) is not JSON; ${fix}`
  }
  const parsed = PullRequestEventSchema.safeParse(data)
  if (!parsed.success) return `the ${name} event's payload has no pull_request number (GITHUB_EVENT_PATH); ${fix}`
  const pr = parsed.data.pull_request
  const repository = pr.base.repo.full_name
  const head = pr.head.repo?.full_name ?? null
  // A fork: the head is another repository than the base, or than the one this job runs in.
  const own = head === repository && (!thisRepository || head === thisRepository)
  return {
    eventName: name,
    action: parsed.data.action,
    number: pr.number,
    repository,
    ...(own ? {} : { fork: head }),
    ...(pr.head.sha ? { headSha: pr.head.sha } : {}),
  }
}

/** `mode`, `secrets-prefix`, `github-token` and the event. Run before the secrets are read: the mode chooses their defaults. */
export function readModeInputs(ctx: InputReader<InputKey>, problem: Problem): ModeInputs {
  const raw = (name: InputKey): string => ctx.read(name).trim()
  const githubToken = raw('github-token')
  // Masked before anything else can be logged.
  ctx.redactor.add(githubToken)
  const modeText = raw('mode') || 'deploy'
  const mode = MODES.find((m) => m === modeText)
  if (!mode) problem('mode', `must be one of ${MODES.join(', ')}; got "${modeText}"`)
  const prefixText = ctx.read('secrets-prefix').trim()
  const secretsPrefix = prefixText || (mode === 'preview' ? PREVIEW_SECRETS_PREFIX : '')
  if (secretsPrefix && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(secretsPrefix)) {
    problem(
      'secrets-prefix',
      `"${secretsPrefix.slice(0, 40)}" is not the start of a variable name (letters, digits, underscores, such as \`PREVIEW_\` or \`TEAM_A_\`)`,
    )
  }
  const result: ModeInputs = { mode: mode ?? 'deploy', secretsPrefix, githubToken }
  if (mode !== 'preview' && mode !== 'cleanup-previews') return result

  result.repository = ctx.env.GITHUB_REPOSITORY || undefined
  if (mode === 'cleanup-previews' && !githubToken) {
    problem(
      'github-token',
      "`cleanup-previews` reads each pull request's state from the GitHub API: set `github-token: ${{ github.token }}` (the workflow needs `permissions: pull-requests: read`)",
    )
  }
  if (mode === 'cleanup-previews' && !result.repository)
    problem('mode', '`cleanup-previews` needs GITHUB_REPOSITORY (owner/repo); run it in a GitHub Actions job')
  if (mode === 'preview') {
    const pr = parsePullRequestEvent(
      ctx.env.GITHUB_EVENT_NAME,
      readEventFile(ctx.env.GITHUB_EVENT_PATH),
      ctx.env.GITHUB_REPOSITORY || undefined,
    )
    if (typeof pr === 'string') problem('mode', pr)
    else {
      result.pullRequest = pr
      result.repository = pr.repository
    }
  }
  return result
}

function readEventFile(file: string | undefined): string | undefined {
  if (!file) return undefined
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** The preview's app name: `<app>-pr-<N>`. */
export function previewAppName(app: string, number: number): string {
  return `${app}-pr-${number}`
}

/**
 * Checks that need `app` and the Fly token too: the preview's name fits Fly's limit, and an empty
 * token on a pull request says why (GitHub gives a fork's pull_request run no repository secrets).
 */
export function checkPreviewTarget(
  modes: ModeInputs,
  app: string | undefined,
  apiToken: string,
  problem: Problem,
): void {
  const pr = modes.pullRequest
  if (modes.mode !== 'preview' || !pr) return
  if (app) {
    const name = previewAppName(app, pr.number)
    if (name.length > MAX_APP_NAME) {
      problem(
        'app',
        `the preview app ${name} would be ${name.length} characters, over Fly's ${MAX_APP_NAME}; shorten \`app\` to at most ${MAX_APP_NAME - name.length + app.length} characters`,
      )
    }
  }
  if (apiToken !== '') return
  const why =
    pr.fork !== undefined
      ? `this pull request comes from the fork ${pr.fork ?? '(deleted)'}, and GitHub gives a \`pull_request\` run from a fork no repository secrets, so the Fly token is empty`
      : 'the Fly token is empty: GitHub passes no repository secrets to runs it does not trust (pull requests from forks, Dependabot)'
  problem(
    'api-token',
    `${why}. Previews of fork pull requests need a maintainer's run: use \`pull_request_target\` only for trusted authors (it runs with the base repository's secrets), or deploy previews for branches of this repository only`,
  )
}

/** A preview that would build and run a fork's code: any action but `closed` (which only destroys). */
export function isForkPreview(modes: Pick<ModeInputs, 'mode' | 'pullRequest'>): boolean {
  const pr = modes.pullRequest
  return modes.mode === 'preview' && pr !== undefined && pr.fork !== undefined && pr.action !== 'closed'
}

/**
 * A fork's pull request would deploy the fork's Dockerfile and openclaw.json with this
 * repository's secrets (GitHub Security Lab's "pwn request"): refused unless the workflow says
 * `allow-fork-previews: true`.
 */
export function checkForkPreview(modes: ModeInputs, allowed: boolean, problem: Problem): void {
  if (!isForkPreview(modes) || allowed) return
  const pr = modes.pullRequest as PullRequestRef
  problem(
    'allow-fork-previews',
    `pull request #${pr.number} comes from the fork ${pr.fork ?? '(deleted)'}: its Dockerfile and openclaw.json would run on Fly with this repository's secrets, so the preview was refused before anything changed on Fly. ` +
      `Deploy previews only for branches of ${modes.repository ?? 'this repository'}, or set \`allow-fork-previews: true\` to deploy forks with only \`${modes.secretsPrefix || PREVIEW_SECRETS_PREFIX}\` secrets (plain names, OPENCLAW_GATEWAY_TOKEN included, are then never synced)`,
  )
}

/** A fork's preview gets only `<secrets-prefix>` secrets: every plain name is taken out of the synced set, with why. */
export function forkPreviewDrops(modes: ModeInputs, selection: SecretSelection): Dropped[] {
  if (!isForkPreview(modes)) return []
  const why = `a fork's pull request preview gets only \`${modes.secretsPrefix}\` secrets (allow-fork-previews); give it its own as ${modes.secretsPrefix}<NAME>`
  return selection.dropPlain().map((name) => ({ name, why }))
}
