/**
 * The rollback of a gateway upgrade, onto the snapshot taken before it (stages/upgrade-snapshot.ts).
 * Redeploying the previous image alone would start it on the migrated state, which it no longer
 * sees. Fly gives the parts; the order keeps the migrated volume untouched at every step:
 * 1. `fly volumes create <name> --snapshot-id <id>`: a new volume holding the pre-upgrade state
 *    (flyctl internal/command/volumes/create.go);
 * 2. `fly machine stop` the upgraded machine, so nothing runs on the migrated volume;
 * 3. `fly deploy --image <previous>`: the release that records the previous image; a stopped
 *    machine takes its config and stays stopped (deploy/machines_launchinput.go shouldSkipLaunch);
 * 4. `fly machine clone <it> --attach-volume <new volume>:<path>`: the same config, previous image
 *    and release metadata, on the restored volume (machine/clone.go copies the source's config);
 * 5. `fly machine destroy <it> --force`: the migrated volume is detached and kept, never deleted.
 * The caller then gates the release the clone runs, as any rolled-back release. A step that fails
 * ends the restore with what was done, what serves, and the commands that finish it by hand.
 */
import { READING, displayCommand, parseFlyJson, type Flyctl } from '../fly/flyctl.js'
import { MachineListSchema, VolumeListSchema, VolumeSchema, type Machine } from '../fly/schemas.js'
import { appMachines } from '../fly/machines.js'
import type { ReleaseRef } from '../fly/releases.js'

export interface RestoreSource {
  snapshotId: string
  /** The volume the snapshot was taken of: after the upgrade, the migrated one. */
  volumeId: string
  volumeName: string
  path: string
  region: string
  /** The releases before and after, for the summary (`2026.4.29`, `2026.9.6`). */
  from?: string
  to?: string
}

/** What the restore did, for the summary; filled in as it goes, so a failure still reports it. */
export interface RestoreReport {
  done: string[]
  /** What serves when the restore ends. */
  serves?: string
  /** Commands that finish the restore by hand after a failure. */
  byHand: string[]
  restoredVolume?: string
  machineId?: string
}

export interface RestoreOptions {
  flyctl: Flyctl
  app: string
  source: RestoreSource
  imageRef: string
  /** `fly deploy --image <ref>` with the run's config, not watched: the machine is stopped. */
  deployPrevious: (imageRef: string) => Promise<ReleaseRef>
  report: RestoreReport
  log: (message: string) => void
  signal?: AbortSignal
}

export class RestoreError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options)
    this.name = 'RestoreError'
  }
}

/** Runs the five steps; returns the release the restored machine runs and when it started. */
export async function restoreUpgrade(o: RestoreOptions): Promise<ReleaseRef & { startedAtMs: number }> {
  const { flyctl, app, source: s, report } = o
  const upgraded = await upgradedMachine(o)
  report.serves = `release ${s.to ?? 'of the upgrade'} on machine ${upgraded.id}, on the migrated volume ${s.volumeId}`
  const step = async <T>(what: string, byHand: string[], fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      report.byHand = byHand
      throw new RestoreError(failureText(o, what, (err as Error).message), { cause: err })
    }
  }
  const cmd = (args: string[]) => displayCommand(['fly', ...args])
  const size = (await flyctl.json(['volumes', 'list', '--app', app], VolumeListSchema, { retry: READING })).find(
    (v) => v.id === s.volumeId,
  )?.size_gb
  const createArgs = [
    'volumes',
    'create',
    s.volumeName,
    '--snapshot-id',
    s.snapshotId,
    '--region',
    s.region,
    ...(size ? ['--size', String(size)] : []),
    '--app',
    app,
    '--yes',
  ]
  const stopArgs = ['machine', 'stop', upgraded.id, '--app', app]
  const destroyArgs = ['machine', 'destroy', upgraded.id, '--force', '--app', app]
  const cloneArgs = (vol: string) => [
    'machine',
    'clone',
    upgraded.id,
    '--attach-volume',
    `${vol}:${s.path}`,
    '--app',
    app,
  ]
  const deployHand = `fly deploy --image ${o.imageRef} (with this workflow's config, as a re-run with rollback does)`
  const rest = (vol: string) => [cmd(stopArgs), deployHand, cmd(cloneArgs(vol)), cmd(destroyArgs)]

  const restored = await step(
    'creating a volume from the snapshot',
    [cmd(createArgs), ...rest('<the new volume id>')],
    () => createFromSnapshot(o, createArgs),
  )
  report.restoredVolume = restored
  report.done.push(`created volume ${restored} from snapshot ${s.snapshotId}`)
  await step(`stopping machine ${upgraded.id}`, rest(restored), () =>
    flyctl.run(stopArgs, {
      echo: true,
      retry: { safe: 'idempotent', why: 'stopping a stopped machine changes nothing' },
    }),
  )
  report.done.push(`stopped machine ${upgraded.id}`)
  report.serves = `nothing: machine ${upgraded.id} is stopped`
  const release = await step(`deploying ${o.imageRef}`, rest(restored).slice(1), () => o.deployPrevious(o.imageRef))
  report.done.push(
    `deployed release v${release.version} (${o.imageRef}) to machine ${upgraded.id}, left stopped on the migrated volume`,
  )
  report.serves = `nothing: machine ${upgraded.id} (release v${release.version}, the previous image) is stopped on the migrated volume ${s.volumeId}`
  const startedAtMs = Date.now()
  const clone = await step(`cloning machine ${upgraded.id} onto ${restored}`, rest(restored).slice(2), () =>
    cloneOnto(o, cloneArgs(restored)),
  )
  report.machineId = clone
  report.done.push(`cloned machine ${upgraded.id} as ${clone} on volume ${restored}`)
  report.serves = `release v${release.version} (${s.from ?? o.imageRef}) on machine ${clone} with volume ${restored}; machine ${upgraded.id} is stopped`
  await step(`destroying machine ${upgraded.id}`, rest(restored).slice(3), () =>
    flyctl.run(destroyArgs, { echo: true, retry: { safe: 'idempotent', why: 'a destroyed machine stays destroyed' } }),
  )
  report.done.push(`destroyed machine ${upgraded.id}; the migrated volume ${s.volumeId} is detached and kept`)
  report.serves = `release v${release.version} (${s.from ?? o.imageRef}) on machine ${clone} with volume ${restored}`
  return { ...release, startedAtMs }
}

