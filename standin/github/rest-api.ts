import * as http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A loopback stand-in for the part of GitHub's REST API the action uses (docs.github.com/rest):
 * issue comments (list with `Link` pagination, create, update) and `GET /repos/{o}/{r}/pulls/{n}`.
 * It answers as GitHub does: JSON bodies `{message, documentation_url, status}` on errors, 401 for
 * a wrong token, 404 for what it does not know, the `x-ratelimit-*` headers on every answer, and
 * scripted failures for tests: a status with GitHub's own body and headers (403 and 429 rate
 * limits with `x-ratelimit-remaining: 0` / `retry-after`, 403 permissions, 404, 500).
 * Listens on 127.0.0.1 only. Never records the token, only whether it matched.
 */

export interface StoredComment {
  id: number
  issue: number
  repository: string
  body: string
  user: string
  created_at: string
  updated_at: string
}

export interface RecordedRequest {
  method: string
  path: string
  authorized: boolean
  status: number
}

export type FailureKind = 'rate-limit-403' | 'rate-limit-429' | 'forbidden' | 'not-found' | 'server-error'

export interface FailureRule {
  /** `GET`, `POST`, `PATCH`; any when unset. */
  method?: string
  /** Matched against the path without the query. */
  path?: RegExp
  kind: FailureKind
  /** Answers this many times, then the route works again; always when unset. */
  times?: number
  /** For the rate limits: seconds in `retry-after` (429), or until `x-ratelimit-reset` (403). */
  seconds?: number
}

export interface GitHubStandin {
  url: string
  comments: StoredComment[]
  /** `owner/repo#N` to `open` or `closed`. */
  pulls: Map<string, 'open' | 'closed'>
  requests: RecordedRequest[]
  fail(rule: FailureRule): void
  clearFailures(): void
  close(): Promise<void>
}

const DOCS = 'https://docs.github.com/rest'
const LIMIT = 5000

