/**
 * What `fly deploy` tells the gate that runs alongside it, so the gate reads the app's machines
 * only when something happened (nothing read that the run does not use) instead of
 * polling while flyctl itself waits on them:
 * - each line in which flyctl says a machine took the release's config; and
 * - the `machines list` the deploy stage reads once flyctl has exited.
 */
import type { Machine } from '../fly/schemas.js'
import { sleep } from '../shared/sleep.js'

/**
 * flyctl's own words once a machine has the new config (non-interactive status lines):
 * `Updated machine config for <id>` (deploy/plan.go updateOrCreateMachine, every rolling,
 * canary and immediate update, skipped launches included) and `Machine <id> [app] was created`
 * (deploy/machines_deploymachinesapp.go spawnMachineInGroup, an app's first machines).
 */
const TOOK_CONFIG = /\b(?:Updated machine config for [0-9a-f]{8,}|Machine [0-9a-f]{8,}(?: \[[^\]]*\])? was created)\b/

export class RolloutFeed {
  private events = 0
  private wake: Array<() => void> = []
  /** The machines list read after flyctl exited; undefined while it runs. */
  machinesAfter?: Machine[]

  /** One line of `fly deploy`'s output. */
  line(text: string): void {
    if (TOOK_CONFIG.test(text)) this.bump()
  }

  /** flyctl has exited; `machines` is what the deploy stage read then. */
  end(machines: Machine[]): void {
    this.machinesAfter = machines
    this.bump()
  }

  /** How many events so far: pass it to next() to wait for a later one. */
  get count(): number {
    return this.events
  }

  /** Resolves after the first event past `seen`, or after `ms`, or when `signal` aborts. */
  async next(seen: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.events > seen) return
    const stop = new AbortController()
    const onEvent = (): void => stop.abort()
    this.wake.push(onEvent)
    try {
      await sleep(ms, signal, stop.signal)
    } finally {
      this.wake = this.wake.filter((w) => w !== onEvent)
    }
  }

  private bump(): void {
    this.events++
    for (const w of this.wake.splice(0)) w()
  }
}
