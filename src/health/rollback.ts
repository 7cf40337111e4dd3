/**
 * Rollback: Fly has no rollback command, so take the previous release's image from
 * `fly releases --json` (newest first, flyctl internal/command/apps/releases.go) and deploy it
 * again (`fly deploy --image <ref>`, through the deploy stage's own redeploy).
 */
import { ReleaseListSchema, type Machine, type Release } from '../fly/schemas.js'
import { newestAbove, newestOnMachinesAbove, rollbackTarget, type ReleaseRef } from '../fly/releases.js'
import { isAppMachine } from '../fly/machines.js'
import type { FlyctlRunner } from './gate.js'

/**
 * Another deploy's release on the app's machines above `own`: with its leases, another deploy can
 * reach the machines only once this run's flyctl gave them back, so the list read after it exited
 * shows whether one did before the verdict.
 */
export function newerOnMachines(machines: readonly Machine[], own: number): number | undefined {
  return newestOnMachinesAbove(machines.filter(isAppMachine), own)
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
  const target = rollbackTarget(releases, o.failed)
  const newer = newestAbove(releases, o.failed.version)
  if (!target.release) return { rolledBack: false, reason: target.reason, ...(newer ? { newer: newer.Version } : {}) }
  o.log?.(`health: rolling back to the image of release v${target.release.Version}: ${target.release.ImageRef}`)
  const startedAtMs = Date.now()
  const deployed = await o.redeploy(target.release.ImageRef)
  return { rolledBack: true, from: target.release, deployed, startedAtMs: deployed.startedAtMs ?? startedAtMs }
}
