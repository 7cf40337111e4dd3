// Preview gateways end to end (issue 16, SPEC.md "Preview gateways"): dist/index.js run as a
// runner runs it on pull_request events, against the flyctl stand-in and the loopback GitHub API
// stand-in (test/helpers/github-api.ts), judged by the stand-in's journal, counters and state,
// and by the comments the GitHub stand-in holds.
//
// Most cases run the fake gateway; the lifecycle (opened, synchronize, closed) runs the REAL
// gateway too, because there the question is the gateway's: does the preview start, restart
// once on a push, and go with its volume when the pull request closes.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setupStandinRuntimes } from '../scripts/standin-setup.ts'
import { readCounters, readJournal, readState, type JournalEntry } from '../standin/inspect.ts'
import { readRuntime } from '../standin/machine-runtime.ts'
import { isAlive } from '../standin/runtime-procs.ts'
import type { ActionResult } from '../standin/runner.ts'
import { DEFAULT_OPENCLAW_VERSION } from '../standin/runtime-install.ts'
import { startGitHubStandin, type FailureKind, type GitHubStandin } from './helpers/github-api.ts'
import { API_TOKEN, GATEWAY_TOKEN, startStandinWorld, writeDockerfile, type StandinWorld } from './helpers/standin.ts'

const BASE = 'oc-gw'
const REPO = 'openclaw/gw'
const GH_TOKEN = 'ghs_preview_e2e_token_71c3'
const FAKE = 'fake-gateway:ready'
// Bounds, not speeds (test files run two at a time, on a machine that may be busy with other work);
// `npm run bench` measures speed. The real lifecycle waits on three gates of health-timeout 300.
const FAKE_TIMEOUT = 300_000
const REAL_TIMEOUT = 1_200_000

const PROD_DISCORD = 'discord-production-bot-token-9f1e'
const PROD_TELEGRAM = 'telegram-production-bot-token-2b7c'
const PREVIEW_TELEGRAM = 'telegram-preview-bot-token-5d0a'

let gh: GitHubStandin
const worlds: StandinWorld[] = []

beforeAll(async () => {
  gh = await startGitHubStandin(GH_TOKEN)
})
afterAll(() => gh.close())
afterEach(async () => {
  for (const world of worlds.splice(0)) await world.stop()
  gh.clearFailures()
})

async function newWorld(workload: string): Promise<StandinWorld> {
  const world = await startStandinWorld('e2e-preview-')
  worlds.push(world)
  writeDockerfile(world.dirs, workload)
  return world
}

/** A pull_request event file as GitHub writes it (the fields the action reads). */
function eventEnv(world: StandinWorld, action: string, number: number, repository = REPO): NodeJS.ProcessEnv {
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

function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return previewInputs(extra)
}

function previewInputs(extra: Record<string, string> = {}): Record<string, string> {
  const secrets = {
    OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    DISCORD_BOT_TOKEN: PROD_DISCORD,
    TELEGRAM_BOT_TOKEN: PROD_TELEGRAM,
    PREVIEW_TELEGRAM_BOT_TOKEN: PREVIEW_TELEGRAM,
    github_token: 'ghs_never_synced',
  }
  return { app: BASE, mode: 'preview', 'github-token': GH_TOKEN, 'secrets-json': JSON.stringify(secrets), 'health-timeout': '120', ...extra }
}

async function step(world: StandinWorld, inp: Record<string, string>, env: NodeJS.ProcessEnv): Promise<{ result: ActionResult; calls: JournalEntry[] }> {
  const before = (await readJournal(world.state)).length
  const result = await world.run(inp, { env })
  return { result, calls: (await readJournal(world.state)).slice(before) }
}

const tail = (r: ActionResult): string => `exit ${r.exitCode}\n${r.stdout.slice(-5000)}\n${r.stderr.slice(-2000)}`
const lines = (r: ActionResult, kind: 'warning' | 'notice' | 'error'): string[] => r.stdout.split('\n').filter((l) => l.startsWith(`::${kind}`))
const argvOf = (calls: JournalEntry[], first: string, second: string): string[][] =>
  calls.filter((c) => c.argv[0] === first && c.argv[1] === second).map((c) => c.argv)
const commentsOn = (n: number) => gh.comments.filter((c) => c.repository === REPO && c.issue === n)

