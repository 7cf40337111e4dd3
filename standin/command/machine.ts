// machine list|update|restart|start|stop, ssh console and logs.
// Sources: internal/command/machine/{list,update,restart,start,stop}.go, internal/machine/{config,
// update,restart}.go, internal/command/ssh/console.go, internal/command/logs/logs.go and
// internal/render/logs.go in superfly/flyctl.
import { fs } from '../platform/builtins.ts'
import { parseMemoryMb, shlexSplit } from '../appconfig/appconfig.ts'
import {
  err,
  flagBool,
  flagGiven,
  flagNumber,
  flagString,
  loadConfig,
  out,
  readStdin,
  requireAppName,
  requireSession,
} from '../cli/context.ts'
import type { Ctx } from '../cli/context.ts'
import { goJson, rfc3339, table } from '../cli/render.ts'
import { guestForSize } from '../appconfig/appconfig.ts'
import {
  launchFor,
  loadRuntime,
  machineJson,
  safeView,
  waitForChecks,
  waitForStarted,
  writeMachineConfigFile,
} from '../machines/cli-side.ts'
import type { MachineRuntime } from '../machines/cli-side.ts'
import { FlyError, activeMachines, findApp, platformFile, readPlatform, updatePlatform } from '../platform/state.ts'
import type { AppRecord, MachineConfig, MachineRecord } from '../platform/state.ts'

function appAndMachine(ctx: Ctx, id: string): { app: AppRecord; machine: MachineRecord } {
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = findApp(readPlatform(ctx.stateDir), name)
  const machine = activeMachines(app).find((m) => m.id === id)
  if (!machine) throw new FlyError(`could not get machine ${id}: machine not found`)
  return { app, machine }
}

