/**
 * Rollback: Fly has no rollback command, so take the previous release's image from
 * `fly releases --json` (newest first, flyctl internal/command/apps/releases.go) and deploy it
 * again (`fly deploy --image <ref>`, through the deploy stage's own redeploy).
 */
import { ReleaseListSchema, releaseFailed, type Machine, type Release } from '../fly/schemas.js'
import { isAppMachine } from '../fly/machines.js'
import type { FlyctlRunner } from './gate.js'

export interface ReleaseRef {
  version: number
  imageRef: string
}

export type RollbackTarget = { release: Release } | { release?: undefined; reason: string }

/**
 * The newest earlier release that completed and ran a different image. Releases that failed or
 * were interrupted (flyctl deploy/machines_deploymachinesapp.go sets `complete`, `failed`,
 * `interrupted`) never served; one with the failed image would bring the same image back.
 */
export function previousRelease(releases: readonly Release[], failed: ReleaseRef): RollbackTarget {
  // A run rolls back only its own release, and only while it is the app's newest.
  const newer = newerRelease(releases, failed.version)
  if (newer)
    return {
      reason: `release v${failed.version} is no longer the app's newest: release v${newer.Version} from another deploy followed it`,
    }
  const earlier = [...releases].filter((r) => r.Version < failed.version).sort((a, b) => b.Version - a.Version)
  if (earlier.length === 0)
    return { reason: `release v${failed.version} is the app's first release: there is nothing to roll back to` }
  const served = earlier.filter((r) => r.ImageRef !== '' && !releaseFailed(r))
  if (served.length === 0)
    return { reason: `no earlier release of the app completed with an image: there is nothing to roll back to` }
  const different = served.find((r) => r.ImageRef !== failed.imageRef)
  if (!different) {
    return {
      reason: `every earlier release ran the same image (${failed.imageRef}): rolling back the image cannot undo a configuration or secret change`,
    }
  }
  return { release: different }
}

/**
 * The newest release above `own` that did not fail: another deploy's, which this run did not make
 * (two runs deploying one app at once). Failed and interrupted releases never served.
 */
export function newerRelease(releases: readonly Release[], own: number): Release | undefined {
  return [...releases].filter((r) => r.Version > own && !releaseFailed(r)).sort((a, b) => b.Version - a.Version)[0]
}

/**
 * Another deploy's release on the app's machines above `own`: with its leases, another deploy can
 * reach the machines only once this run's flyctl gave them back, so the list read after it exited
 * shows whether one did before the verdict.
 */
export function newerOnMachines(machines: readonly Machine[], own: number): number | undefined {
  const versions = machines
    .filter(isAppMachine)
    .map((m) => Number(m.config?.metadata?.fly_release_version))
    .filter((v) => Number.isInteger(v) && v > own)
  return versions.length > 0 ? Math.max(...versions) : undefined
}

/** The step's error when another deploy's release followed this run's before its verdict. */
export function supersededMessage(app: string, own: number, newer: number, verdict: string): string {
  return (
    `release v${own} was superseded by release v${newer} from another deploy before this run's verdict (v${own} was ${verdict}); ` +
    `this run reports no release it did not make and rolled nothing back. Two runs deployed ${app} at the same time: give the workflow a ` +
    `\`concurrency\` group per app (for example \`concurrency: { group: fly-deploy-${app}, cancel-in-progress: false }\`) so each deploy waits for the one before it`
  )
}

export interface RollbackOptions {
  flyctl: FlyctlRunner
  app: string
  failed: ReleaseRef
  /** Provided by the deploy stage: deploy this image with the run's config; returns the new release. */
  redeploy: (imageRef: string) => Promise<ReleaseRef & { startedAtMs?: number }>
  log?: (message: string) => void
  signal?: AbortSignal
}

export type RollbackResult =
  | { rolledBack: true; from: Release; deployed: ReleaseRef; startedAtMs: number }
  | { rolledBack: false; reason: string; /** Another deploy's release above the failed one. */ newer?: number }

export async function rollBack(o: RollbackOptions): Promise<RollbackResult> {
  const releases = await o.flyctl.json(['releases', '-a', o.app, '--json'], ReleaseListSchema, {
    signal: o.signal,
    timeoutMs: 60_000,
    retry: { safe: 'reading' },
  })
  const target = previousRelease(releases, o.failed)
  const newer = newerRelease(releases, o.failed.version)
  if (!target.release) return { rolledBack: false, reason: target.reason, ...(newer ? { newer: newer.Version } : {}) }
  o.log?.(`health: rolling back to the image of release v${target.release.Version}: ${target.release.ImageRef}`)
  const startedAtMs = Date.now()
  const deployed = await o.redeploy(target.release.ImageRef)
  return { rolledBack: true, from: target.release, deployed, startedAtMs: deployed.startedAtMs ?? startedAtMs }
}
