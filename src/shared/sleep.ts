/**
 * The one sleep of the action: waits `ms`, or ends early when any of the signals aborts (job
 * cancellation, a gate that has decided). Resolves true when it was cut short, so a caller that
 * must not go on after an abort can say so in one line.
 */
export function sleep(ms: number, ...signals: Array<AbortSignal | undefined>): Promise<boolean> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined)
  if (live.some((s) => s.aborted)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (aborted: boolean): void => {
      clearTimeout(timer)
      for (const s of live) s.removeEventListener('abort', onAbort)
      resolve(aborted)
    }
    const onAbort = (): void => done(true)
    const timer = setTimeout(() => done(false), ms)
    for (const s of live) s.addEventListener('abort', onAbort, { once: true })
  })
}
