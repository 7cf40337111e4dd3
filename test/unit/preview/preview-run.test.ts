/**
 * The preview modes through run() in-process (as test/unit/run/run.test.ts runs it: @actions/core is
 * test/support/fake-core.ts, flyctl the real runner over the in-memory FakeFly, no child process),
 * with the loopback GitHub API stand-in (standin/github/rest-api.ts) in this process: the action's
 * own decisions, worded. test/e2e/preview.test.ts runs the preview modes as the action's process
 * against the flyctl stand-in, and one GitHub failure (a 500, retried) among them.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { startGitHubStandin, type FailureKind, type GitHubStandin } from '../../../standin/github/rest-api.ts'
import * as core from '../../support/fake-core.js'
import { newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { newFakeRegistry, type FakeRegistry } from '../../support/fake-registry.js'
import { inProcessDeps, useRunnerFolders } from '../../support/in-process-run.js'

vi.mock('@actions/core', () => core)
const { run } = await import('../../../src/main.js')

const REPO = 'openclaw/gw'
const API_TOKEN = 'FlyV1 fm2_preview_inprocess_token_4c8e'
const GH_TOKEN = 'ghs_preview_inprocess_token_91d3'
const GATEWAY_TOKEN = 'gw-preview-inprocess-token-2f7a'
/** The secrets a preview run is handed (production's channel tokens among them). */
const SECRETS = {
  OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
  DISCORD_BOT_TOKEN: 'discord-production-inprocess-6a1f',
  TELEGRAM_BOT_TOKEN: 'telegram-production-inprocess-0b3e',
  PREVIEW_TELEGRAM_BOT_TOKEN: 'telegram-preview-inprocess-7c9d',
}
let gh: GitHubStandin
let fly: FakeFly
let registry: FakeRegistry
let installs = 0

const deps = () => inProcessDeps({ fly, registry }, { onInstall: () => installs++ })

/** A pull_request event file as GitHub writes it (the fields the action reads), and the runner's variables. */
function pullRequestEvent(action: string, number: number): void {
  const file = path.join(folders.root, `event-${number}-${action}.json`)
  const pr = {
    number,
    state: action === 'closed' ? 'closed' : 'open',
    head: { sha: `c0ffee${number}0123456789`, repo: { full_name: REPO } },
    base: { repo: { full_name: REPO } },
  }
  fs.writeFileSync(file, JSON.stringify({ action, number, pull_request: pr, repository: { full_name: REPO } }))
  Object.assign(process.env, {
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: file,
    GITHUB_API_URL: gh.url,
    GITHUB_SERVER_URL: 'https://github.com',
  })
}

/** Every place a run leaves text: no token may be in any of them. */
function leftText(): string {
  return [
    core.failed ?? '',
    core.logs.join('\n'),
    core.summaryText,
    JSON.stringify(Object.fromEntries(core.outputs)),
    fly.calls.map((c) => c.line).join('\n'),
    ...gh.comments.map((c) => c.body),
  ].join('\n')
}

beforeAll(async () => {
  gh = await startGitHubStandin(GH_TOKEN)
})
afterAll(() => gh.close())

const folders = useRunnerFolders('preview-run-')

beforeEach(() => {
  process.env.GITHUB_REPOSITORY = REPO
  fly = newFakeFly()
  registry = newFakeRegistry()
  installs = 0
  gh.clearFailures()
})

/** Fly holding production and the previews named, each with one machine whose env carries its marker. */
function flyWithPreviews(markers: Record<string, string>): void {
  const apps = ['oc-gw', ...Object.keys(markers)]
  for (const app of apps) fly.apps.add(app)
  fly.answers.set('apps list', () => ({
    stdout: JSON.stringify([...fly.apps].map((Name) => ({ Name, Status: 'deployed', Deployed: true }))),
  }))
  fly.answers.set('machines list', (args) => {
    const app = args[args.indexOf('--app') + 1] as string
    const env = markers[app] === undefined ? {} : { OPENCLAW_DEPLOY_PREVIEW: markers[app] }
    return { stdout: JSON.stringify([{ id: `m-${app}`, name: app, state: 'started', region: 'iad', config: { env } }]) }
  })
  fly.answers.set('apps destroy', (args) => {
    fly.apps.delete(args[2] as string)
    return { stdout: `Destroyed app ${args[2]}\n` }
  })
}

