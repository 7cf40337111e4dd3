// The CLI's side of the machine runtime (standin/machines/runtime.ts, written separately): the
// API it must export, how it is loaded, and what the CLI derives from it (machine JSON, launches,
// waiting for a state or for checks). The CLI never spawns machine processes itself.
import { checkSpecs } from './checks.ts'
import { crypto, fs } from '../platform/builtins.ts'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { goMap } from '../cli/render.ts'
import {
  FlyError,
  machineDirOf,
  readMachineSecrets,
  readSecretValues,
  volumeDirOf,
  writeJsonFileAtomic,
  writeMachineSecrets,
} from '../platform/state.ts'
import type { AppRecord, MachineRecord } from '../platform/state.ts'
import type { MachineEvent, MachineLaunch } from './state-files.ts'

export type { MachineLaunch } from './state-files.ts'

export type RuntimeState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped' | 'failed' | 'destroyed'

export interface RuntimeView {
  state: RuntimeState
  pid?: number
  events: MachineEvent[]
  checks?: Array<{ name: string; status: string; output: string; updated_at?: string }>
}

export interface MachineRuntime {
  startMachine(launch: MachineLaunch): Promise<void>
  stopMachine(stateDir: string, app: string, machineId: string): Promise<void>
  restartMachine(launch: MachineLaunch): Promise<void>
  execOnMachine(
    stateDir: string,
    app: string,
    machineId: string,
    argv: string[],
    stdin: Buffer | null,
  ): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }>
  readRuntime(stateDir: string, app: string, machineId: string): RuntimeView
  logPath(stateDir: string, app: string, machineId: string): string
  stopAll(stateDir: string): Promise<void>
}

let loaded: MachineRuntime | undefined

/**
 * The runtime module: standin/machines/runtime.ts, or FLYCTL_STANDIN_RUNTIME (a path to a module
 * with the same exports; tests use it for a double that runs nothing). A missing module is
 * reported plainly instead of failing somewhere inside a command.
 */
export async function loadRuntime(): Promise<MachineRuntime> {
  if (loaded) return loaded
  const override = process.env.FLYCTL_STANDIN_RUNTIME
  const file = override ? path.resolve(override) : path.join(import.meta.dirname, 'runtime.ts')
  if (!fs.existsSync(file)) {
    throw new FlyError(
      `flyctl stand-in: the machine runtime ${file} does not exist, so machines cannot be run or inspected ` +
        '(standin/machines/runtime.ts is written separately; FLYCTL_STANDIN_RUNTIME may name a replacement)',
    )
  }
  loaded = (await import(pathToFileURL(file).href)) as MachineRuntime
  return loaded
}

/** image_ref as flaps reports it: registry, repository, tag and a digest. */
export function imageRefParts(ref: string): { registry: string; repository: string; tag: string; digest: string } {
  const [name, tag = 'latest'] = splitTag(ref)
  const slash = name.indexOf('/')
  const first = slash >= 0 ? name.slice(0, slash) : ''
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost'
  const registry = hasRegistry ? first : 'docker-hub-mirror.fly.io'
  let repository = hasRegistry ? name.slice(slash + 1) : name
  if (!hasRegistry && !repository.includes('/')) repository = `library/${repository}`
  const digest = `sha256:${crypto().createHash('sha256').update(ref).digest('hex')}`
  return { registry, repository, tag, digest }
}

function splitTag(ref: string): [string, string | undefined] {
  const at = ref.lastIndexOf(':')
  if (at > ref.lastIndexOf('/')) return [ref.slice(0, at), ref.slice(at + 1)]
  return [ref, undefined]
}

/** The machine config file beside runtime.json (no secret values), for the runtime and for tests. */
export function writeMachineConfigFile(stateDir: string, app: string, machine: MachineRecord): void {
  writeJsonFileAtomic(path.join(machineDirOf(stateDir, app, machine.id), 'config.json'), {
    id: machine.id,
    region: machine.region,
    workload: machine.workload,
    config: machine.config,
  })
}

/**
 * What the runtime needs to run a machine. Secrets: `current` hands the app's current values
 * (deploy, update, secrets deploy) and records them for the machine; otherwise the machine keeps
 * the values it last started with, as a plain restart does on Fly.
 */