export async function startGitHubStandin(token: string): Promise<GitHubStandin> {
  const comments: StoredComment[] = []
  const pulls = new Map<string, 'open' | 'closed'>()
  const requests: RecordedRequest[] = []
  const failures: FailureRule[] = []
  const budget = { remaining: LIMIT, reset: Math.floor(Date.now() / 1000) + 3600 }
  let nextId = 1_000_001

  const server = http.createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8').on('data', (c: string) => (raw += c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const auth = req.headers.authorization ?? ''
      const authorized = auth === `token ${token}` || auth === `Bearer ${token}`
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        budget.remaining = Math.max(0, budget.remaining - 1)
        requests.push({ method: req.method ?? '', path: url.pathname, authorized, status })
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'x-github-media-type': 'github.v3; format=json',
          'x-ratelimit-limit': String(LIMIT),
          'x-ratelimit-remaining': String(budget.remaining),
          'x-ratelimit-reset': String(budget.reset),
          'x-ratelimit-used': String(LIMIT - budget.remaining),
          'x-ratelimit-resource': 'core',
          ...headers,
        })
        res.end(body === undefined ? '' : JSON.stringify(body))
      }
      const rule = failures.find(
        (f) => (!f.method || f.method === req.method) && (!f.path || f.path.test(url.pathname)) && f.times !== 0,
      )
      if (rule) {
        if (rule.times !== undefined) rule.times--
        return failWith(rule, send)
      }
      if (!authorized) return send(401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' })
      route(req.method ?? 'GET', url, raw, send)
    })
  })

  const base = (): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const commentJson = (c: StoredComment) => ({
    url: `${base()}/repos/${c.repository}/issues/comments/${c.id}`,
    html_url: `https://github.com/${c.repository}/pull/${c.issue}#issuecomment-${c.id}`,
    issue_url: `${base()}/repos/${c.repository}/issues/${c.issue}`,
    id: c.id,
    node_id: `IC_kwDO${c.id}`,
    user: { login: c.user, id: 41898282, type: 'Bot' },
    created_at: c.created_at,
    updated_at: c.updated_at,
    author_association: 'NONE',
    body: c.body,
  })

  function route(
    method: string,
    url: URL,
    raw: string,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
  ): void {
    const notFound = () => send(404, { message: 'Not Found', documentation_url: DOCS, status: '404' })
    let m = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname)
    if (m && method === 'GET') return listComments(m[1] as string, Number(m[2]), url, send)
    if (m && method === 'POST') {
      const body = (JSON.parse(raw || '{}') as { body?: string }).body
      if (typeof body !== 'string')
        return send(422, {
          message: 'Invalid request.\n\n"body" wasn\'t supplied.',
          documentation_url: DOCS,
          status: '422',
        })
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
      const c: StoredComment = {
        id: nextId++,
        issue: Number(m[2]),
        repository: m[1] as string,
        body,
        user: 'github-actions[bot]',
        created_at: now,
        updated_at: now,
      }
      comments.push(c)
      return send(201, commentJson(c), { location: commentJson(c).url })
    }
    m = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname)
    if (m && method === 'PATCH') {
      const c = comments.find((x) => x.id === Number(m?.[2]) && x.repository === m?.[1])
      if (!c) return notFound()
      c.body = (JSON.parse(raw || '{}') as { body: string }).body
      c.updated_at = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
      return send(200, commentJson(c))
    }
    m = /^\/repos\/([^/]+\/[^/]+)\/pulls\/(\d+)$/.exec(url.pathname)
    if (m && method === 'GET') {
      const state = pulls.get(`${m[1]}#${m[2]}`)
      if (!state) return notFound()
      return send(200, pullJson(m[1] as string, Number(m[2]), state))
    }
    notFound()
  }

  function listComments(
    repository: string,
    issue: number,
    url: URL,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
  ): void {
    // GitHub: per_page default 30, at most 100; page from 1; Link with next/last (and prev/first past page 1).
    const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30)
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1)
    const all = comments.filter((c) => c.repository === repository && c.issue === issue)
    const last = Math.max(1, Math.ceil(all.length / perPage))
    const link = (p: number, rel: string) => `<${base()}${url.pathname}?per_page=${perPage}&page=${p}>; rel="${rel}"`
    const links = [
      ...(page > 1 ? [link(page - 1, 'prev')] : []),
      ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
      ...(page > 1 ? [link(1, 'first')] : []),
    ]
    send(
      200,
      all.slice((page - 1) * perPage, page * perPage).map(commentJson),
      links.length ? { link: links.join(', ') } : {},
    )
  }

  function failWith(rule: FailureRule, send: (s: number, b: unknown, h?: Record<string, string>) => void): void {
    const seconds = rule.seconds ?? 3600
    switch (rule.kind) {
      case 'rate-limit-403':
        budget.remaining = 0
        budget.reset = Math.floor(Date.now() / 1000) + seconds
        return send(
          403,
          {
            message: 'API rate limit exceeded for installation ID 1.',
            documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api`,
            status: '403',
          },
          { 'x-ratelimit-remaining': '0' },
        )
      case 'rate-limit-429':
        return send(
          429,
          {
            message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
            documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
            status: '429',
          },
          { 'retry-after': String(seconds) },
        )
      case 'forbidden':
        return send(403, {
          message: 'Resource not accessible by integration',
          documentation_url: `${DOCS}/issues/comments#create-an-issue-comment`,
          status: '403',
        })
      case 'not-found':
        return send(404, { message: 'Not Found', documentation_url: DOCS, status: '404' })
      case 'server-error':
        return send(500, { message: 'Server Error' })
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: base(),
    comments,
    pulls,
    requests,
    fail: (rule) => failures.push({ ...rule }),
    clearFailures: () => failures.splice(0),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

function pullJson(repository: string, number: number, state: 'open' | 'closed') {
  return {
    url: `https://api.github.com/repos/${repository}/pulls/${number}`,
    id: 100000 + number,
    number,
    state,
    locked: false,
    title: `Change the gateway (#${number})`,
    html_url: `https://github.com/${repository}/pull/${number}`,
    closed_at: state === 'closed' ? '2026-09-01T12:00:00Z' : null,
    merged_at: null,
    head: { ref: `change-${number}`, sha: 'a1b2c3d4e5f6', repo: { full_name: repository } },
    base: { ref: 'main', sha: 'f6e5d4c3b2a1', repo: { full_name: repository } },
  }
}
