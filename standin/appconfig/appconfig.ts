// fly.toml as flyctl reads it (internal/appconfig: config.go, machines.go ToMachineConfig,
// definition.go), reduced to the keys the OpenClaw deployment uses.
import { fs } from '../platform/builtins.ts'
import path from 'node:path'
import { createRequire } from 'node:module'
import { FlyError } from '../platform/state.ts'
import type { MachineConfig } from '../platform/state.ts'

export interface AppConfig {
  /** Absolute path it was read from; '' for a remote config. */
  path: string
  raw: Record<string, unknown>
}

type Table = Record<string, unknown>
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

// @iarna/toml loads when a fly.toml is read, not in every call (a call that names its app with -a
// in a folder without fly.toml reads none).
const parseToml = (text: string) =>
  (createRequire(import.meta.url)('@iarna/toml') as typeof import('@iarna/toml')).parse(text)

/**
 * command.go LoadAppConfigIfPresent: `-c` (a file, or a directory holding fly.toml), else
 * fly.toml in the working directory. A `-c` that names nothing is an error; no file is not.
 */
export function loadAppConfig(configFlag: string, cwd: string): AppConfig | undefined {
  const candidates = configFlag
    ? [path.resolve(cwd, configFlag), path.join(path.resolve(cwd, configFlag), 'fly.toml')]
    : [path.join(cwd, 'fly.toml')]
  for (const file of candidates) {
    let text: string
    try {
      if (fs.statSync(file).isDirectory()) continue
      text = fs.readFileSync(file, 'utf8')
    } catch {
      continue
    }
    try {
      return { path: file, raw: parseToml(text) as Table }
    } catch (error) {
      throw new FlyError(`failed loading app config from ${file}: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  if (configFlag) {
    throw new FlyError(
      `config file not found at specified path: ${configFlag} (also tried: ${path.join(configFlag, 'fly.toml')})`,
    )
  }
  return undefined
}

export function configAppName(config: AppConfig | undefined): string {
  return str(config?.raw.app) ?? ''
}

export function primaryRegion(config: AppConfig | undefined): string {
  return str(config?.raw.primary_region) ?? ''
}

/** google/shlex as appconfig InitCmd uses it: words, quotes and backslashes, no shell. */
export function shlexSplit(text: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (quote === "'") {
      if (c === "'") quote = undefined
      else word += c
    } else if (quote === '"') {
      if (c === '"') quote = undefined
      else if (c === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1] as string)) word += text[++i]
      else word += c
    } else if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (quote) throw new FlyError(`EOF found when expecting closing quote`)
  if (inWord) words.push(word)
  return words
}

// fly-go machine_types.go MachinePresets.
const PRESETS: Record<string, { cpu_kind: string; cpus: number; memory_mb: number }> = {
  'shared-cpu-1x': { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
  'shared-cpu-2x': { cpu_kind: 'shared', cpus: 2, memory_mb: 512 },
  'shared-cpu-4x': { cpu_kind: 'shared', cpus: 4, memory_mb: 1024 },
  'shared-cpu-8x': { cpu_kind: 'shared', cpus: 8, memory_mb: 2048 },
  'performance-1x': { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 },
  'performance-2x': { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 },
  'performance-4x': { cpu_kind: 'performance', cpus: 4, memory_mb: 8192 },
  'performance-8x': { cpu_kind: 'performance', cpus: 8, memory_mb: 16384 },
  'performance-16x': { cpu_kind: 'performance', cpus: 16, memory_mb: 32768 },
}

export function guestForSize(size: string): { cpu_kind: string; cpus: number; memory_mb: number } {
  const preset = PRESETS[size]
  if (!preset)
    throw new FlyError(`invalid machine size requested, '${size}', available:\n${Object.keys(PRESETS).join('\n')}`)
  return { ...preset }
}

/** helpers.ParseSize for memory: a bare number is MB; `mb`/`gb` suffixes (any case). */
export function parseMemoryMb(value: unknown): number {
  if (typeof value === 'number') return value
  const text = String(value).trim()
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$/i.exec(text)
  if (!m) throw new FlyError(`invalid memory size '${text}'`)
  const n = Number(m[1])
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '')
  const factor = unit === 'g' ? 1024 : unit === 't' ? 1024 * 1024 : unit === 'k' ? 1 / 1024 : 1
  return Math.round(n * factor)
}

/** A TOML value as flyctl would echo it: a scalar as written, a table as JSON, never "[object Object]". */
export function valueText(v: unknown): string {
  return typeof v === 'object' && v !== null && !(v instanceof Date) ? JSON.stringify(v) : String(v)
}

function tablesOf(v: unknown): Table[] {
  if (Array.isArray(v)) return v.filter(isTable)
  return isTable(v) ? [v] : []
}

export interface MountSpec {
  source: string
  destination: string
  initialSize?: string
}

export function mountsOf(config: AppConfig | undefined): MountSpec[] {
  return tablesOf(config?.raw.mounts).map((m) => ({
    source: str(m.source) ?? '',
    destination: str(m.destination) ?? '',
    initialSize: m.initial_size === undefined ? undefined : valueText(m.initial_size),
  }))
}

export function httpService(config: AppConfig | undefined): Table | undefined {
  const h = config?.raw.http_service
  return isTable(h) ? h : undefined
}

/** appconfig URL(): a public http service means `https://<app>.fly.dev/`. */
export function hasPublicService(config: AppConfig | undefined): boolean {
  if (httpService(config)) return true
  return tablesOf(config?.raw.services).some((s) => tablesOf(s.ports).some((p) => p.port === 80 || p.port === 443))
}

export function buildSection(config: AppConfig | undefined): Table {
  const b = config?.raw.build
  return isTable(b) ? b : {}
}

export function deploySection(config: AppConfig | undefined): Table {
  const d = config?.raw.deploy
  return isTable(d) ? d : {}
}

function serviceChecks(h: Table): unknown[] | undefined {
  const checks = tablesOf(h.checks)
  if (!checks.length) return undefined
  return checks.map((c) => ({
    type: 'http',
    interval: str(c.interval),
    timeout: str(c.timeout),
    grace_period: str(c.grace_period),
    method: str(c.method) ?? 'GET',
    path: str(c.path) ?? '/',
    protocol: str(c.protocol) ?? 'http',
  }))
}

export interface BuildOptions {
  appName: string
  region: string
  imageRef: string
  /** Files from --file-* flags, already resolved. */
  extraFiles: Array<{ guest_path: string; raw_value?: string; secret_name?: string }>
  cwd: string
}

/** appconfig ToMachineConfig for the `app` process group. */
export function toMachineConfig(config: AppConfig | undefined, opts: BuildOptions): MachineConfig {
  const raw = config?.raw ?? {}
  const processes = isTable(raw.processes) ? raw.processes : {}
  const group = Object.keys(processes)[0] ?? 'app'
  const command = str(processes[group])
  const env: Record<string, string> = {}
  if (isTable(raw.env)) for (const [k, v] of Object.entries(raw.env)) env[k] = String(v)
  env.FLY_PROCESS_GROUP = group
  if (opts.region) env.PRIMARY_REGION = opts.region

  const vm = tablesOf(raw.vm)[0]
  let guest = guestForSize(str(vm?.size) ?? 'shared-cpu-1x')
  if (vm) {
    if (vm.cpu_kind !== undefined) guest.cpu_kind = valueText(vm.cpu_kind)
    if (typeof vm.cpus === 'number') guest.cpus = vm.cpus
    const memory = vm.memory ?? vm.memory_mb
    if (memory !== undefined) guest = { ...guest, memory_mb: parseMemoryMb(memory) }
  }

  const h = httpService(config)
  const services: unknown[] = []
  if (h) {
    const autostop = h.auto_stop_machines
    services.push({
      protocol: 'tcp',
      internal_port: h.internal_port,
      autostop: autostop === true ? 'stop' : autostop === false || autostop === undefined ? 'off' : valueText(autostop),
      autostart: h.auto_start_machines ?? true,
      min_machines_running: h.min_machines_running ?? 0,
      ports: [
        { port: 80, handlers: ['http'], force_https: h.force_https === true },
        { port: 443, handlers: ['http', 'tls'] },
      ],
      checks: serviceChecks(h),
      force_instance_key: null,
    })
  }

  let checks: Record<string, unknown> | undefined
  if (isTable(raw.checks)) {
    checks = {}
    for (const name of Object.keys(raw.checks).sort()) {
      const c = raw.checks[name]
      if (!isTable(c)) continue
      let port = typeof c.port === 'number' ? c.port : undefined
      if (port === undefined) {
        if (!h) {
          throw new FlyError(
            `Check '${name}' for process group '${group}' has no port set and the group has no http_service to take it from`,
          )
        }
        port = h.internal_port as number
      }
      checks[name] = {
        port,
        type: str(c.type) ?? 'tcp',
        interval: str(c.interval),
        timeout: str(c.timeout),
        grace_period: str(c.grace_period),
        method: str(c.method),
        path: str(c.path),
      }
    }
  }

  const files: Array<{ guest_path: string; raw_value?: string; secret_name?: string }> = []
  for (const f of tablesOf(raw.files)) {
    const guestPath = str(f.guest_path) ?? ''
    if (str(f.local_path) !== undefined) {
      // config.go reads local_path with os.ReadFile as given: relative to the working directory.
      const local = path.resolve(opts.cwd, str(f.local_path) as string)
      let content: Buffer
      try {
        content = fs.readFileSync(local)
      } catch (error) {
        throw new FlyError(`failed to read file at ${str(f.local_path)}: ${(error as Error).message}`)
      }
      files.push({ guest_path: guestPath, raw_value: content.toString('base64') })
    } else if (str(f.raw_value) !== undefined) {
      files.push({ guest_path: guestPath, raw_value: Buffer.from(str(f.raw_value) as string).toString('base64') })
    } else if (str(f.secret_name) !== undefined) {
      files.push({ guest_path: guestPath, secret_name: str(f.secret_name) })
    }
  }
  for (const f of opts.extraFiles) {
    const at = files.findIndex((x) => x.guest_path === f.guest_path)
    if (at >= 0) files[at] = f
    else files.push(f)
  }

  const restartTable = tablesOf(raw.restart)[0]
  const policy = (str(restartTable?.policy) ?? 'on-failure').replace(
    'never',
    'no',
  ) as MachineConfig['restart']['policy']

  const mounts = mountsOf(config).map((m) => ({ volume: '', path: m.destination, name: m.source }))

  const machine: MachineConfig = {
    env,
    init: command ? { cmd: shlexSplit(command) } : {},
    guest,
    metadata: {
      fly_flyctl_version: '',
      fly_platform_version: 'v2',
      fly_process_group: group,
    },
    image: opts.imageRef,
    // internal/appconfig/config.go Restart: `retries` in fly.toml is MachineRestart.MaxRetries.
    restart: typeof restartTable?.retries === 'number' ? { policy, max_retries: restartTable.retries } : { policy },
  }
  if (mounts.length) machine.mounts = mounts
  if (services.length) machine.services = services
  if (checks) machine.checks = checks
  if (files.length) machine.files = files
  return machine
}
