// `volumes snapshots create|list` and `volumes create --snapshot-id`: what they print and change.
// Sources: superfly/flyctl v0.4.87 internal/command/volumes/snapshots/{create,list,snapshots}.go,
// internal/command/volumes/create.go (CreateVolumeRequest.SnapshotID); superfly/fly-go
// volume_types.go (VolumeSnapshot), flaps/flaps_volumes.go (CreateVolumeSnapshot,
// GetVolumeSnapshots, CreateVolume's "failed to create volume: %w").
// A snapshot is a copy of the volume's directory taken when `create` is called; it reads pending
// (no id yet, `running`) for `snapshotPendingMs`, then `created`, as flyctl's preflight test
// (test/preflight/fly_volume_test.go) polls `snapshot ls --json` until the status is `created`.
import { crypto, fs } from '../platform/builtins.ts'
import { configAppName } from '../appconfig/appconfig.ts'
import { err, flagBool, flagString, loadConfig, out, requireSession } from '../cli/context.ts'
import type { Ctx } from '../cli/context.ts'
import { goJson, table } from '../cli/render.ts'
import { FlyError, alnumId, readPlatform, snapshotDirOf, updatePlatform, volumeDirOf } from '../platform/state.ts'
import type { AppRecord, Platform, SnapshotRecord, VolumeRecord } from '../platform/state.ts'

const DEFAULT_PENDING_MS = 1_500

/**
 * command.LoadAppNameIfPresent, then client.GetAppNameFromVolume when no app was named. A volume
 * of another app (or none) is the API's "Could not find Volume".
 */
function volumeOf(platform: Platform, ctx: Ctx, volumeId: string): { app: AppRecord; volume: VolumeRecord } {
  const named = flagString(ctx, 'app') || ctx.env.FLY_APP || configAppName(loadConfig(ctx))
  const apps = named
    ? [platform.apps[named]].filter((a): a is AppRecord => a !== undefined)
    : Object.values(platform.apps)
  if (named && apps.length === 0) throw new FlyError('Could not find App')
  for (const app of apps) {
    const volume = app.volumes.find((v) => v.id === volumeId && v.state !== 'destroyed')
    if (volume) return { app, volume }
  }
  throw new FlyError(named ? `failed to get volume ${volumeId}: volume not found` : 'Could not find Volume')
}

/** Copies regular files, folders and links; a live gateway's socket is not data. */
function copyTree(from: string, to: string): number {
  fs.mkdirSync(to, { recursive: true })
  if (!fs.existsSync(from)) return 0
  let bytes = 0
  fs.cpSync(from, to, {
    recursive: true,
    preserveTimestamps: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const st = fs.lstatSync(src)
      if (st.isFile()) bytes += st.size
      return st.isFile() || st.isDirectory() || st.isSymbolicLink()
    },
  })
  return bytes
}

export async function runSnapshotsCreate(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const volumeId = ctx.parsed.args[0] as string
  const pendingMs = ctx.faults.snapshotNeverCompletes
    ? Number.MAX_SAFE_INTEGER
    : (ctx.faults.snapshotPendingMs ?? DEFAULT_PENDING_MS)
  await updatePlatform(ctx.stateDir, (platform) => {
    const { volume } = volumeOf(platform, ctx, volumeId)
    const id = `vs_${alnumId(20)}`
    const size = copyTree(volumeDirOf(ctx.stateDir, volume.id), snapshotDirOf(ctx.stateDir, id))
    const snapshot: SnapshotRecord = {
      id,
      size,
      volume_size: volume.size_gb * 1024 ** 3,
      digest: crypto().createHash('sha256').update(id).digest('hex'),
      created_at: new Date().toISOString(),
      retention_days: volume.snapshot_retention,
      ready_at: Date.now() + pendingMs,
    }
    volume.snapshots = [...(volume.snapshots ?? []), snapshot]
  })
  // create.go: the API schedules the snapshot; flyctl prints this line whatever --json says.
  out(`Scheduled to snapshot volume ${volumeId}\n`)
  return 0
}

/** fly-go VolumeSnapshot as render.JSON prints it; a pending one has no id yet. */
function snapshotJson(s: SnapshotRecord, now: number) {
  const ready = now >= s.ready_at
  return {
    id: ready ? s.id : '',
    size: ready ? s.size : 0,
    volume_size: s.volume_size,
    digest: ready ? s.digest : '',
    created_at: s.created_at,
    status: ready ? 'created' : 'running',
    retention_days: s.retention_days,
  }
}

export async function runSnapshotsList(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const volumeId = ctx.parsed.args[0] as string
  const { volume } = volumeOf(readPlatform(ctx.stateDir), ctx, volumeId)
  const now = Date.now()
  // list.go: sorted oldest to newest.
  const snapshots = [...(volume.snapshots ?? [])]
    .sort((a, b) => a.created_at.localeCompare(b.created_at))
    .map((s) => snapshotJson(s, now))
  if (flagBool(ctx, 'json')) {
    out(goJson(snapshots))
    return 0
  }
  if (snapshots.length === 0) {
    err(`No snapshots available for volume ${volumeId}\n`)
    return 0
  }
  const rows = snapshots.map((s) => [
    s.id || '(pending)',
    s.status,
    `${s.size} B`,
    `${s.volume_size} B`,
    s.created_at,
    String(s.retention_days),
  ])
  const total = snapshots.reduce((n, s) => n + s.size, 0)
  out(
    `Snapshots\n${table(rows, ['ID', 'Status', 'Stored Size', 'Vol Size', 'Created At', 'Retention Days'])}\nTotal stored size: ${total} B\n`,
  )
  return 0
}

/**
 * `volumes create --snapshot-id`: the platform restores the snapshot into the new volume. A
 * snapshot this app does not hold, or one still pending, is refused by the API (flaps wraps it as
 * "failed to create volume: ..."; the API's own words are not in flyctl's source).
 */
export function restoreSnapshot(ctx: Ctx, app: AppRecord, snapshotId: string, into: VolumeRecord): void {
  const now = Date.now()
  const snapshot = app.volumes.flatMap((v) => v.snapshots ?? []).find((s) => s.id === snapshotId && now >= s.ready_at)
  if (!snapshot) throw new FlyError(`failed to create volume: snapshot ${snapshotId} not found`)
  const target = volumeDirOf(ctx.stateDir, into.id)
  fs.rmSync(target, { recursive: true, force: true })
  copyTree(snapshotDirOf(ctx.stateDir, snapshot.id), target)
}