export function launchFor(
  stateDir: string,
  app: AppRecord,
  machine: MachineRecord,
  secrets: 'current' | 'kept',
): MachineLaunch {
  let secretEnv: Record<string, string>
  if (secrets === 'current') {
    secretEnv = readSecretValues(stateDir, app.name)
    writeMachineSecrets(stateDir, app.name, machine.id, secretEnv)
  } else {
    secretEnv = readMachineSecrets(stateDir, app.name, machine.id)
  }
  const files = (machine.config.files ?? []).map((f) => {
    if (f.raw_value !== undefined) return { guest_path: f.guest_path, raw_value: f.raw_value }
    // fly-go File.SecretName: the secret holds the file's base64 content.
    const value = secretEnv[f.secret_name ?? '']
    if (value === undefined) throw new FlyError(`secret ${f.secret_name} for file ${f.guest_path} is not set`)
    return { guest_path: f.guest_path, raw_value: value }
  })
  const mounts = (machine.config.mounts ?? []).map((m) => ({
    volumeDir: volumeDirOf(stateDir, m.volume),
    path: m.path,
  }))
  for (const m of mounts) fs.mkdirSync(m.volumeDir, { recursive: true })
  const restart = machine.config.restart
  return {
    stateDir,
    app: app.name,
    machineId: machine.id,
    region: machine.region,
    imageRef: machine.config.image,
    workload: machine.workload,
    cmd: machine.config.init.cmd ?? [],
    env: { ...machine.config.env, ...secretEnv },
    files,
    mounts,
    memoryMb: machine.config.guest.memory_mb,
    restart:
      restart.max_retries === undefined
        ? { policy: restart.policy }
        : { policy: restart.policy, maxRetries: restart.max_retries },
    checks: checkSpecs(machine.config),
  }
}

/** fly-go's Machine as `machines list --json` prints it (fields in struct order, omitempty). */
export function machineJson(
  runtime: MachineRuntime,
  stateDir: string,
  app: string,
  machine: MachineRecord,
): Record<string, unknown> {
  const view = safeView(runtime, stateDir, app, machine.id)
  const config = machine.config
  const configJson: Record<string, unknown> = {
    env: goMap(config.env),
    init: config.init,
    guest: config.guest,
    metadata: goMap(config.metadata),
  }
  if (config.mounts?.length) configJson.mounts = config.mounts
  if (config.services?.length) configJson.services = config.services
  if (config.checks) configJson.checks = goMap(config.checks)
  configJson.image = config.image
  if (config.files?.length) configJson.files = config.files
  configJson.restart = config.restart
  const events = [...view.events]
    .sort((a, b) => b.timestamp - a.timestamp)
    .map((e) => {
      const event: Record<string, unknown> = { type: e.type, status: e.status }
      if (e.type === 'exit') event.request = exitRequestJson(e)
      event.source = e.source
      event.timestamp = e.timestamp
      return event
    })
  const out: Record<string, unknown> = {
    id: machine.id,
    name: machine.name,
    state: view.state,
    region: machine.region,
    image_ref: imageRefParts(config.image),
    instance_id: machine.instance_id,
    private_ip: machine.private_ip,
    created_at: machine.created_at,
    updated_at: machine.updated_at,
    config: configJson,
  }
  if (events.length) out.events = events
  // fly-go MachineCheckStatus {name, status, output, updated_at}: when the check last ran.
  if (view.checks?.length)
    out.checks = view.checks.map((c) => ({
      name: c.name,
      status: c.status,
      output: c.output,
      updated_at: c.updated_at ?? machine.updated_at,
    }))
  out.host_status = 'ok'
  out.cordoned = false
  return out
}

/**
 * fly-go MachineRequest{ExitEvent, RestartCount} (machine_types.go), omitempty as encoding/json
 * writes it: zero numbers and false flags are left out, exited_at (a time.Time) never is.
 * flyctl's smoke check reads restarting, restart_count, requested_stop and exit_code
 * (internal/machine/leasable_machine.go isConstantlyRestarting).
 */
function exitRequestJson(e: RuntimeView['events'][number]): Record<string, unknown> {
  const exit: Record<string, unknown> = {}
  if (e.exitCode) exit.exit_code = e.exitCode
  if (e.exitCode === 137) exit.oom_killed = true
  if (e.requestedStop) exit.requested_stop = true
  if (e.restarting) exit.restarting = true
  exit.exited_at = new Date(e.timestamp).toISOString()
  const request: Record<string, unknown> = { exit_event: exit }
  if (e.restartCount) request.restart_count = e.restartCount
  return request
}

/** A machine the runtime has not seen yet is `created`, as a fresh machine is on Fly. */
export function safeView(runtime: MachineRuntime, stateDir: string, app: string, id: string): RuntimeView {
  const view = runtime.readRuntime(stateDir, app, id)
  return { state: view?.state ?? 'created', events: view?.events ?? [], checks: view?.checks, pid: view?.pid }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Go's time.Duration.String for whole seconds (5m0s, 30s, 1h0m0s). */
export function goDuration(ms: number): string {
  const total = Math.round(ms / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (h) return `${h}h${m}m${s}s`
  if (m) return `${m}m${s}s`
  return `${s}s`
}

/** deploy.go parseDurationFlag: a Go duration, or whole seconds. */
export function parseGoDuration(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g
  let total = 0
  let consumed = ''
  for (const m of text.matchAll(re)) {
    const n = Number(m[1])
    const unit = m[2]
    total += n * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1000 : unit === 'ms' ? 1 : 0.001)
    consumed += m[0]
  }
  if (!consumed || consumed !== text) throw new FlyError(`time: invalid duration "${text}"`)
  return total
}

export class WaitTimeout extends FlyError {
  constructor(machineId: string, timeoutMs: number, desired: string) {
    // internal/machine/wait.go WaitTimeoutErr: Error, Description.
    super("timeout reached waiting for machine's state to change", {
      details: [`The machine ${machineId} took more than ${goDuration(timeoutMs)} to reach "${desired}"`, ''],
    })
  }
}

/** Wait until the runtime reports `started`; a machine that fails or stops first is an error. */
export async function waitForStarted(
  runtime: MachineRuntime,
  stateDir: string,
  app: string,
  id: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const view = safeView(runtime, stateDir, app, id)
    if (view.state === 'started') return
    if (view.state === 'failed' || view.state === 'destroyed') {
      throw new FlyError(`machine ${id} failed to start: machine entered "${view.state}" state`)
    }
    if (Date.now() > deadline) throw new WaitTimeout(id, timeoutMs, 'started')
    await sleep(100)
  }
}

