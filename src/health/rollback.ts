/**
 * Rollback: Fly has no rollback command, so take the previous release's image from
 * `fly releases --json` (newest first, flyctl internal/command/apps/releases.go) and deploy it
 * again (`fly deploy --image <ref>`, through the deploy stage's own redeploy).
 */
import { ReleaseListSchema, releaseFailed, type Release } from '../fly/schemas.js'
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
  { rolledBack: true; from: Release; deployed: ReleaseRef; startedAtMs: number } | { rolledBack: false; reason: string }

export async function rollBack(o: RollbackOptions): Promise<RollbackResult> {
  const releases = await o.flyctl.json(['releases', '-a', o.app, '--json'], ReleaseListSchema, {
    signal: o.signal,
    timeoutMs: 60_000,
    retry: { safe: 'reading' },
  })
  const target = previousRelease(releases, o.failed)
  if (!target.release) return { rolledBack: false, reason: target.reason }
  o.log?.(`health: rolling back to the image of release v${target.release.Version}: ${target.release.ImageRef}`)
  const startedAtMs = Date.now()
  const deployed = await o.redeploy(target.release.ImageRef)
  return { rolledBack: true, from: target.release, deployed, startedAtMs: deployed.startedAtMs ?? startedAtMs }
}
