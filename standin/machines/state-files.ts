// Files the machine runtime keeps under the stand-in's state root, shared by runtime.ts
// (runs inside the flyctl stand-in) and supervisor.ts (the detached per-machine process).
// Every read-modify-write goes through a directory lock so concurrent flyctl calls and
// supervisors never lose an update; every write is atomic (temp file + rename).
import { fs } from '../platform/builtins.ts'
import path from 'node:path'
import type { CheckSpec } from './checks.ts'

/** What the CLI hands the runtime to start one machine: its config, resolved on the CLI's side. */
export interface MachineLaunch {
  stateDir: string
  app: string
  machineId: string
  region: string
  imageRef: string
  workload: string // 'openclaw@2026.9.6' | 'fake-gateway:<scenario>'
  cmd: string[] // config.init.cmd
  env: Record<string, string> // [env] + deployed secrets
  files: Array<{ guest_path: string; raw_value: string /* base64 */ }>
  mounts: Array<{ volumeDir: string; path: string }>
  memoryMb: number
  restart: { policy: 'always' | 'on-failure' | 'no'; maxRetries?: number }
  /** The config's health checks, run by the machine's supervisor (checks.ts). */
  checks?: CheckSpec[]
  /**
   * How long a stop waits for the workload to exit before it is killed (fly-go
   * MachineConfig.StopConfig.Timeout, fly.toml kill_timeout); Fly's default, 5 s, when unset.
   */
  killTimeoutMs?: number
}

export type MachineState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped' | 'failed' | 'destroyed'

export interface MachineEvent {
  type: string
  status: string
  source: string
  timestamp: number
  exitCode?: number
  /** fly-go MachineExitEvent.RequestedStop: the exit followed a stop request. */
  requestedStop?: boolean
  /** fly-go MachineExitEvent.Restarting: flyd restarts the machine after this exit (its restart policy). */
  restarting?: boolean
  /** fly-go MachineRequest.RestartCount: restarts flyd had made before this exit. */
  restartCount?: number
}

/** fly-go machine_types.go MachineCheckStatus. */
export interface MachineCheck {
  name: string
  status: string
  output: string
  updated_at?: string
}

export interface RuntimeRecord {
  state: MachineState
  pid?: number
  supervisorPid?: number
  isolation?: Isolation
  events: MachineEvent[]
  checks?: MachineCheck[]
  crashRestarts?: number
  updatedAt?: string
}

export type Isolation = 'namespace' | 'paths'

export interface Counters {
  machineStarts: number
  machineRestarts: number
  crashRestarts: number
}

export interface Faults {
  restartLatencyMs?: number
  machineNeverStarts?: boolean
}

// Events are kept bounded like Fly's API, which returns only recent ones.
const MAX_EVENTS = 100

export function machineDir(stateDir: string, app: string, machineId: string): string {
  return path.join(stateDir, 'apps', app, 'machines', machineId)
}

export function runtimePath(dir: string): string {
  return path.join(dir, 'runtime.json')
}

export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode })
  fs.renameSync(tmp, file)
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`cannot read ${file}: ${(error as Error).message}`, { cause: error })
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

// mkdir is atomic on every local filesystem; a lock older than STALE_LOCK_MS belongs to a
// process that died inside the critical section (which only does small file writes).
const STALE_LOCK_MS = 10_000

export function withFileLock<T>(target: string, fn: () => T): T {
  const lockDir = `${target}.lock`
  fs.mkdirSync(path.dirname(target), { recursive: true })
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      fs.mkdirSync(lockDir)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > STALE_LOCK_MS)
          fs.rmSync(lockDir, { recursive: true, force: true })
      } catch {
        // the holder released it between our mkdir and stat
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir}`, { cause: error })
      sleepSync(5)
    }
  }
  try {
    return fn()
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true })
  }
}

export function readRuntimeRecord(dir: string): RuntimeRecord {
  return readJson<RuntimeRecord>(runtimePath(dir)) ?? { state: 'created', events: [] }
}

export function updateRuntimeRecord(dir: string, change: (record: RuntimeRecord) => void): RuntimeRecord {
  const file = runtimePath(dir)
  return withFileLock(file, () => {
    const record = readRuntimeRecord(dir)
    change(record)
    if (record.events.length > MAX_EVENTS) record.events = record.events.slice(-MAX_EVENTS)
    record.updatedAt = new Date().toISOString()
    writeJsonAtomic(file, record)
    return record
  })
}

export function pushEvent(record: RuntimeRecord, event: Omit<MachineEvent, 'timestamp'>): void {
  record.events.push({ ...event, timestamp: Date.now() })
}

export function bumpCounter(stateDir: string, key: keyof Counters): Counters {
  const file = path.join(stateDir, 'counters.json')
  return withFileLock(file, () => {
    const counters: Counters = {
      machineStarts: 0,
      machineRestarts: 0,
      crashRestarts: 0,
      ...readJson<Partial<Counters>>(file),
    }
    counters[key] += 1
    writeJsonAtomic(file, counters)
    return counters
  })
}

export function readFaults(stateDir: string): Faults {
  const raw = readJson<Record<string, unknown>>(path.join(stateDir, 'faults.json')) ?? {}
  const faults: Faults = {}
  if (typeof raw.restartLatencyMs === 'number' && raw.restartLatencyMs > 0)
    faults.restartLatencyMs = raw.restartLatencyMs
  if (raw.machineNeverStarts === true) faults.machineNeverStarts = true
  return faults
}

export interface LogLine {
  timestamp: string
  message: string
  level: string
  stream: 'stdout' | 'stderr' | 'system'
}

export function appendLog(dir: string, message: string, stream: LogLine['stream'], level = 'info'): void {
  const line: LogLine = { timestamp: new Date().toISOString(), message, level, stream }
  // One write per line with O_APPEND keeps concurrent writers from interleaving within a line.
  fs.appendFileSync(path.join(dir, 'log.jsonl'), `${JSON.stringify(line)}\n`)
}
