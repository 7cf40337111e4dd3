import { getOctokit } from '@actions/github'
import { retry, type Backoff } from '../shared/retry.js'

/**
 * The GitHub REST API at GITHUB_API_URL, for the preview comment and cleanup-previews (docs/CONTRACT.md,
 * "Previews"), through @actions/github's Octokit. Nothing here ever fails the step: every
 * answer GitHub may give (401, 403, 404, 5xx, a rate limit) becomes a GitHubApiError whose message
 * says what it means and what to change, and the callers turn it into a warning.
 *
 * Repeats follow GitHub's REST guide ("Best practices for using the REST API", rate limits): a
 * 5xx or a network error is repeated with the project's backoff; a rate limit only when GitHub
 * says to wait briefly (`retry-after`, or `x-ratelimit-reset` when `x-ratelimit-remaining` is 0);
 * a creating request is never repeated, since a lost answer could mean a second comment.
 */

export interface IssueComment {
  id: number
  body: string
  html_url?: string
}

export interface GitHubApi {
  listComments(repo: RepoRef, issue: number): Promise<IssueComment[]>
  createComment(repo: RepoRef, issue: number, body: string): Promise<IssueComment>
  updateComment(repo: RepoRef, id: number, body: string): Promise<IssueComment>
  /** The pull request's `state`: `open` or `closed`. */
  pullState(repo: RepoRef, number: number): Promise<string>
}

export interface RepoRef {
  owner: string
  repo: string
}

export function repoRef(fullName: string): RepoRef {
  const [owner = '', repo = ''] = fullName.split('/')
  return { owner, repo }
}

export class GitHubApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'GitHubApiError'
  }
}

/** Longest wait a rate limit may ask for before the call gives up instead (the job must not stall). */
const MAX_RATE_LIMIT_WAIT_MS = 10_000
export const GITHUB_BACKOFF: Backoff = { attempts: 3, baseDelayMs: 1_000, maxDelayMs: 4_000 }

export interface Answer {
  status: number
  headers: Record<string, string | number | undefined>
  message: string
}

/** What an error answer means, and whether (and after how long) a repeat may help. Pure. */
export function classifyAnswer(
  answer: Answer,
  nowMs: number,
): { message: string; retryAfterMs?: number; transient: boolean } {
  const header = (name: string): string | undefined => {
    const v = answer.headers[name]
    return v === undefined ? undefined : String(v)
  }
  const retryAfter = header('retry-after') === undefined ? undefined : Number(header('retry-after'))
  const exhausted = header('x-ratelimit-remaining') === '0'
  const reset = Number(header('x-ratelimit-reset'))
  const rateLimited = answer.status === 429 || (answer.status === 403 && (exhausted || retryAfter !== undefined))
  if (rateLimited) {
    // GitHub: wait retry-after seconds when given; else until x-ratelimit-reset; else at least a minute.
    const waitMs =
      retryAfter !== undefined && Number.isFinite(retryAfter)
        ? retryAfter * 1000
        : exhausted && reset > 0
          ? reset * 1000 - nowMs
          : 60_000
    const until = exhausted && reset > 0 ? `; it resets at ${new Date(reset * 1000).toISOString()}` : ''
    return {
      message: `GitHub's API rate limit was reached (${answer.status}: ${answer.message})${until}; the next run will try again`,
      retryAfterMs: Math.max(0, waitMs),
      transient: waitMs <= MAX_RATE_LIMIT_WAIT_MS,
    }
  }
  const text = `${answer.status}: ${answer.message}`
  if (answer.status === 401)
    return {
      message: `GitHub refused the token (${text}); pass \`github-token: \${{ github.token }}\``,
      transient: false,
    }
  if (answer.status === 403) {
    return {
      message: `GitHub refused the request (${text}); give the job \`permissions: pull-requests: write\` (a pull request from a fork gets a read-only token)`,
      transient: false,
    }
  }
  if (answer.status === 404)
    return {
      message: `GitHub does not know it (${text}); check the repository and that \`github-token\` can see it`,
      transient: false,
    }
  if (answer.status >= 500) return { message: `GitHub's API failed (${text})`, transient: true }
  return { message: `GitHub answered ${text}`, transient: false }
}

type Safety = 'reading' | 'idempotent' | 'once'