describe('cleanup-previews', () => {
  it('destroys only the previews of this repository whose pull request is closed; asks GitHub only about those', async () => {
    flyWithPreviews({
      'oc-gw-pr-11': `${REPO}#11`,
      'oc-gw-pr-12': `${REPO}#12`,
      'oc-gw-pr-13': 'someone/else#13',
    })
    gh.pulls.set(`${REPO}#11`, 'closed')
    gh.pulls.set(`${REPO}#12`, 'open')
    gh.pulls.set(`${REPO}#13`, 'closed')
    gh.pulls.set('someone/else#13', 'closed')
    const asked = gh.requests.length
    core.reset({ app: 'oc-gw', 'api-token': API_TOKEN, mode: 'cleanup-previews', 'github-token': GH_TOKEN })
    process.env.GITHUB_API_URL = gh.url
    await run(deps())
    expect(core.failed, core.logs.join('\n')).toBeUndefined()
    expect(core.outputs.get('previews-destroyed')).toBe('oc-gw-pr-11')
    expect(fly.calls.filter((c) => c.line.startsWith('apps destroy')).map((c) => c.args)).toEqual([
      ['apps', 'destroy', 'oc-gw-pr-11', '-y'],
    ])
    expect([...fly.apps].sort()).toEqual(['oc-gw', 'oc-gw-pr-12', 'oc-gw-pr-13'])
    // The other repository's preview is kept on its marker alone: GitHub is asked about this repository's two.
    expect(
      gh.requests
        .slice(asked)
        .filter((r) => r.method === 'GET' && r.path.includes('/pulls/'))
        .map((r) => r.path)
        .sort(),
    ).toEqual([`/repos/${REPO}/pulls/11`, `/repos/${REPO}/pulls/12`])
    // The summary is Markdown: `#` comes escaped.
    expect(core.summaryText).toContain('oc-gw-pr-12: kept, \\#12 is open')
    expect(core.summaryText).toContain("oc-gw-pr-13: kept, not this repository's preview")
    expect(gh.comments.filter((c) => c.repository === REPO && c.issue === 11).map((c) => c.body)).toEqual([
      expect.stringContaining('was destroyed with its machines and volume'),
    ])
    expect(leftText()).not.toContain(GH_TOKEN)
  })

  it('without github-token is an input error before flyctl is installed or called', async () => {
    core.reset({ app: 'oc-gw', 'api-token': API_TOKEN, mode: 'cleanup-previews' })
    await run(deps())
    expect(core.failed).toContain('`github-token`: `cleanup-previews` reads')
    expect(installs).toBe(0)
    expect(fly.calls).toEqual([])
    expect(core.outputs.get('health')).toBe('skipped')
  })
})

describe('a GitHub API failure while writing the preview comment', () => {
  // The 500, repeated with the real backoff, runs as a process in test/e2e/preview.test.ts.
  const cases: Array<[FailureKind, RegExp]> = [
    ['forbidden', /403: Resource not accessible by integration.*pull-requests: write/],
    ['not-found', /404: Not Found/],
    ['rate-limit-403', /rate limit was reached \(403: API rate limit exceeded.*resets at/],
    ['rate-limit-429', /rate limit was reached \(429: You have exceeded a secondary rate limit/],
  ]

  it.each(cases)('%s only warns; the step succeeds', async (kind, says) => {
    gh.fail({ kind, seconds: 120 })
    // A closed pull request whose preview is gone already: the comment is all that is left to do.
    pullRequestEvent('closed', 21)
    core.reset({
      app: 'oc-gw',
      'api-token': API_TOKEN,
      mode: 'preview',
      'github-token': GH_TOKEN,
      'secrets-json': JSON.stringify(SECRETS),
    })
    await run(deps())
    expect(core.failed, core.logs.join('\n')).toBeUndefined()
    expect(core.outputs.get('preview-action')).toBe('destroyed')
    expect(fly.calls.map((c) => c.line)).not.toContainEqual(expect.stringMatching(/^apps destroy/))
    const warnings = core.logs.filter((l) => l.startsWith('::warning::')).join('\n')
    expect(warnings).toMatch(/The preview comment on #21 was not written/)
    expect(warnings).toMatch(says)
    expect(gh.comments.filter((c) => c.repository === REPO && c.issue === 21)).toEqual([])
    const text = leftText()
    for (const secret of [API_TOKEN, GH_TOKEN, ...Object.values(SECRETS)])
      expect(text.includes(secret), `a secret (${secret.slice(0, 6)}…) leaked`).toBe(false)
  })
})