export async function runMachineList(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = findApp(readPlatform(ctx.stateDir), name)
  const runtime = await loadRuntime()
  const machines = activeMachines(app)
  if (flagBool(ctx, 'json')) {
    out(goJson(machines.map((m) => machineJson(runtime, ctx.stateDir, name, m))))
    return 0
  }
  if (flagBool(ctx, 'quiet')) {
    for (const m of machines) out(`${m.id}\n`)
    return 0
  }
  if (machines.length === 0) {
    out(`No machines are available on this app ${name}\n`)
    return 0
  }
  out(
    `${machines.length} machines have been retrieved from app ${name}.\nView them in the UI here (https://fly.io/apps/${name}/machines/)\n\n`,
  )
  const rows = machines.map((m) => {
    const view = safeView(runtime, ctx.stateDir, name, m.id)
    const checks = view.checks ?? []
    const passing = checks.filter((c) => c.status === 'passing').length
    return [
      m.id,
      m.name,
      view.state,
      checks.length ? `${passing}/${checks.length}` : '',
      m.region,
      m.config.image.replace(/^registry\.fly\.io\//, ''),
      m.private_ip,
      (m.config.mounts ?? []).map((x) => x.volume).join(','),
      m.created_at,
      m.updated_at,
      m.config.metadata.fly_process_group ?? '',
      `${m.config.guest.cpu_kind}:${m.config.guest.cpus}:${m.config.guest.memory_mb}MB`,
    ]
  })
  out(
    table(rows, [
      'ID',
      'Name',
      'State',
      'Checks',
      'Region',
      'Image',
      'IP Address',
      'Volume',
      'Created',
      'Last Updated',
      'Process Group',
      'Size',
    ]),
  )
  return 0
}

// fly-go machine constants: MIN_MEMORY_MB_PER_SHARED_CPU 256, MAX 2048; performance 2048 / 8192.
function checkGuest(guest: MachineConfig['guest']): void {
  const shared = guest.cpu_kind === 'shared'
  const increment = shared ? 256 : 1024
  const fail = (reason: string, description: string, suggestion: string) => {
    throw new FlyError(reason, { details: [description, '', suggestion, ''] })
  }
  if (guest.memory_mb % increment !== 0) {
    const suggested = guest.memory_mb - (guest.memory_mb % increment) || increment
    fail(
      'invalid memory size',
      `${guest.memory_mb}MiB of memory is not valid`,
      `Memory size must be in a ${increment} MiB increment (${suggested}MiB would work)`,
    )
  }
  const min = (shared ? 256 : 2048) * guest.cpus
  const max = (shared ? 2048 : 8192) * guest.cpus
  if (guest.memory_mb < min) {
    fail(
      'memory size for config is too low',
      `For ${guest.cpu_kind} VMs with ${guest.cpus} CPUs, ${guest.memory_mb}MiB of memory is too low`,
      `Try setting memory to a value >= ${min}MiB for the config changes requested`,
    )
  }
  if (guest.memory_mb > max) {
    fail(
      'memory size for config is too high',
      `For ${guest.cpu_kind} VMs with ${guest.cpus} CPUs, ${guest.memory_mb}MiB of memory is too high`,
      `Try setting memory to a value <= ${max}MiB for the config changes requested`,
    )
  }
}

/** The JSON lines that differ, in the `-`/`+` form flyctl's configCompare prints. */
function configDiff(before: MachineConfig, after: MachineConfig): string {
  const a = JSON.stringify(before, null, 2).split('\n')
  const b = JSON.stringify(after, null, 2).split('\n')
  if (a.join('\n') === b.join('\n')) return ''
  const lines: string[] = []
  const len = Math.max(a.length, b.length)
  for (let i = 0; i < len; i++) {
    if (a[i] === b[i]) continue
    if (a[i] !== undefined) lines.push(`-${a[i]}`)
    if (b[i] !== undefined) lines.push(`+${b[i]}`)
  }
  return lines.join('\n')
}

async function waitUp(
  ctx: Ctx,
  runtime: MachineRuntime,
  app: string,
  machine: MachineRecord,
  timeoutMs: number,
  skipChecks: boolean,
): Promise<void> {
  await waitForStarted(runtime, ctx.stateDir, app, machine.id, timeoutMs)
  if (!skipChecks) await waitForChecks(runtime, ctx.stateDir, app, machine, timeoutMs)
}

export async function runMachineUpdate(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const id = ctx.parsed.args[0]
  if (!id) throw new FlyError('prompt: non interactive')
  const { app, machine } = appAndMachine(ctx, id)
  const next: MachineConfig = JSON.parse(JSON.stringify(machine.config)) as MachineConfig
  const command = flagString(ctx, 'command')
  if (command) next.init = { ...next.init, cmd: shlexSplit(command) }
  if (flagString(ctx, 'vm-size')) next.guest = guestForSize(flagString(ctx, 'vm-size'))
  if (flagString(ctx, 'vm-memory'))
    next.guest = { ...next.guest, memory_mb: parseMemoryMb(flagString(ctx, 'vm-memory')) }
  if (flagNumber(ctx, 'vm-cpus')) next.guest = { ...next.guest, cpus: flagNumber(ctx, 'vm-cpus') }
  if (flagString(ctx, 'vm-cpu-kind')) next.guest = { ...next.guest, cpu_kind: flagString(ctx, 'vm-cpu-kind') }
  for (const kv of (ctx.parsed.flags.get('env') as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=')
    if (eq > 0) next.env = { ...next.env, [kv.slice(0, eq)]: kv.slice(eq + 1) }
  }
  if (flagString(ctx, 'image')) next.image = flagString(ctx, 'image')
  if (flagString(ctx, 'mount-point')) {
    if ((next.mounts ?? []).length !== 1) throw new FlyError("Machine doesn't have a volume attached")
    ;(next.mounts as NonNullable<MachineConfig['mounts']>)[0] = {
      ...(next.mounts as NonNullable<MachineConfig['mounts']>)[0]!,
      path: flagString(ctx, 'mount-point'),
    }
  }
  if (!flagBool(ctx, 'yes')) {
    // internal/machine/config.go ConfirmConfigChanges: no diff, or a prompt that cannot be shown.
    const diff = configDiff(machine.config, next)
    if (!diff) throw new FlyError('no config changes found')
    out(`Configuration changes to be applied to machine: ${machine.id} (${machine.name})\n\n${diff}\n`)
    throw new FlyError('yes flag must be specified when not running interactively')
  }
  checkGuest(next.guest)
  out(`Updating machine ${machine.id}\n`)
  const runtime = await loadRuntime()
  const { record, launch } = await updatePlatform(ctx.stateDir, (platform) => {
    const a = findApp(platform, app.name)
    const rec = a.machines.find((m) => m.id === machine.id) as MachineRecord
    rec.config = next
    rec.updated_at = rfc3339(Date.now())
    rec.instance_id = `01${Date.now().toString(36).toUpperCase()}`
    rec.applied_at = new Date().toISOString()
    writeMachineConfigFile(ctx.stateDir, a.name, rec)
    return { record: rec, launch: launchFor(ctx.stateDir, a, rec, 'current') }
  })
  if (flagBool(ctx, 'skip-start')) {
    await runtime.stopMachine(ctx.stateDir, app.name, machine.id)
  } else {
    const state = safeView(runtime, ctx.stateDir, app.name, machine.id).state
    if (state === 'started' || state === 'starting') await runtime.restartMachine(launch)
    else await runtime.startMachine(launch)
    const waitSeconds = flagGiven(ctx, 'wait-timeout') ? flagNumber(ctx, 'wait-timeout') : 300
    try {
      await waitUp(ctx, runtime, app.name, record, waitSeconds * 1000, flagBool(ctx, 'skip-health-checks'))
    } catch (error) {
      if (error instanceof FlyError && error.message.startsWith('timeout reached')) {
        throw new FlyError(error.message, { details: [...error.details, 'Try increasing the --wait-timeout', ''] })
      }
      throw error
    }
  }
  out(`Machine ${machine.id} updated successfully!\n`)
  out(`\nMonitor machine status here:\nhttps://fly.io/apps/${app.name}/machines/${machine.id}\n`)
  return 0
}

function machinesFromArgs(ctx: Ctx): { app: AppRecord; machines: MachineRecord[] } {
  if (ctx.parsed.args.length === 0) throw new FlyError('prompt: non interactive')
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = findApp(readPlatform(ctx.stateDir), name)
  const machines = ctx.parsed.args.map((id) => {
    const m = activeMachines(app).find((x) => x.id === id)
    if (!m) throw new FlyError(`could not get machine ${id}: machine not found`)
    return m
  })
  return { app, machines }
}

export async function runMachineRestart(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const { app, machines } = machinesFromArgs(ctx)
  const runtime = await loadRuntime()
  for (const m of machines) {
    out(`Restarting machine ${m.id}\n`)
    // A restart keeps the machine's config and the secrets it started with.
    await runtime.restartMachine(launchFor(ctx.stateDir, app, m, 'kept'))
    try {
      await waitUp(ctx, runtime, app.name, m, 300_000, flagBool(ctx, 'skip-health-checks'))
    } catch (error) {
      throw new FlyError(`failed to restart machine ${m.id}: ${(error as Error).message}`)
    }
    out(`Machine ${m.id} restarted successfully!\n`)
  }
  return 0
}

export async function runMachineStart(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const { app, machines } = machinesFromArgs(ctx)
  const runtime = await loadRuntime()
  for (const m of machines) {
    await runtime.startMachine(launchFor(ctx.stateDir, app, m, 'kept'))
    out(`${m.id} has been started\n`)
  }
  return 0
}

export async function runMachineStop(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const { app, machines } = machinesFromArgs(ctx)
  const runtime = await loadRuntime()
  for (const m of machines) {
    out(`Sending kill signal to machine ${m.id}...\n`)
    await runtime.stopMachine(ctx.stateDir, app.name, m.id)
    out(`${m.id} has been successfully stopped\n`)
  }
  return 0
}

export async function runMachineStatus(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const id = ctx.parsed.args[0]
  if (!id) throw new FlyError('prompt: non interactive')
  const { app, machine } = appAndMachine(ctx, id)
  const runtime = await loadRuntime()
  const view = safeView(runtime, ctx.stateDir, app.name, machine.id)
  out(`Machine ID: ${machine.id}\nInstance ID: ${machine.instance_id}\nState: ${view.state}\n\n`)
  if (flagBool(ctx, 'display-config')) out(goJson(machine.config))
  return 0
}

// ---- ssh console --------------------------------------------------------------------------

export async function runSshConsole(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = findApp(readPlatform(ctx.stateDir), name)
  const runtime = await loadRuntime()
  const started = activeMachines(app).filter((m) => safeView(runtime, ctx.stateDir, name, m.id).state === 'started')
  const wanted = flagString(ctx, 'machine')
  let target: MachineRecord | undefined
  if (wanted) {
    if (flagBool(ctx, 'select')) throw new FlyError("--machine can't be used with -s/--select")
    target = started.find((m) => m.id === wanted)
    if (!target) throw new FlyError(`--machine="${wanted}" not found/started`)
  } else {
    const region = flagString(ctx, 'region')
    const pool = region ? started.filter((m) => m.region === region) : started
    if (started.length === 0) {
      throw new FlyError(
        `app ${name} has no started VMs.\nIt may be unhealthy or not have been deployed yet.\nTry the following command to verify:\n\nfly status`,
      )
    }
    if (region && pool.length === 0) throw new FlyError(`app ${name} has no VMs in region ${region}`)
    target = pool[0] as MachineRecord
  }
  const command = flagString(ctx, 'command')
  // No shell on the far side: the command is split into words and run as argv.
  const argv = command ? shlexSplit(command) : ['/bin/sh']
  const stdin = readStdin(ctx)
  if (!flagBool(ctx, 'quiet')) err(`Connecting to ${target.private_ip}... complete\n`)
  const result = await runtime.execOnMachine(ctx.stateDir, name, target.id, argv, stdin.length ? stdin : null)
  process.stdout.write(result.stdout)
  process.stderr.write(result.stderr)
  if (result.exitCode !== 0) throw new FlyError(`ssh shell: Process exited with status ${result.exitCode}`)
  return 0
}

// ---- logs ---------------------------------------------------------------------------------

interface RuntimeLogLine {
  timestamp: string
  message: string
  level?: string
  stream?: string
}

interface Entry {
  timestamp: string
  machine: MachineRecord
  line: RuntimeLogLine
}

/** logs/entry.go LogEntry with its Go-named Meta. */
function entryJson(e: Entry) {
  const provider = e.line.stream === 'system' ? 'runner' : 'app'
  return {
    level: e.line.level ?? 'info',
    instance: e.machine.id,
    message: e.line.message,
    region: e.machine.region,
    timestamp: e.timestamp,
    meta: {
      Instance: e.machine.id,
      Region: e.machine.region,
      Event: { Provider: provider },
      HTTP: { Request: { ID: '', Method: '', Version: '' }, Response: { status_code: 0 } },
      Error: { Code: 0, Message: '' },
      URL: { Full: '' },
    },
  }
}

/** render.LogEntry with HideAllocID, HideRegion: `<RFC3339> <provider>[<id>] <region> [<level>]<message>`. */
function entryText(e: Entry): string {
  const provider = e.line.stream === 'system' ? 'runner' : 'app'
  return `${rfc3339(e.timestamp)} ${provider}[${e.machine.id}] ${e.machine.region} [${e.line.level ?? 'info'}]${e.line.message}\n`
}

/** The bytes of a file from `from` on; none when it is missing or has not grown. */
function readFrom(file: string, from: number): Buffer {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return Buffer.alloc(0)
  }
  try {
    const size = fs.fstatSync(fd).size
    if (size <= from) return Buffer.alloc(0)
    const buffer = Buffer.alloc(size - from)
    const read = fs.readSync(fd, buffer, 0, buffer.length, from)
    return buffer.subarray(0, read)
  } finally {
    fs.closeSync(fd)
  }
}

export async function runLogs(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  let app = findApp(readPlatform(ctx.stateDir), name)
  const runtime = await loadRuntime()
  const machineFilter = flagString(ctx, 'machine')
  const regionFilter = machineFilter ? '' : flagString(ctx, 'region') || ctx.env.FLY_REGION || ''
  const json = flagBool(ctx, 'json')
  const dropAfter = ctx.faults.logsDropAfterLines
  const offsets = new Map<string, number>()
  let printed = 0
  // A follow polls five times a second for as long as the deploy it watches: it re-reads the state
  // only when platform.json changed, and each log file from where the last pass stopped.
  let platformSeen = ''

  const collect = (): Entry[] => {
    const stat = fs.statSync(platformFile(ctx.stateDir), { throwIfNoEntry: false })
    const seen = `${stat?.mtimeMs}:${stat?.size}:${stat?.ino}`
    if (seen !== platformSeen) {
      platformSeen = seen
      app = findApp(readPlatform(ctx.stateDir), name)
    }
    const entries: Entry[] = []
    for (const machine of app.machines) {
      if (machineFilter && machine.id !== machineFilter) continue
      if (regionFilter && machine.region !== regionFilter) continue
      const file = runtime.logPath(ctx.stateDir, name, machine.id)
      const from = offsets.get(file) ?? 0
      const fresh = readFrom(file, from)
      // Only whole lines: a line being written stays for the next pass.
      const end = fresh.lastIndexOf(0x0a) + 1
      if (end <= 0) continue
      offsets.set(file, from + end)
      for (const raw of fresh.subarray(0, end).toString('utf8').split('\n')) {
        if (!raw.trim()) continue
        try {
          const line = JSON.parse(raw) as RuntimeLogLine
          entries.push({ timestamp: line.timestamp, machine, line })
        } catch {
          // a torn line from a crashed writer is skipped, as the log pipeline would drop it
        }
      }
    }
    return entries.sort((a, b) => a.timestamp.localeCompare(b.timestamp))
  }

  const emit = (entries: Entry[]): boolean => {
    for (const e of entries) {
      out(json ? goJson(entryJson(e)) : entryText(e))
      printed++
      if (dropAfter !== undefined && printed >= dropAfter) return false
    }
    return true
  }

  if (!emit(collect())) throw new FlyError('failed to stream logs: connection reset by peer')
  if (flagBool(ctx, 'no-tail')) return 0
  // Follow until killed (SIGINT/SIGTERM end the call with 127, as a cancelled flyctl does).
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    if (!emit(collect())) throw new FlyError('failed to stream logs: connection reset by peer')
  }
}