/** Every secret value the runs handle: none may reach argv, logs, outputs, summary or a comment. */
function expectNoSecrets(result: ActionResult, calls: JournalEntry[]): void {
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

async function previewMachines(world: StandinWorld, app: string) {
  return ((await readState(world.state)).apps[app]?.machines ?? []).filter((m) => !m.destroyed)
}

/** opened, synchronize, closed: the issue's definition of done. */
async function lifecycle(workload: string): Promise<void> {
  // The real gateway's gates get health-timeout 300, as in e2e-health.
  const inputs = (extra: Record<string, string> = {}) => previewInputs({ ...(workload === FAKE ? {} : { 'health-timeout': '300' }), ...extra })
  const world = await newWorld(workload)
  const app = `${BASE}-pr-7`
  const base = await step(world, { ...inputs(), mode: 'deploy', 'github-token': '' }, { GITHUB_REPOSITORY: REPO })
  expect(base.result.exitCode, tail(base.result)).toBe(0)

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
  expect(lines(opened.result, 'notice').join('\n')).toContain('health-channels: discord skipped for the preview oc-gw-pr-7')
  expect(commentsOn(7)).toHaveLength(1)
  expect(commentsOn(7)[0]?.body).toContain(`<!-- openclaw/fly-deploy preview: ${app} -->`)
  expect(commentsOn(7)[0]?.body).toContain(`| URL | https://${app}.fly.dev/ |`)
  expect(commentsOn(7)[0]?.body).toMatch(/\| Release \| v1 \|\n\| Health \| healthy \|/)
  expectNoSecrets(opened.result, opened.calls)
  const pid = readRuntime(world.state, app, machine?.id as string).pid as number

  // synchronize: the same machine redeployed with one restart; the one comment updated.
  const before = await readCounters(world.state)
  const sync = await step(world, inputs({ 'health-channels': 'discord' }), eventEnv(world, 'synchronize', 7))
  expect(sync.result.exitCode, tail(sync.result)).toBe(0)
  expect(sync.result.outputs).toMatchObject({ 'preview-action': 'deployed', 'release-version': '2', health: 'healthy', 'machine-ids': machine?.id })
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
  expect(closed.calls.map((c) => c.argv.slice(0, 2).join(' ')).filter((c) => !/^(version|status|machines list|apps destroy)/.test(c))).toEqual([])
  const after2 = await readState(world.state)
  expect(after2.apps[app]).toBeUndefined()
  for (const id of volumes) expect(fs.existsSync(path.join(world.state, 'volumes', id))).toBe(false)
  expect(isAlive(pid)).toBe(false)
  expect(after2.apps[BASE]?.machines.filter((m) => !m.destroyed)).toHaveLength(1)
  expect(commentsOn(7)).toHaveLength(1)
  expect(commentsOn(7)[0]?.body).toContain(`was destroyed with its machines and volume`)
  expect(closed.result.summary).toContain(`🗑️ Preview <code>${app}</code> destroyed`)
  expectNoSecrets(closed.result, closed.calls)
  gh.comments.splice(0)
}

describe('a preview through opened, synchronize and closed (fake gateway)', () => {
  it('deploys, redeploys with one restart, destroys with its volume; one comment updated each time', () => lifecycle(FAKE), FAKE_TIMEOUT)
})

describe('refusals and cleanup (fake gateway)', () => {
  it(
    'closed refuses an app whose machines carry another marker, and destroys nothing',
    async () => {
      const world = await newWorld(FAKE)
      // PR 8 of another repository deployed the same name (its marker says so).
      const other = await step(world, { ...inputs(), 'github-token': '' }, eventEnv(world, 'opened', 8, 'someone/else'))
      expect(other.result.exitCode, tail(other.result)).toBe(0)
      const closed = await step(world, inputs(), eventEnv(world, 'closed', 8))
      expect(closed.result.exitCode).toBe(1)
      const error = lines(closed.result, 'error').join('\n')
      expect(error).toContain('carries OPENCLAW_DEPLOY_PREVIEW = "someone/else#8", not "openclaw/gw#8"')
      expect(error).toContain('nothing was destroyed')
      expect(argvOf(closed.calls, 'apps', 'destroy')).toEqual([])
      expect((await previewMachines(world, `${BASE}-pr-8`)).length).toBe(1)
      expect(closed.result.outputs['preview-action'] ?? '').toBe('')
    },
    FAKE_TIMEOUT,
  )

  it(
    'cleanup-previews destroys only the previews of this repository whose pull request is closed',
    async () => {
      const world = await newWorld(FAKE)
      const noComment = { 'github-token': '' }
      for (const [n, repo] of [
        [11, REPO],
        [12, REPO],
        [13, 'someone/else'],
      ] as const) {
        const r = await step(world, { ...inputs(), ...noComment }, eventEnv(world, 'opened', n, repo))
        expect(r.result.exitCode, tail(r.result)).toBe(0)
      }
      const base = await step(world, { ...inputs(), ...noComment, mode: 'deploy' }, { GITHUB_REPOSITORY: REPO })
      expect(base.result.exitCode, tail(base.result)).toBe(0)
      gh.pulls.set(`${REPO}#11`, 'closed')
      gh.pulls.set(`${REPO}#12`, 'open')
      gh.pulls.set(`${REPO}#13`, 'closed')
      gh.pulls.set('someone/else#13', 'closed')

      const cleanup = await step(world, { app: BASE, mode: 'cleanup-previews', 'github-token': GH_TOKEN }, { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: gh.url })
      expect(cleanup.result.exitCode, tail(cleanup.result)).toBe(0)
      expect(cleanup.result.outputs['previews-destroyed']).toBe(`${BASE}-pr-11`)
      expect(argvOf(cleanup.calls, 'apps', 'destroy')).toEqual([['apps', 'destroy', `${BASE}-pr-11`, '-y']])
      expect(Object.keys((await readState(world.state)).apps).sort()).toEqual([BASE, `${BASE}-pr-12`, `${BASE}-pr-13`])
      // Only this repository's previews were asked about; the other repository's was never touched.
      expect(
        gh.requests
          .filter((r) => r.method === 'GET' && r.path.includes('/pulls/'))
          .map((r) => r.path)
          .sort(),
      ).toEqual([`/repos/${REPO}/pulls/11`, `/repos/${REPO}/pulls/12`])
      expect(cleanup.result.summary).toContain('not this repository')
      expectNoSecrets(cleanup.result, cleanup.calls)
    },
    FAKE_TIMEOUT,
  )

  it(
    'cleanup-previews without github-token is an input error before any flyctl call',
    async () => {
      const world = await newWorld(FAKE)
      const r = await step(world, { app: BASE, mode: 'cleanup-previews' }, { GITHUB_REPOSITORY: REPO })
      expect(r.result.exitCode).toBe(1)
      expect(lines(r.result, 'error').join('\n')).toContain('`github-token`: `cleanup-previews` reads')
      expect(r.calls).toEqual([])
      expect(r.result.outputs.health).toBe('skipped')
    },
    FAKE_TIMEOUT,
  )

  it(
    'GitHub answering 403, 404, 500 or a rate limit only warns; the step succeeds',
    async () => {
      const world = await newWorld(FAKE)
      const cases: Array<[FailureKind, RegExp]> = [
        ['forbidden', /403: Resource not accessible by integration.*pull-requests: write/],
        ['not-found', /404: Not Found/],
        ['server-error', /500: Server Error\) \(after 3 attempts\)/],
        ['rate-limit-403', /rate limit was reached \(403: API rate limit exceeded.*resets at/],
        ['rate-limit-429', /rate limit was reached \(429: You have exceeded a secondary rate limit/],
      ]
      for (const [kind, says] of cases) {
        gh.clearFailures()
        gh.fail({ kind, seconds: 120 })
        // A closed pull request whose preview is gone already: the comment is all that is left to do.
        const r = await step(world, inputs(), eventEnv(world, 'closed', 21))
        expect(r.result.exitCode, `${kind}\n${tail(r.result)}`).toBe(0)
        expect(r.result.outputs['preview-action']).toBe('destroyed')
        expect(lines(r.result, 'warning').join('\n'), kind).toMatch(says)
        expectNoSecrets(r.result, r.calls)
      }
      expect(commentsOn(21)).toEqual([])
    },
    FAKE_TIMEOUT,
  )
})

describe('a preview through opened, synchronize and closed (real gateway)', () => {
  beforeAll(async () => {
    await setupStandinRuntimes([DEFAULT_OPENCLAW_VERSION], () => {})
  }, 600_000)

  it(
    'deploys, redeploys with one restart, destroys with its volume; one comment updated each time',
    () => lifecycle(`openclaw@${DEFAULT_OPENCLAW_VERSION}`),
    REAL_TIMEOUT,
  )
})
