import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelayMs, DEFAULT_BACKOFF, retry, type Backoff, type RetryNotice } from '../../../src/shared/retry.js'

const FAST: Backoff = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 10_000 }

/** A sleep that only records what it was asked to wait. */
function recordingSleep(): { delays: number[]; sleep: (ms: number) => Promise<boolean> } {
  const delays: number[] = []
  return {
    delays,
    sleep: async (ms) => {
      delays.push(ms)
      return false
    },
  }
}

const failing = (tries: number[]) => async (n: number) => {
  tries.push(n)
  throw new Error(`try ${n} failed`)
}

describe('backoffDelayMs', () => {
  it('grows, stays within its cap, and spreads with jitter', () => {
    const b: Backoff = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 3000 }
    expect([1, 2, 3].map((n) => backoffDelayMs(b, n, () => 0))).toEqual([500, 1000, 1500])
    expect([1, 2, 3].map((n) => backoffDelayMs(b, n, () => 1))).toEqual([1000, 2000, 3000])
  })

  it('doubles, jitters within the upper half, and never passes the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (repeat, random) => {
          const delay = backoffDelayMs({ attempts: 100, baseDelayMs: 1000, maxDelayMs: 10_000 }, repeat, () => random)
          const ceiling = Math.min(10_000, 1000 * 2 ** (repeat - 1))
          expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
          expect(delay).toBeLessThanOrEqual(ceiling)
        },
      ),
    )
  })

  it('defaults to four attempts, 1 s doubling up to 10 s', () => {
    expect(DEFAULT_BACKOFF).toEqual({ attempts: 4, baseDelayMs: 1_000, maxDelayMs: 10_000 })
  })
})

describe('retry', () => {
  it('returns the first success, after repeating retryable failures', async () => {
    const { delays, sleep } = recordingSleep()
    const notices: RetryNotice[] = []
    const value = await retry(
      async (n) => {
        if (n < 3) throw new Error(`try ${n}`)
        return n
      },
      { backoff: FAST, isRetryable: () => true, sleep, random: () => 0, onRetry: (x) => notices.push(x) },
    )
    expect(value).toBe(3)
    expect(delays).toEqual([500, 1000])
    expect(notices.map((x) => [x.attempt, x.attempts, x.delayMs, (x.error as Error).message])).toEqual([
      [1, 4, 500, 'try 1'],
      [2, 4, 1000, 'try 2'],
    ])
  })

  it('gives up after the last attempt with the last error', async () => {
    const tries: number[] = []
    const { delays, sleep } = recordingSleep()
    await expect(retry(failing(tries), { backoff: FAST, isRetryable: () => true, sleep })).rejects.toThrow(
      'try 4 failed',
    )
    expect(tries).toEqual([1, 2, 3, 4])
    expect(delays).toHaveLength(3)
  })

  it('runs once when attempts is 1 or less, and when the failure is not retryable', async () => {
    for (const [attempts, retryable] of [
      [1, true],
      [0, true],
      [4, false],
    ] as const) {
      const tries: number[] = []
      const { delays, sleep } = recordingSleep()
      await expect(
        retry(failing(tries), { backoff: { ...FAST, attempts }, isRetryable: () => retryable, sleep }),
      ).rejects.toThrow('try 1 failed')
      expect(tries).toEqual([1])
      expect(delays).toEqual([])
    }
  })

  it('waits the longer of the backoff and Retry-After', async () => {
    const { delays, sleep } = recordingSleep()
    const hints = [3_000, 100, undefined]
    const tries: number[] = []
    await expect(
      retry(failing(tries), {
        backoff: FAST,
        isRetryable: () => true,
        retryAfterMs: () => hints[tries.length - 1],
        sleep,
        random: () => 0,
      }),
    ).rejects.toThrow('try 4 failed')
    expect(delays).toEqual([3_000, 1_000, 2_000])
  })

  it('never waits past the backoff cap on its own', async () => {
    const { delays, sleep } = recordingSleep()
    await retry(failing([]), {
      backoff: { attempts: 8, baseDelayMs: 1000, maxDelayMs: 2500 },
      isRetryable: () => true,
      sleep,
      random: () => 0.999,
    }).catch(() => undefined)
    expect(delays).toHaveLength(7)
    expect(Math.max(...delays)).toBeLessThanOrEqual(2500)
    expect(delays.slice(2)).toEqual(Array(5).fill(2499))
  })

  it('stops at once when the job is cancelled during a backoff', async () => {
    const cancel = new AbortController()
    const tries: number[] = []
    const started = Date.now()
    setTimeout(() => cancel.abort(), 20)
    await expect(
      retry(failing(tries), {
        backoff: { attempts: 4, baseDelayMs: 60_000, maxDelayMs: 60_000 },
        isRetryable: () => true,
        signals: [undefined, cancel.signal],
      }),
    ).rejects.toThrow('try 1 failed')
    expect(tries).toEqual([1])
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('does not repeat an attempt that failed after the job was cancelled', async () => {
    const cancel = new AbortController()
    const { delays, sleep } = recordingSleep()
    const tries: number[] = []
    await expect(
      retry(
        async (n) => {
          tries.push(n)
          cancel.abort()
          throw new Error('ended by the cancellation')
        },
        { backoff: FAST, isRetryable: () => true, signals: [cancel.signal], sleep },
      ),
    ).rejects.toThrow('ended by the cancellation')
    expect(tries).toEqual([1])
    expect(delays).toEqual([])
  })
})
