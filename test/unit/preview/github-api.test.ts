// The GitHub REST client (src/preview/github-api.ts, @actions/github's Octokit) against the loopback GitHub
// stand-in (standin/github/rest-api.ts): Link pagination, and every failing answer worded.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  GitHubApiError,
  classifyAnswer,
  gitHubClient,
  repoRef,
  type GitHubApi,
} from '../../../src/preview/github-api.js'
import { startGitHubStandin, type GitHubStandin } from '../../../standin/github/rest-api.ts'

const TOKEN = 'ghs_standin_token_5f2a9c'
const REPO = repoRef('openclaw/gw')
let gh: GitHubStandin
let api: GitHubApi
const logged: string[] = []

beforeAll(async () => {
  gh = await startGitHubStandin(TOKEN)
  api = gitHubClient({
    token: TOKEN,
    baseUrl: gh.url,
    backoff: { baseDelayMs: 20, maxDelayMs: 40 },
    log: (m) => logged.push(m),
  })
})
afterAll(() => gh.close())
beforeEach(() => {
  gh.clearFailures()
  gh.requests.splice(0)
  logged.splice(0)
})

async function refusal(p: Promise<unknown>): Promise<GitHubApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(GitHubApiError)
  return err as GitHubApiError
}

describe('the GitHub client', () => {
  it('creates, lists across Link pages (per_page=100) and updates comments; reads a pull request state', async () => {
    for (let i = 0; i < 130; i++) await api.createComment(REPO, 5, `chatter ${i}`)
    const mine = await api.createComment(REPO, 5, '<!-- marker --> hello')
    gh.requests.splice(0)
    const all = await api.listComments(REPO, 5)
    expect(all).toHaveLength(131)
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/openclaw/gw/issues/5/comments',
      'GET /repos/openclaw/gw/issues/5/comments',
    ])
    expect(all.find((c) => c.body.includes('<!-- marker -->'))?.id).toBe(mine.id)
    const updated = await api.updateComment(REPO, mine.id, '<!-- marker --> bye')
    expect(updated.body).toBe('<!-- marker --> bye')
    gh.pulls.set('openclaw/gw#5', 'closed')
    expect(await api.pullState(REPO, 5)).toBe('closed')
    expect(gh.requests.every((r) => r.authorized)).toBe(true)
  })

  it('404, 403 (permissions), a wrong token: one attempt each, worded', async () => {
    expect((await refusal(api.pullState(REPO, 404))).message).toMatch(
      /^reading pull request #404: GitHub does not know it \(404: Not Found\)/,
    )
    gh.fail({ method: 'POST', kind: 'forbidden' })
    const forbidden = await refusal(api.createComment(REPO, 5, 'x'))
    expect(forbidden.message).toContain('403: Resource not accessible by integration')
    expect(forbidden.message).toContain('permissions: pull-requests: write')
    const wrong = gitHubClient({ token: 'ghs_wrong', baseUrl: gh.url, log: () => {} })
    expect((await refusal(wrong.pullState(REPO, 5))).message).toContain('401: Bad credentials')
    expect(gh.requests).toHaveLength(3)
  })

  it('a 500 is repeated with backoff, then reported; a creating request is never repeated', async () => {
    gh.fail({ kind: 'server-error' })
    const err = await refusal(api.listComments(REPO, 5))
    expect(err.message).toContain("GitHub's API failed (500: Server Error) (after 3 attempts)")
    expect(logged).toHaveLength(2)
    gh.requests.splice(0)
    await refusal(api.createComment(REPO, 5, 'x'))
    expect(gh.requests).toHaveLength(1)
  })

  it('a 429 with a short retry-after waits and repeats; a 403 rate limit resetting in an hour gives up at once', async () => {
    gh.fail({ kind: 'rate-limit-429', seconds: 1, times: 1 })
    const started = Date.now()
    expect(await api.pullState(REPO, 5)).toBe('closed')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    expect(logged[0]).toContain('rate limit')

    gh.fail({ kind: 'rate-limit-403', seconds: 3600 })
    gh.requests.splice(0)
    const err = await refusal(api.pullState(REPO, 5))
    expect(err.status).toBe(403)
    expect(err.message).toMatch(
      /rate limit was reached \(403: API rate limit exceeded for installation ID 1\.\); it resets at \d{4}-/,
    )
    expect(gh.requests).toHaveLength(1)
  })
})

describe('classifyAnswer', () => {
  it('reads GitHub rate-limit headers', () => {
    const now = 1_700_000_000_000
    expect(
      classifyAnswer(
        {
          status: 403,
          headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 5) },
          message: 'x',
        },
        now,
      ),
    ).toMatchObject({ transient: true, retryAfterMs: 5000 })
    expect(classifyAnswer({ status: 429, headers: { 'retry-after': '60' }, message: 'x' }, now)).toMatchObject({
      transient: false,
      retryAfterMs: 60000,
    })
    expect(
      classifyAnswer({ status: 403, headers: {}, message: 'Resource not accessible by integration' }, now).transient,
    ).toBe(false)
    expect(classifyAnswer({ status: 502, headers: {}, message: 'Bad Gateway' }, now).transient).toBe(true)
  })
})
