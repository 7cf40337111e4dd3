// Shared by the preview files: test/e2e/preview.test.ts (fake gateway) and
// test/gateway/preview.test.ts (real gateway).
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import { readCounters, readJournal, readState, type JournalEntry } from '../../standin/platform/inspect.ts'
import { readRuntime } from '../../standin/machines/runtime.ts'
import { isRunning } from '../../standin/machines/procs.ts'
import type { ActionResult } from '../../standin/runner/runner.ts'
import { startGitHubStandin, type GitHubStandin } from '../../standin/github/rest-api.ts'
import { API_TOKEN, GATEWAY_TOKEN, tail, type StandinWorld } from './standin.ts'
import { newWorld } from './world.ts'

export const BASE = 'oc-gw'
export const REPO = 'openclaw/gw'
export const GH_TOKEN = 'ghs_preview_e2e_token_71c3'
export const FAKE = 'fake-gateway:ready'
// Bounds, not speeds (e2e files run side by side, on a machine that may be busy with other work);
// `npm run bench` measures speed. The real lifecycle waits on three gates of health-timeout 300.
export const FAKE_TIMEOUT = 300_000
export const REAL_TIMEOUT = 1_200_000

export const PROD_DISCORD = 'discord-production-bot-token-9f1e'
export const PROD_TELEGRAM = 'telegram-production-bot-token-2b7c'
export const PREVIEW_TELEGRAM = 'telegram-preview-bot-token-5d0a'

export let gh: GitHubStandin

/** The GitHub API stand-in for the file, its scripted failures cleared after each test (worlds: world.ts). */
export function usePreviewGitHub(): void {
  beforeAll(async () => {
    gh = await startGitHubStandin(GH_TOKEN)
  })
  afterAll(() => gh.close())
  afterEach(() => {
    gh.clearFailures()
  })
}

/** A pull_request event file as GitHub writes it (the fields the action reads). */
export function eventEnv(world: StandinWorld, action: string, number: number, repository = REPO): NodeJS.ProcessEnv {
  const file = path.join(world.dirs.root, `event-${number}-${action}.json`)
  const pr = {
    number,
    state: action === 'closed' ? 'closed' : 'open',
    head: { sha: `c0ffee${number}0123456789`, repo: { full_name: repository } },
    base: { repo: { full_name: repository } },
  }
  fs.writeFileSync(file, JSON.stringify({ action, number, pull_request: pr, repository: { full_name: repository } }))
  return {
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: file,
    GITHUB_REPOSITORY: repository,
    GITHUB_API_URL: gh.url,
    GITHUB_SERVER_URL: 'https://github.com',
  }
}

export function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return previewInputs(extra)
}

export function previewInputs(extra: Record<string, string> = {}): Record<string, string> {
  const secrets = {
    OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    DISCORD_BOT_TOKEN: PROD_DISCORD,
    TELEGRAM_BOT_TOKEN: PROD_TELEGRAM,
    PREVIEW_TELEGRAM_BOT_TOKEN: PREVIEW_TELEGRAM,
    github_token: 'ghs_never_synced',
  }
  return {
    app: BASE,
    mode: 'preview',
    'github-token': GH_TOKEN,
    'secrets-json': JSON.stringify(secrets),
    'health-timeout': '120',
    ...extra,
  }
}

export async function step(
  world: StandinWorld,
  inp: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<{ result: ActionResult; calls: JournalEntry[] }> {
  const before = (await readJournal(world.state)).length
  const result = await world.run(inp, { env })
  return { result, calls: (await readJournal(world.state)).slice(before) }
}

export const lines = (r: ActionResult, kind: 'warning' | 'notice' | 'error'): string[] =>
  r.stdout.split('\n').filter((l) => l.startsWith(`::${kind}`))
export const argvOf = (calls: JournalEntry[], first: string, second: string): string[][] =>
  calls.filter((c) => c.argv[0] === first && c.argv[1] === second).map((c) => c.argv)
export const commentsOn = (n: number) => gh.comments.filter((c) => c.repository === REPO && c.issue === n)

/** Every secret value the runs handle: none may reach argv, logs, outputs, summary or a comment. */
export function expectNoSecrets(result: ActionResult, calls: JournalEntry[]): void {
  const log = (t: string) =>
    t
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')
  const seen = [
    log(result.stdout),
    log(result.stderr),
    result.summary,
    ...Object.values(result.commandFiles),
    ...calls.map((c) => c.argv.join(' ')),
    ...gh.comments.map((c) => c.body),
  ].join('\n')
  for (const v of [API_TOKEN, GH_TOKEN, GATEWAY_TOKEN, PROD_DISCORD, PROD_TELEGRAM, PREVIEW_TELEGRAM])
    expect(seen.includes(v), `a secret (${v.slice(0, 6)}…) leaked`).toBe(false)
}

export async function previewMachines(world: StandinWorld, app: string) {
  return ((await readState(world.state)).apps[app]?.machines ?? []).filter((m) => !m.destroyed)
}

/**
 * Production (the base app `oc-gw`), for the previews to leave alone: a plain deploy with only the
 * gateway token (a channel token would have the real gateway reach for Discord from a machine
 * without internet, which is the preview's business in these tests, not production's).
 */
export async function deployProduction(world: StandinWorld, inputs: Record<string, string>): Promise<void> {
  const production = {
    ...inputs,
    mode: 'deploy',
    'github-token': '',
    'secrets-json': JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN }),
  }
  const base = await step(world, production, { GITHUB_REPOSITORY: REPO })
  expect(base.result.exitCode, tail(base.result)).toBe(0)
}

