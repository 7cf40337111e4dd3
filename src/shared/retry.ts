import { sleep as cancellableSleep } from './sleep.js'

/**
 * The one retry loop of the action, in the spirit of @actions/tool-cache's RetryHelper
 * (retry-helper.ts `execute`): run an attempt, and when it throws an error the caller deems
 * retryable, wait a backoff (or the server's Retry-After when longer) and run it again, up to a
 * number of attempts. Used by flyctl calls (fly/flyctl.ts), the GitHub REST API
 * (preview/github-api.ts) and the flyctl download (install/install-flyctl.ts).
 *
 * Job cancellation (the run's AbortSignal, aborted on SIGINT/SIGTERM in main.ts) ends the loop at
 * once: no repeat after an aborted attempt, and a backoff is cut short; the last error is thrown.
 */

export interface Backoff {
  /** Attempts in all, the first included. */
  attempts: number
  /** Delay before the first repeat; doubled for each further one, with jitter. */
  baseDelayMs: number
  maxDelayMs: number
}

export const DEFAULT_BACKOFF: Backoff = { attempts: 4, baseDelayMs: 1_000, maxDelayMs: 10_000 }

/** Delay before repeat number `repeat` (1-based): jitter over an exponential, capped. */
export function backoffDelayMs(b: Backoff, repeat: number, random: () => number = Math.random): number {
  const ceiling = Math.min(b.maxDelayMs, b.baseDelayMs * 2 ** (repeat - 1))
  // Half fixed, half random: spreads concurrent runs apart without ever retrying at once.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

/** What the caller learns before each repeat (to log it in its own words). */
export interface RetryNotice {
  error: unknown
  /** The attempt that failed (1-based). */
  attempt: number
  /** Attempts in all. */
  attempts: number
  delayMs: number
}

export interface RetryOptions {
  backoff: Backoff
  /** Whether a failed attempt may be repeated (a transient failure of a call safe to repeat). */
  isRetryable: (error: unknown) => boolean
  /** A wait the other side asked for (Retry-After); the delay is the longer of it and the backoff. */
  retryAfterMs?: (error: unknown) => number | undefined
  /** Job cancellation: no repeat once any of them is aborted. */
  signals?: ReadonlyArray<AbortSignal | undefined>
  /** Waits, cut short by the signals; resolves true when cut short (tests pass their own). */
  sleep?: (ms: number, ...signals: Array<AbortSignal | undefined>) => Promise<boolean>
  random?: () => number
  onRetry?: (notice: RetryNotice) => void
}

/**
 * Run `attempt` (given its 1-based number) until it resolves, fails in a way that is not
 * retryable, runs out of attempts, or the job is cancelled; then the last error is thrown.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = Math.max(1, opts.backoff.attempts)
  const signals = opts.signals ?? []
  const cancelled = (): boolean => signals.some((s) => s?.aborted === true)
  const wait = opts.sleep ?? cancellableSleep
  for (let n = 1; ; n++) {
    try {
      return await attempt(n)
    } catch (error) {
      if (n >= attempts || cancelled() || !opts.isRetryable(error)) throw error
      const backoff = backoffDelayMs(opts.backoff, n, opts.random)
      const delayMs = Math.max(backoff, opts.retryAfterMs?.(error) ?? 0)
      opts.onRetry?.({ error, attempt: n, attempts, delayMs })
      if ((await wait(delayMs, ...signals)) || cancelled()) throw error
    }
  }
}
