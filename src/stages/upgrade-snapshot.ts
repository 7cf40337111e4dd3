/**
 * Upgrades that can be undone. A gateway upgrade migrates its state (2026.9.6 moves what 2026.4.29
 * wrote into `state/openclaw.sqlite` and renames the originals `*.migrated`); an older release
 * started on that volume is "ready" but no longer sees its state. OpenClaw's own rollback guide
 * (docs/install/updating/rollback-and-recovery.md) says the way back is a backup taken before the
 * update, restored with its matching release. So a deploy that changes the gateway release first
 * snapshots the app's volume, and a rollback of that release restores it (health/restore.ts).
 *
 * Which release serves is read from the app's machines: the openclaw image tag they run, else the
 * entry every deploy of this action records in their env (`fly deploy --env`, RELEASE_ENV).
 */
import { releaseOfImage, type GatewayRelease } from '../config/gateway-release.js'
import { READING, type Flyctl } from '../fly/flyctl.js'
import { VolumeSnapshotListSchema, type Machine } from '../fly/schemas.js'
import { appMachines } from '../fly/machines.js'
import { sleep } from '../shared/sleep.js'

/** The env entry each deploy records its gateway release in, read back by the next run. */
export const RELEASE_ENV = 'DEPLOYED_OPENCLAW_RELEASE'

const RECORDED = /^\d{4}\.\d{1,2}\.\d{1,2}$/

export interface ServingRelease {
  version: string
  /** Where it was read: `image ghcr.io/...:v` or the recorded env entry. */
  source: string
}

function releaseOfMachine(m: Machine): ServingRelease | undefined {
  const image = m.config?.image ?? ''
  const tagged = releaseOfImage(image)
  if (tagged) return { version: tagged, source: `image ${image}` }
  const recorded = m.config?.env?.[RELEASE_ENV]
  return recorded && RECORDED.test(recorded)
    ? { version: recorded, source: `${RELEASE_ENV} recorded by the last deploy` }
    : undefined
}

/** The release every app machine runs; undefined when none runs, one is unknown, or they differ. */
export function servingRelease(machines: readonly Machine[]): ServingRelease | undefined {
  const found = appMachines(machines).map(releaseOfMachine)
  const first = found[0]
  if (!first || found.some((r) => r?.version !== first.version)) return undefined
  return first
}

/** `2026.4.29 -> 2026.9.6`, as the plan and the summary show it. */
export function describeUpgrade(serving: ServingRelease | undefined, deploying: GatewayRelease | undefined): string {
  return `${serving?.version ?? 'unknown'} -> ${deploying?.version ?? 'unknown'}`
}

/** The volume a snapshot is taken of: the one the app's machine mounts. */
export interface SnapshotTarget {
  volumeId: string
  volumeName: string
  path: string
  region: string
  machineId: string
}

export type SnapshotDecision = { take: true; target: SnapshotTarget } | { take: false; reason: string; notice: boolean }

export interface SnapshotInputs {
  enabled: boolean
  machines: readonly Machine[]
  /** `[mounts] source` of the rendered config; undefined when it mounts nothing. */
  volume: string | undefined
  serving: ServingRelease | undefined
  deploying: GatewayRelease | undefined
}

/** Whether this deploy takes a snapshot first, and of which volume; the reason when not. */
export function decideSnapshot(i: SnapshotInputs): SnapshotDecision {
  const skip = (reason: string, notice = false): SnapshotDecision => ({ take: false, reason, notice })
  if (!i.enabled) return skip('upgrade-snapshot is false')
  const running = appMachines(i.machines)
  if (running.length === 0) return skip('no machine serves yet: nothing to snapshot')
  if (i.volume === undefined) return skip('the config mounts no volume: nothing to snapshot')
  const unknown = !i.serving ? 'the release that serves' : !i.deploying ? 'the release this run deploys' : undefined
  if (unknown) {
    return skip(
      `${unknown} is unknown (${describeUpgrade(i.serving, i.deploying)}), so no volume snapshot is taken before the deploy: ` +
        'a gateway upgrade could not be undone with its state. Deploy an openclaw image tag (`image: ghcr.io/openclaw/openclaw:<version>`) ' +
        'or a Dockerfile with `FROM ...openclaw...:<version>` or `ARG OPENCLAW_VERSION=<version>`',
      true,
    )
  }
  if (i.serving?.version === i.deploying?.version) return skip(`the gateway release stays ${i.deploying?.version}`)
  const mounting = running.flatMap((m) =>
    (m.config?.mounts ?? []).filter((mt) => mt.name === i.volume && mt.volume).map((mt) => ({ m, mt })),
  )
  if (mounting.length !== 1) {
    const why =
      mounting.length === 0
        ? `no app machine mounts the volume ${i.volume}`
        : `${mounting.length} machines mount a volume ${i.volume}`
    return skip(
      `${why}: this action snapshots and restores one volume, so the upgrade deploys without a snapshot`,
      true,
    )
  }
  const { m, mt } = mounting[0] as (typeof mounting)[number]
  return {
    take: true,
    target: {
      volumeId: mt.volume as string,
      volumeName: i.volume,
      path: mt.path ?? '/data',
      region: m.region,
      machineId: m.id,
    },
  }
}

export interface SnapshotWait {
  timeoutMs: number
  pollMs?: number
  log: (message: string) => void
  signal?: AbortSignal
}

/**
 * `fly volumes snapshots create` returns no id (snapshots/create.go prints "Scheduled to snapshot
 * volume ..."), so the snapshots listed before are compared with the ones listed after: the new
 * one counts once it has an id and reads `created` (flyctl's own preflight test waits the same
 * way, test/preflight/fly_volume_test.go). Returns its id; throws with the cause otherwise.
 */
export async function takeSnapshot(flyctl: Flyctl, app: string, volumeId: string, w: SnapshotWait): Promise<string> {
  const list = () =>
    flyctl.json(['volumes', 'snapshots', 'list', volumeId, '--app', app], VolumeSnapshotListSchema, {
      retry: READING,
      signal: w.signal,
    })
  const before = new Set((await list()).map((s) => s.id).filter((id) => id !== ''))
  const created = await flyctl.run(['volumes', 'snapshots', 'create', volumeId, '--app', app], {
    echo: true,
    signal: w.signal,
    retry: { safe: 'once', why: 'a repeat could take a second snapshot; re-run the job, which takes one' },
  })
  const started = Date.now()
  for (;;) {
    const fresh = (await list()).filter((s) => !before.has(s.id))
    const done = fresh.find((s) => s.id !== '' && s.status === 'created')
    if (done) {
      if (created.change) created.change.what = `took snapshot ${done.id} of volume ${volumeId}`
      return done.id
    }
    const failed = fresh.find((s) => /fail|error/i.test(s.status))
    if (failed)
      throw new Error(
        `the snapshot of volume ${volumeId} failed on Fly (status ${failed.status}${failed.id ? `, ${failed.id}` : ''})`,
      )
    const seen = fresh.length ? fresh.map((s) => s.status || 'pending').join(', ') : 'not listed yet'
    const waited = Date.now() - started
    if (waited >= w.timeoutMs) {
      throw new Error(
        `the snapshot of volume ${volumeId} did not reach "created" within ${Math.round(w.timeoutMs / 1000)} s (\`health-timeout\`; last seen: ${seen})`,
      )
    }
    w.log(`snapshot of ${volumeId}: ${seen}; waiting`)
    if (await sleep(Math.min(w.pollMs ?? 2_000, w.timeoutMs - waited), w.signal)) throw w.signal?.reason
  }
}
