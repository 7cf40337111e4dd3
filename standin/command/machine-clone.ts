// `machine clone` and `machine destroy`: what they print and change.
// Sources: superfly/flyctl v0.4.87 internal/command/machine/{clone,destroy,select}.go,
// internal/watch/watch.go (MachinesChecks); superfly/fly-go volume_types.go (Volume.IsAttached).
// A volume is mounted by one machine at most: clone refuses an attached volume, as flyctl does,
// and destroying a machine detaches its volumes (the volume itself stays).
import { shlexSplit } from '../appconfig/appconfig.ts'
import { flagBool, flagString, loadConfig, out, requireAppName, requireSession } from '../cli/context.ts'
import type { Ctx } from '../cli/context.ts'
import { rfc3339 } from '../cli/render.ts'
import { launchFor, loadRuntime, safeView, waitForStarted, writeMachineConfigFile } from '../machines/cli-side.ts'
import {
  FlyError,
  activeMachines,
  alnumId,
  findApp,
  machineId,
  machinePrivateIp,
  readPlatform,
  ulid,
  updatePlatform,
} from '../platform/state.ts'
import type { AppRecord, MachineConfig, MachineRecord, VolumeRecord } from '../platform/state.ts'

/** select.go selectOneMachine / rewriteMachineNotFoundErrors. */
function machineOf(app: AppRecord, id: string): MachineRecord {
  const machine = activeMachines(app).find((m) => m.id === id)
  if (!machine) throw new FlyError(`machine ${id} was not found in app '${app.name}'`)
  return machine
}

function liveVolume(app: AppRecord, id: string): VolumeRecord {
  const volume = app.volumes.find((v) => v.id === id && v.state !== 'destroyed')
  if (!volume) throw new FlyError(`could not get existing volume: failed to get volume ${id}: volume not found`)
  return volume
}

/** clone.go: the source's config with --attach-volume's volume on the mount path (one mount at most). */
function cloneConfig(ctx: Ctx, source: MachineRecord, attach: { volume?: VolumeRecord; path?: string }): MachineConfig {
  const config = JSON.parse(JSON.stringify(source.config)) as MachineConfig
  if (flagBool(ctx, 'clear-cmd')) config.init = { ...config.init, cmd: [] }
  else if (flagString(ctx, 'override-cmd'))
    config.init = { ...config.init, cmd: shlexSplit(flagString(ctx, 'override-cmd')) }
  const mounts = source.config.mounts ?? []
  if (!attach.volume) {
    // Without --attach-volume flyctl creates a fresh (or --from-snapshot) volume per mount; not served.
    if (mounts.length)
      throw new FlyError('flyctl stand-in: machine clone of a machine with a volume needs --attach-volume')
    return config
  }
  if (mounts.length > 1) throw new FlyError("Can't use --attach-volume for Machines with more than 1 volume.")
  if (mounts.length === 0 && attach.path === undefined) {
    throw new FlyError(
      `Please specify a mount path on '${flagString(ctx, 'attach-volume')}' using <volume_id>:/path/inside/machine`,
    )
  }
  const mountPath = attach.path ?? (mounts[0] as NonNullable<MachineConfig['mounts']>[number]).path
  if (attach.path !== undefined && mounts.length === 1) {
    out(`Info: --attach-volume is overriding previous mount point from \`${mounts[0]?.path}\` to \`${attach.path}\`.\n`)
  }
  out(`Attaching existing volume ${attach.volume.id}\n`)
  if (attach.volume.attached_machine_id)
    throw new FlyError(`volume ${attach.volume.id} is already attached to a machine`)
  // The platform names the mount after its volume (clone.go sends only the volume and the path).
  const v = attach.volume
  config.mounts = [{ volume: v.id, path: mountPath, name: v.name, encrypted: v.encrypted, size_gb: v.size_gb }]
  return config
}

