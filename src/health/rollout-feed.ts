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
const TOOK_CONFIG =
  /\b(?:Updated machine config for ([0-9a-f]{8,})|Machine ([0-9a-f]{8,})(?: \[[^\]]*\])? was created)\b/

export class RolloutFeed {
  private events = 0
  private wake: Array<() => void> = []
  /** The machines list read after flyctl exited; undefined while it runs. */
  machinesAfter?: Machine[]
  /**
   * Machines this deploy's flyctl said it updated. It holds their leases until it exits
   * (deploy/plan.go acquireLeases), so until then they run this deploy's release and no other
   * deploy's: the gate judges these, never a machine another run's deploy is rolling.
   */
  readonly ownMachines = new Set<string>()
  /** The release this deploy made, when flyctl emitted it (FLY_EMIT_RELEASE_JSON). */
  ownRelease?: number

  /** One line of `fly deploy`'s output. */
  line(text: string): void {
    const took = TOOK_CONFIG.exec(text)
    if (!took) return
    this.ownMachines.add((took[1] ?? took[2]) as string)
    this.bump()
  }

  /** flyctl has exited; `machines` is what the deploy stage read then, `release` the one it emitted. */
  end(machines: Machine[], release?: number): void {
    this.machinesAfter = machines
    this.ownRelease = release
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