interface CallOptions {
  backoff: Backoff
  log: (message: string) => void
  signal?: AbortSignal
  now?: () => number
}

/** A failed call, read once: GitHub's answer and what it means. */
class ClassifiedAnswer extends Error {
  constructor(
    readonly answer: Answer,
    readonly verdict: ReturnType<typeof classifyAnswer>,
  ) {
    super(verdict.message)
  }
}

/** One API call with GitHub's repeat rules; throws GitHubApiError with a worded message. */
export async function callGitHub<T>(what: string, safety: Safety, fn: () => Promise<T>, opts: CallOptions): Promise<T> {
  let tried = 0
  try {
    return await retry(
      async (attempt) => {
        tried = attempt
        try {
          return await fn()
        } catch (err) {
          const answer = answerOf(err)
          throw new ClassifiedAnswer(answer, classifyAnswer(answer, (opts.now ?? Date.now)()))
        }
      },
      {
        backoff: safety === 'once' ? { ...opts.backoff, attempts: 1 } : opts.backoff,
        isRetryable: (err) => (err as ClassifiedAnswer).verdict.transient,
        retryAfterMs: (err) => (err as ClassifiedAnswer).verdict.retryAfterMs,
        signals: [opts.signal],
        onRetry: ({ error, attempt, attempts, delayMs }) =>
          opts.log(
            `${what}: ${(error as ClassifiedAnswer).verdict.message}; retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${attempts})`,
          ),
      },
    )
  } catch (err) {
    const { answer, verdict } = err as ClassifiedAnswer
    const tries = tried > 1 ? ` (after ${tried} attempts)` : ''
    throw new GitHubApiError(`${what}: ${verdict.message}${tries}`, answer.status)
  }
}

/** Octokit's RequestError (status, response headers, GitHub's `message`), or a network failure. */
function answerOf(err: unknown): Answer {
  const e = err as {
    status?: unknown
    response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
    message?: unknown
  }
  const status = typeof e?.status === 'number' ? e.status : 0
  const data = e?.response?.data as { message?: unknown } | undefined
  const message =
    typeof data?.message === 'string' ? data.message : typeof e?.message === 'string' ? e.message : String(err)
  // No status: the request never got an answer (Octokit reports that as 500 too).
  return { status: status || 500, headers: e?.response?.headers ?? {}, message: message.split('\n')[0] ?? '' }
}

export interface GitHubClientOptions {
  token: string
  /** GITHUB_API_URL; https://api.github.com when empty. */
  baseUrl?: string
  backoff?: Partial<Backoff>
  log: (message: string) => void
  signal?: AbortSignal
}

/** The real API through @actions/github's Octokit (REST endpoint methods and Link pagination). */
export function gitHubClient(options: GitHubClientOptions): GitHubApi {
  const octokit = getOctokit(options.token, {
    baseUrl: options.baseUrl || 'https://api.github.com',
    request: { signal: options.signal },
  })
  const opts: CallOptions = {
    backoff: { ...GITHUB_BACKOFF, ...options.backoff },
    log: options.log,
    signal: options.signal,
  }
  const comment = (c: { id: number; body?: string | null; html_url?: string }): IssueComment => ({
    id: c.id,
    body: c.body ?? '',
    html_url: c.html_url,
  })
  return {
    listComments: (r, issue) =>
      callGitHub(
        `listing the comments of #${issue}`,
        'reading',
        async () => {
          const all = await octokit.paginate(octokit.rest.issues.listComments, {
            ...r,
            issue_number: issue,
            per_page: 100,
          })
          return all.map(comment)
        },
        opts,
      ),
    createComment: (r, issue, body) =>
      callGitHub(
        `commenting on #${issue}`,
        'once',
        async () => comment((await octokit.rest.issues.createComment({ ...r, issue_number: issue, body })).data),
        opts,
      ),
    updateComment: (r, id, body) =>
      callGitHub(
        `updating comment ${id}`,
        'idempotent',
        async () => comment((await octokit.rest.issues.updateComment({ ...r, comment_id: id, body })).data),
        opts,
      ),
    pullState: (r, number) =>
      callGitHub(
        `reading pull request #${number}`,
        'reading',
        async () => (await octokit.rest.pulls.get({ ...r, pull_number: number })).data.state,
        opts,
      ),
  }
}