export async function runMachineClone(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const id = ctx.parsed.args[0]
  if (!id) throw new FlyError('prompt: non interactive')
  const before = findApp(readPlatform(ctx.stateDir), name)
  const source = machineOf(before, id)
  const [volumeId, mountPath] = flagString(ctx, 'attach-volume') ? flagString(ctx, 'attach-volume').split(':') : []
  const volume = volumeId ? liveVolume(before, volumeId) : undefined
  let region = flagString(ctx, 'region')
  if (volume && region && volume.region !== region) {
    throw new FlyError(
      `specified region ${region} but volume is in region ${volume.region}, use the same region as the volume`,
    )
  }
  region ||= volume?.region ?? source.region
  out(`Cloning Machine ${source.id} into region ${region}\n`)
  const runtime = await loadRuntime()
  const { record, launch } = await updatePlatform(ctx.stateDir, (platform) => {
    const app = findApp(platform, name)
    // Read again under the lock: another call may have attached the volume meanwhile.
    const attach = volume ? liveVolume(app, volume.id) : undefined
    const config = cloneConfig(ctx, machineOf(app, source.id), { volume: attach, path: mountPath })
    out(`Provisioning a new Machine with image ${source.config.image}...\n`)
    const now = rfc3339(Date.now())
    const rec: MachineRecord = {
      id: machineId(),
      name: flagString(ctx, 'name') || `${alnumId(6)}-${alnumId(5)}-${Math.floor(Math.random() * 9000 + 1000)}`,
      region,
      instance_id: ulid(),
      private_ip: machinePrivateIp(),
      created_at: now,
      updated_at: now,
      config,
      workload: source.workload,
      applied_at: new Date().toISOString(),
    }
    if (attach) attach.attached_machine_id = rec.id
    app.machines.push(rec)
    writeMachineConfigFile(ctx.stateDir, app.name, rec)
    // LaunchMachineInput.MinSecretsVersion: the clone starts with the app's current secrets.
    return { record: rec, launch: launchFor(ctx.stateDir, app, rec, 'current') }
  })
  out(`  Machine ${record.id} has been created...\n`)
  if (flagBool(ctx, 'detach')) return 0
  out(`  Waiting for Machine ${record.id} to start...\n`)
  await runtime.startMachine(launch)
  await waitForStarted(runtime, ctx.stateDir, name, record.id, 5 * 60_000)
  // watch.MachinesChecks counts the checks of the Launch response, which has no results yet.
  out('No health checks found\n')
  out('Machine has been successfully cloned!\n')
  return 0
}

/** destroy.go Destroy: a started machine needs --force; others that are not stopped too. */
function refuseDestroy(id: string, state: string, force: boolean): void {
  if (state === 'stopped' || state === 'suspended' || force) return
  if (state === 'started') throw new FlyError(`machine ${id} currently started, either stop first or use --force flag`)
  throw new FlyError(
    `machine ${id} is in a ${state} state and cannot be destroyed since it is not stopped or suspended, either stop first or use --force flag`,
  )
}

export async function runMachineDestroy(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  if (ctx.parsed.args.length === 0) throw new FlyError('prompt: non interactive')
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = findApp(readPlatform(ctx.stateDir), name)
  const machines = ctx.parsed.args.map((id) => machineOf(app, id))
  const runtime = await loadRuntime()
  for (const m of machines) {
    const state = safeView(runtime, ctx.stateDir, name, m.id).state
    refuseDestroy(m.id, state, flagBool(ctx, 'force'))
    out(`machine ${m.id} was found and is currently in ${state} state, attempting to destroy...\n`)
    await runtime.stopMachine(ctx.stateDir, name, m.id)
    await updatePlatform(ctx.stateDir, (platform) => {
      const a = findApp(platform, name)
      const rec = a.machines.find((x) => x.id === m.id) as MachineRecord
      rec.destroyed = true
      for (const v of a.volumes) if (v.attached_machine_id === m.id) v.attached_machine_id = null
    })
    out(`${m.id} has been destroyed\n`)
  }
  return 0
}