/** The one app machine on the snapshot's volume; anything else is not this action's layout. */
async function upgradedMachine(o: RestoreOptions): Promise<Machine> {
  const machines = appMachines(
    await o.flyctl.json(['machines', 'list', '--app', o.app], MachineListSchema, { retry: READING }),
  )
  const on = machines.filter((m) => (m.config?.mounts ?? []).some((mt) => mt.volume === o.source.volumeId))
  if (on.length !== 1) {
    throw new RestoreError(
      `${on.length} app machines mount the snapshotted volume ${o.source.volumeId}, so the snapshot ${o.source.snapshotId} was not restored; nothing was changed. ` +
        `Restore it by hand: \`fly volumes create ${o.source.volumeName} --snapshot-id ${o.source.snapshotId} --region ${o.source.region} -a ${o.app} -y\`, then attach it to the machine that serves the previous image`,
    )
  }
  return on[0] as Machine
}

async function createFromSnapshot(o: RestoreOptions, args: string[]): Promise<string> {
  const full = [...args, '--json']
  const result = await o.flyctl.run(full, {
    echo: true,
    change: `created volume ${o.source.volumeName} from snapshot ${o.source.snapshotId}`,
    retry: { safe: 'once', why: 'a repeat could create a second volume; the summary says how to finish by hand' },
  })
  const volume = parseFlyJson(result.stdout, VolumeSchema, o.flyctl.redact(displayCommand(full)))
  if (result.change)
    result.change.what = `created volume ${volume.id} (${volume.name}) from snapshot ${o.source.snapshotId}`
  return volume.id
}

/** `fly machine clone` prints `Machine <id> has been created...` (machine/clone.go). */
async function cloneOnto(o: RestoreOptions, args: string[]): Promise<string> {
  const result = await o.flyctl.run(args, {
    echo: true,
    retry: { safe: 'once', why: 'a repeat could clone a second machine onto the volume' },
  })
  const id = /Machine ([0-9a-f]+) has been created/.exec(result.stdout)?.[1]
  if (!id) throw new Error(`\`${displayCommand(['fly', ...args])}\` did not name the machine it created`)
  if (result.change) result.change.what = `cloned machine ${args[2]} as ${id} onto volume ${args[4]?.split(':')[0]}`
  return id
}

function failureText(o: RestoreOptions, what: string, cause: string): string {
  const r = o.report
  return [
    `restoring snapshot ${o.source.snapshotId} failed while ${what}: ${cause}`,
    `Done: ${r.done.length ? r.done.join('; ') : 'nothing'}.`,
    `Serving: ${r.serves ?? 'unknown'}.`,
    `The migrated volume ${o.source.volumeId} is untouched; nothing was deleted.`,
    `To finish by hand: ${r.byHand.map((c) => `\`${c}\``).join(', then ')}.`,
  ].join('\n')
}
