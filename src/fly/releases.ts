import { releaseFailed, type Machine, type Release } from './schemas.js'

/**
 * The app's releases as `fly releases --json` lists them (flyctl internal/command/apps/releases.go),
 * and the choices every stage makes from them: the newest, the newest above a baseline, one still
 * rolling out, and the release a rollback goes back to. Pure.
 */

/** Newest first (a copy). */
export function newestFirst(releases: readonly Release[]): Release[] {
  return [...releases].sort((a, b) => b.Version - a.Version)
}

export function newest(releases: readonly Release[]): Release | undefined {
  return newestFirst(releases)[0]
}

/**
 * The newest release above `baseline` that did not fail: another deploy's, when this run did not
 * make it. Failed and interrupted releases never served.
 */
export function newestAbove(releases: readonly Release[], baseline: number): Release | undefined {
  return newestFirst(releases).find((r) => r.Version > baseline && !releaseFailed(r))
}

/** A release still rolling out: flyctl's InProgress, or a status that is not final yet. */
export function inProgress(r: Release): boolean {
  return r.InProgress === true || /^(running|pending|in[_ ]?progress)$/i.test(r.Status)
}

/** A release that served: it completed (flyctl deploy/machines_deploymachinesapp.go) with an image. */
export function served(r: Release): boolean {
  return r.ImageRef !== '' && !releaseFailed(r)
}

export interface ReleaseRef {
  version: number
  imageRef: string
}

export type RollbackTarget = { release: Release } | { release?: undefined; reason: string }

/**
 * What a rollback of `failed` deploys: the newest earlier release that served and ran a different
 * image (one with the failed image would bring the same image back). Only the app's newest release
 * is rolled back: after another deploy's, there is no target.
 */
export function rollbackTarget(releases: readonly Release[], failed: ReleaseRef): RollbackTarget {
  const newer = newestAbove(releases, failed.version)
  if (newer)
    return {
      reason: `release v${failed.version} is no longer the app's newest: release v${newer.Version} from another deploy followed it`,
    }
  const earlier = newestFirst(releases).filter((r) => r.Version < failed.version)
  if (earlier.length === 0)
    return { reason: `release v${failed.version} is the app's first release: there is nothing to roll back to` }
  const servedBefore = earlier.filter(served)
  if (servedBefore.length === 0)
    return { reason: `no earlier release of the app completed with an image: there is nothing to roll back to` }
  const different = servedBefore.find((r) => r.ImageRef !== failed.imageRef)
  if (!different) {
    return {
      reason: `every earlier release ran the same image (${failed.imageRef}): rolling back the image cannot undo a configuration or secret change`,
    }
  }
  return { release: different }
}

/** The newest `fly_release_version` above `after` on the given machines (the ones the caller chose). */
export function newestOnMachinesAbove(machines: readonly Machine[], after: number): number | undefined {
  const versions = machines
    .map((m) => Number(m.config?.metadata?.fly_release_version))
    .filter((v) => Number.isInteger(v) && v > after)
  return versions.length > 0 ? Math.max(...versions) : undefined
}