/**
 * How many checks the machine's config asks for: top-level checks plus each service's checks
 * (leasable_machine.go WaitForHealthchecksToPass counts the config, not the results).
 */
export function configuredChecks(machine: MachineRecord): number {
  const top = Object.keys(machine.config.checks ?? {}).length
  const services = (machine.config.services ?? []).reduce<number>(
    (n, s) => n + ((s as { checks?: unknown[] }).checks?.length ?? 0),
    0,
  )
  return top + services
}

/**
 * leasable_machine.go WaitForHealthchecksToPass: with any check configured, wait until at least
 * one result exists and every result passes, up to --wait-timeout, polling every 1-2 s. It does
 * not give up early on a machine that stopped: it waits out the timeout.
 */
export async function waitForChecks(
  runtime: MachineRuntime,
  stateDir: string,
  app: string,
  machine: MachineRecord,
  timeoutMs: number,
): Promise<void> {
  if (configuredChecks(machine) === 0) return
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const checks = safeView(runtime, stateDir, app, machine.id).checks ?? []
    if (checks.length > 0 && checks.every((c) => c.status === 'passing')) return
    if (Date.now() >= deadline) {
      throw new FlyError(
        `timeout reached waiting for health checks to pass for machine ${machine.id}: context deadline exceeded`,
        {
          details: [`Try increasing the time allotted for your deployment with the '--wait-timeout' flag`, ''],
        },
      )
    }
    await sleep(Math.min(1_000 + Math.random() * 1_000, Math.max(0, deadline - Date.now())))
  }
}

/** flyctl's smoke-check window (leasable_machine.go WaitForSmokeChecksToPass: context.WithTimeout 10 s). */
export const SMOKE_CHECK_WINDOW_MS = 10_000

type ViewEvent = RuntimeView['events'][number]

/** leasable_machine.go isConstantlyRestarting, on the newest exit event. */
export function isConstantlyRestarting(events: readonly ViewEvent[]): boolean {
  const exit = [...events].sort((a, b) => b.timestamp - a.timestamp).find((e) => e.type === 'exit')
  if (!exit) return false
  return !exit.requestedStop && exit.restarting === true && (exit.restartCount ?? 0) > 1 && (exit.exitCode ?? 0) !== 0
}

/** Uptime since the newest start with no exit after it (fly-go MostRecentStartTimeAfterLaunch); 0 otherwise. */
function uptimeMs(events: readonly ViewEvent[], now: number): number {
  const newest = [...events].sort((a, b) => b.timestamp - a.timestamp)
  const start = newest.findIndex((e) => e.type === 'start')
  const exit = newest.findIndex((e) => e.type === 'exit')
  if (start < 0 || (exit >= 0 && exit <= start)) return 0
  return now - (newest[start] as ViewEvent).timestamp
}

/**
 * The deploy smoke check (leasable_machine.go WaitForSmokeChecksToPass): for up to 10 s, poll the
 * machine with a 0.5-2 s backoff; pass once it has been up over 10 s and is not crash-looping,
 * fail as soon as it is crash-looping, and pass at the deadline otherwise (so a single crash, or
 * a crash loop slower than the window, passes).
 */
export async function smokeCheck(runtime: MachineRuntime, stateDir: string, app: string, id: string): Promise<void> {
  const deadline = Date.now() + SMOKE_CHECK_WINDOW_MS
  let delay = 500
  for (;;) {
    const events = safeView(runtime, stateDir, app, id).events
    const crashing = isConstantlyRestarting(events)
    if (uptimeMs(events, Date.now()) > SMOKE_CHECK_WINDOW_MS && !crashing) return
    if (Date.now() >= deadline) return
    // machines_deploymachinesapp.go smokeChecksError.Error
    if (crashing) throw new FlyError(`smoke checks for ${id} failed: the app appears to be crashing`)
    await sleep(Math.min(delay * (0.5 + Math.random() / 2), Math.max(0, deadline - Date.now())))
    delay = Math.min(delay * 2, 2_000)
  }
}