/** A preview through its whole life (opened, synchronize, closed), in a world of its own. */
export async function lifecycle(workload: string): Promise<void> {
  await lifecycleIn(await newWorld(workload, 'e2e-preview-'), workload)
}

/**
 * The same lifecycle in a world the caller started with `workload` and has run nothing in yet; it
 * leaves the production app `oc-gw` deployed (for later runs in that world) and the comments cleared.
 */
export async function lifecycleIn(world: StandinWorld, workload: string): Promise<void> {
  // The real gateway's gates get health-timeout 300, as in test/gateway/health.test.ts.
  const inputs = (extra: Record<string, string> = {}) =>
    previewInputs({ ...(workload === FAKE ? {} : { 'health-timeout': '300' }), ...extra })
  const app = `${BASE}-pr-7`
  await deployProduction(world, inputs())

  // opened: deployed as gw-pr-7 with the marker, without production's channel tokens.
  const opened = await step(world, inputs({ 'health-channels': 'discord' }), eventEnv(world, 'opened', 7))
  expect(opened.result.exitCode, tail(opened.result)).toBe(0)
  expect(opened.result.outputs).toMatchObject({
    'app-name': app,
    'app-url': `https://${app}.fly.dev/`,
    'preview-action': 'deployed',
    health: 'healthy',
    'release-version': '1',
  })
  expect(argvOf(opened.calls, 'apps', 'create')).toEqual([['apps', 'create', app, '--org', 'personal']])
  const [machine] = await previewMachines(world, app)
  expect(machine?.config.env.OPENCLAW_DEPLOY_PREVIEW).toBe(`${REPO}#7`)
  const state = (await readState(world.state)).apps[app]
  expect(Object.keys(state?.secrets ?? {}).sort()).toEqual(['OPENCLAW_GATEWAY_TOKEN', 'TELEGRAM_BOT_TOKEN'])
  expect(opened.result.outputs['secrets-synced']).toBe('OPENCLAW_GATEWAY_TOKEN,TELEGRAM_BOT_TOKEN')
  expect(lines(opened.result, 'notice').join('\n')).toContain(
    'health-channels: discord skipped for the preview oc-gw-pr-7',
  )
  expect(commentsOn(7)).toHaveLength(1)
  expect(commentsOn(7)[0]?.body).toContain(`<!-- openclaw/fly-deploy preview: ${app} -->`)
  expect(commentsOn(7)[0]?.body).toContain(`| URL | https://${app}.fly.dev/ |`)
  expect(commentsOn(7)[0]?.body).toMatch(/\| Release \| v1 \|\n\| Health \| healthy \|/)
  expectNoSecrets(opened.result, opened.calls)
  const pid = readRuntime(world.state, app, machine?.id as string).pid as number

  // synchronize: the same machine redeployed with one restart; the one comment updated.
  const before = await readCounters(world.state)
  // A push to the pull request that changes nothing here: its redeploy is asked for, not left to skip-unchanged.
  const sync = await step(
    world,
    inputs({ 'health-channels': 'discord', 'skip-unchanged': 'false' }),
    eventEnv(world, 'synchronize', 7),
  )
  expect(sync.result.exitCode, tail(sync.result)).toBe(0)
  expect(sync.result.outputs).toMatchObject({
    'preview-action': 'deployed',
    'release-version': '2',
    health: 'healthy',
    'machine-ids': machine?.id,
  })
  const after = await readCounters(world.state)
  expect(after.machineRestarts - before.machineRestarts).toBe(1)
  expect(after.machineStarts).toBe(before.machineStarts)
  expect(argvOf(sync.calls, 'apps', 'create')).toEqual([])
  expect(commentsOn(7)).toHaveLength(1)
  expect(commentsOn(7)[0]?.body).toContain('| Release | v2 |')

  // closed: destroyed with its volume, after the marker was read; the base app untouched.
  const volumes = (await readState(world.state)).apps[app]?.volumes.map((v) => v.id) ?? []
  expect(volumes).toHaveLength(1)
  const closed = await step(world, inputs(), eventEnv(world, 'closed', 7))
  expect(closed.result.exitCode, tail(closed.result)).toBe(0)
  expect(closed.result.outputs).toMatchObject({ 'app-name': app, 'preview-action': 'destroyed', health: 'skipped' })
  expect(argvOf(closed.calls, 'apps', 'destroy')).toEqual([['apps', 'destroy', app, '-y']])
  expect(
    closed.calls
      .map((c) => c.argv.slice(0, 2).join(' '))
      .filter((c) => !/^(version|status|machines list|apps destroy)/.test(c)),
  ).toEqual([])
  const after2 = await readState(world.state)
  expect(after2.apps[app]).toBeUndefined()
  for (const id of volumes) expect(fs.existsSync(path.join(world.state, 'volumes', id))).toBe(false)
  expect(isRunning(pid)).toBe(false)
  expect(after2.apps[BASE]?.machines.filter((m) => !m.destroyed)).toHaveLength(1)
  expect(commentsOn(7)).toHaveLength(1)
  expect(commentsOn(7)[0]?.body).toContain(`was destroyed with its machines and volume`)
  expect(closed.result.summary).toContain(`🗑️ Preview <code>${app}</code> destroyed`)
  expectNoSecrets(closed.result, closed.calls)
  gh.comments.splice(0)
}
