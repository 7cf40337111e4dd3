import { realpathSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import * as core from '@actions/core'
import { GUIDE_DEFAULTS, defaultCommand, type BindMode, type Plan } from '../inputs/plan.js'
import { splitShellWords } from '../shared/shell-words.js'
import { gatewayArgv } from './gateway-command.js'
import { MACHINE_SIZES } from '../fly/machine-sizes.js'
import { parseMemoryMb } from '../shared/units.js'
import { ConfigFileError, indexKeyLines, isTable, parseToml, stringifyToml, type TomlTable } from './toml-source.js'
import { parseGatewayConfig, type GatewayConfigSource, type ParsedGatewayConfig } from './gateway-config.js'
import { info } from '../shared/runner-output.js'
import { findGatewayRelease, probeForRelease, type GatewayRelease } from './gateway-release.js'

/**
 * Stage 2: render fly.toml (or the private variant) into RUNNER_TEMP, never over a file in the
 * user's workspace. Without `config` the guide's own fly.toml is the base; with it the user's
 * file is, and only the keys whose inputs are set change (every other key and table is kept).
 */

export type FlyConfig = TomlTable

export interface Override {
  /** Dotted key in the rendered file, e.g. `vm.memory`. */
  key: string
  from: unknown
  to: unknown
  /** The input that decided it; `<input> (default)` when the guide's default filled a gap. */
  input: string
}

export interface RenderResult {
  /** Absolute path of the rendered fly.toml (the `fly-config` output). */
  path: string
  toml: string
  config: FlyConfig
  overridden: Override[]
  /** The user's `config` file this was rendered from, if any. */
  sourceFile?: string
  /** Line in sourceFile of a key kept from it; undefined for keys an input (or default) set. */
  lineOf(key: string): number | undefined
  /** The input that set a key, if one did. */
  inputOf(key: string): string | undefined
  gateway?: { guestPath: string; localPath: string; sourcePath: string; parsed: ParsedGatewayConfig }
  /** The gateway release the rendered config ships, when the image or Dockerfile says (it chose the check). */
  release?: GatewayRelease
}

/** Reads which gateway release a rendered config ships (an edge: it may read the Dockerfile). */
export type ReleaseReader = (config: FlyConfig, renderedPath: string) => GatewayRelease | undefined

/** The guide's fly.toml (seeds/, section "2) Configure fly.toml"), as data, in the guide's key order. */
export function guideFlyConfig(variant: { private: boolean; app?: string }): FlyConfig {
  const config: FlyConfig = {
    app: variant.app ?? 'my-openclaw',
    primary_region: GUIDE_DEFAULTS.region,
    build: { dockerfile: 'Dockerfile' },
    env: {
      NODE_ENV: 'production',
      OPENCLAW_PREFER_PNPM: '1',
      OPENCLAW_STATE_DIR: GUIDE_DEFAULTS.stateDir,
      NODE_OPTIONS: '--max-old-space-size=1536',
    },
    processes: { app: defaultCommand(GUIDE_DEFAULTS.port, GUIDE_DEFAULTS.bind) },
    http_service: {
      internal_port: GUIDE_DEFAULTS.port,
      force_https: true,
      auto_stop_machines: false,
      auto_start_machines: true,
      min_machines_running: 1,
      processes: ['app'],
    },
    vm: [{ size: GUIDE_DEFAULTS.vmSize, memory: `${GUIDE_DEFAULTS.memoryMb}mb` }],
    mounts: { source: GUIDE_DEFAULTS.volume, destination: GUIDE_DEFAULTS.stateDir },
  }
  // openclaw/openclaw fly.private.toml: the same file without [http_service] (no public ingress).
  if (variant.private) delete config.http_service
  return config
}

/** Which input each key of the guide's file stands for, so a message can name it. */
const TEMPLATE_INPUTS: Record<string, string> = {
  app: 'app',
  primary_region: 'region',
  'build.dockerfile': 'dockerfile',
  'env.OPENCLAW_STATE_DIR': 'state-dir',
  'env.NODE_OPTIONS': 'env',
  'env.NODE_ENV': 'env',
  'env.OPENCLAW_PREFER_PNPM': 'env',
  'processes.app': 'command',
  http_service: 'private',
  'http_service.internal_port': 'port',
  'vm.size': 'vm-size',
  'vm.memory': 'memory',
  'mounts.source': 'volume',
  'mounts.destination': 'state-dir',
}

/** The guide's heap: 1536 of 2048 MB, kept in proportion when only the memory changes. */
const GUIDE_HEAP_RATIO = 0.75

export const TCP_CHECK_NAME = 'gateway'

/** The run's own folder when it has one (src/run/run-dir.ts: parallel runs never share it). */
export function renderDirFor(plan: Pick<Plan, 'runnerTemp' | 'app' | 'runDir'>): string {
  return plan.runDir ?? join(plan.runnerTemp, 'fly-deploy', plan.app)
}

/** One rendering in progress: the config being changed, and the record of who changed what. */
interface Rendering {
  plan: Plan
  config: FlyConfig
  userToml?: { path: string; text: string }
  renderDir: string
  /** The input that last set each key (the template's keys start as their inputs'). */
  origin: Map<string, string>
  overridden: Override[]
}

/** Sets table[name] and records where the value came from; no record when nothing changes. */
function assign(r: Rendering, table: TomlTable, name: string, key: string, value: unknown, input: string): void {
  const from = Object.hasOwn(table, name) ? table[name] : undefined
  r.origin.set(key, input)
  if (sameValue(from, value)) return
  if (value === undefined) delete table[name]
  else setOwn(table, name, value)
  r.overridden.push({ key, from, to: value, input })
}

/** An input's value, else the file's (undefined: keep it), else the guide's default (labelled as such). */
function pick<T>(
  planValue: T | undefined,
  input: string,
  existing: unknown,
  fallback: T,
): { value: unknown; input: string } | undefined {
  if (planValue !== undefined) return { value: planValue, input }
  if (existing !== undefined) return undefined
  return { value: fallback, input: `${input} (default)` }
}

/** Pure: the rendered config for a plan, from the user's file or the guide's. */
export function renderFlyConfig(
  plan: Plan,
  userToml?: { path: string; text: string },
  gatewayConfig?: GatewayConfigSource,
  releaseOf?: ReleaseReader,
): RenderResult {
  const r: Rendering = {
    plan,
    config: userToml ? parseToml(userToml.text, userToml.path) : guideFlyConfig({ private: plan.private }),
    ...(userToml ? { userToml } : {}),
    renderDir: renderDirFor(plan),
    origin: new Map<string, string>(userToml ? [] : Object.entries(TEMPLATE_INPUTS)),
    overridden: [],
  }
  const { config } = r
  assign(r, config, 'app', 'app', plan.app, 'app')
  const region = pick(plan.region, 'region', config.primary_region, GUIDE_DEFAULTS.region)
  if (region) assign(r, config, 'primary_region', 'primary_region', region.value, region.input)

  const fallbackPort = plan.port ?? appInternalPort(config) ?? GUIDE_DEFAULTS.port
  renderProcess(r, fallbackPort)
  renderIngress(r, fallbackPort)
  const memory = renderVm(r)
  const mount = renderMount(r)
  const env = renderEnv(r, mount, memory)
  renderBuild(r)
  renderUserPaths(r)
  const gateway = gatewayConfig ? renderGatewayConfig(r, env, gatewayConfig) : undefined
  const release = releaseOf?.(config, join(r.renderDir, 'fly.toml'))
  renderCheck(r, gateway, release)
  return { ...renderResult(r, gateway), ...(release ? { release } : {}) }
}

/** [processes] app: machine-command wins over command; otherwise port/bind patch the flags. */
function renderProcess(r: Rendering, fallbackPort: number): void {
  const { plan } = r
  const processes = ensureTable(r.config, 'processes')
  const existingCommand = typeof processes.app === 'string' ? processes.app : undefined
  const set = (command: string, input: string) => assign(r, processes, 'app', 'processes.app', command, input)
  if (plan.machineCommand) set(plan.machineCommand.text, 'machine-command')
  else if (plan.command !== undefined) set(plan.command, 'command')
  else if (existingCommand !== undefined) {
    let patched = existingCommand
    if (plan.port !== undefined) patched = setFlag(patched, '--port', String(plan.port))
    if (plan.bind !== undefined) patched = setFlag(patched, '--bind', plan.bind)
    const input =
      plan.port !== undefined && plan.bind !== undefined ? 'port, bind' : plan.port !== undefined ? 'port' : 'bind'
    if (patched !== existingCommand) set(patched, input)
  } else {
    set(defaultCommand(fallbackPort, plan.bind ?? GUIDE_DEFAULTS.bind), 'command (default)')
  }
}

/** Public ingress: [http_service] (or the file's own [[services]]); the private variant has none. */
function renderIngress(r: Rendering, fallbackPort: number): void {
  const { plan, config } = r
  if (plan.private) {
    if (config.http_service !== undefined) assign(r, config, 'http_service', 'http_service', undefined, 'private')
  } else if (config.http_service === undefined && appServices(config).length === 0) {
    const guide = guideFlyConfig({ private: false }).http_service as TomlTable
    assign(
      r,
      config,
      'http_service',
      'http_service',
      { ...guide, internal_port: fallbackPort },
      'private (default: public)',
    )
  } else if (plan.port !== undefined) {
    if (isTable(config.http_service))
      assign(r, config.http_service, 'internal_port', 'http_service.internal_port', plan.port, 'port')
    for (const service of appServices(config))
      assign(r, service, 'internal_port', 'services.internal_port', plan.port, 'port')
  }
}

/** The machine's memory, from machine-memory else memory, and the input that set it. */
interface MemoryChoice {
  mb: number | undefined
  input: 'machine-memory' | 'memory'
}

/** [[vm]] (or [vm], [[compute]]): size and memory, in the shape the file used. */
function renderVm(r: Rendering): MemoryChoice {
  const { plan } = r
  const vm = appEntry(r.config, ['vm', 'compute', 'computes'], () => [{}])
  const userSizedVm = vm.size !== undefined || vm.cpus !== undefined || vm.cpu_kind !== undefined
  const size = pick(plan.vmSize, 'vm-size', userSizedVm ? true : undefined, GUIDE_DEFAULTS.vmSize)
  if (size) assign(r, vm, 'size', 'vm.size', size.value, size.input)
  const memory: MemoryChoice = {
    mb: plan.machineMemoryMb ?? plan.memoryMb,
    input: plan.machineMemoryMb !== undefined ? 'machine-memory' : 'memory',
  }
  if (memory.mb !== undefined) {
    // flyctl applies memory_mb after memory (internal/appconfig/machines.go, computeToGuest), so set the one that wins.
    if (vm.memory_mb !== undefined) assign(r, vm, 'memory_mb', 'vm.memory_mb', memory.mb, memory.input)
    if (vm.memory_mb === undefined || vm.memory !== undefined)
      assign(r, vm, 'memory', 'vm.memory', typeof vm.memory === 'number' ? memory.mb : `${memory.mb}mb`, memory.input)
  } else if (vm.memory === undefined && vm.memory_mb === undefined && !userSizedVm) {
    assign(r, vm, 'memory', 'vm.memory', `${GUIDE_DEFAULTS.memoryMb}mb`, 'memory (default)')
  }
  return memory
}

/** [mounts] (or [[mounts]]): the volume and where the state lives. */
function renderMount(r: Rendering): TomlTable {
  const { plan, config } = r
  const fileStateDir =
    isTable(config.env) && typeof config.env.OPENCLAW_STATE_DIR === 'string' ? config.env.OPENCLAW_STATE_DIR : undefined
  const mount = appEntry(config, ['mounts'], () => ({}))
  const volume = pick(plan.volume, 'volume', mount.source, GUIDE_DEFAULTS.volume)
  if (volume) assign(r, mount, 'source', 'mounts.source', volume.value, volume.input)
  // A file that names its state dir but mounts nothing gets the volume there.
  const destination = pick(plan.stateDir, 'state-dir', mount.destination, fileStateDir ?? GUIDE_DEFAULTS.stateDir)
  if (destination) assign(r, mount, 'destination', 'mounts.destination', destination.value, destination.input)
  return mount
}

/** [env]: the state dir on the mount, the heap in proportion to a changed memory, then the `env` input. */
function renderEnv(r: Rendering, mount: TomlTable, memory: MemoryChoice): TomlTable {
  const { plan } = r
  const env = ensureTable(r.config, 'env')
  const stateDir = pick(plan.stateDir, 'state-dir', env.OPENCLAW_STATE_DIR, mount.destination)
  if (stateDir) assign(r, env, 'OPENCLAW_STATE_DIR', 'env.OPENCLAW_STATE_DIR', stateDir.value, stateDir.input)
  const envInput = new Set(plan.env.map(([name]) => name))
  if (
    !r.userToml &&
    !envInput.has('NODE_OPTIONS') &&
    memory.mb !== undefined &&
    memory.mb !== GUIDE_DEFAULTS.memoryMb
  ) {
    assign(
      r,
      env,
      'NODE_OPTIONS',
      'env.NODE_OPTIONS',
      `--max-old-space-size=${Math.floor(memory.mb * GUIDE_HEAP_RATIO)}`,
      memory.input,
    )
  }
  for (const [name, value] of plan.env) assign(r, env, name, `env.${name}`, value, 'env')
  return env
}

/** [build]: an image, or the Dockerfile by a path relative from the rendered file's directory. */
function renderBuild(r: Rendering): void {
  const { plan, userToml } = r
  const build = ensureTable(r.config, 'build')
  if (plan.image !== undefined) {
    assign(r, build, 'image', 'build.image', plan.image, 'image')
    if (build.dockerfile !== undefined) assign(r, build, 'dockerfile', 'build.dockerfile', undefined, 'image')
  } else if (build.image === undefined) {
    const userDockerfile = typeof build.dockerfile === 'string' ? build.dockerfile : undefined
    if (userDockerfile && /^https?:\/\//i.test(userDockerfile)) {
      r.origin.set('build.dockerfile', 'config')
    } else {
      const dockerfileIsDefault = plan.dockerfile === join(plan.workingDirectory, 'Dockerfile')
      const fromFile = userToml && userDockerfile && dockerfileIsDefault
      const absolute = fromFile ? resolve(dirname(userToml.path), userDockerfile) : plan.dockerfile
      assign(
        r,
        build,
        'dockerfile',
        'build.dockerfile',
        relative(r.renderDir, absolute),
        fromFile ? 'config' : 'dockerfile',
      )
    }
  }
}

/** The user's relative paths were relative to their config; the rendered file lives elsewhere. */
function renderUserPaths(r: Rendering): void {
  const { userToml, config } = r
  if (!userToml) return
  const build = ensureTable(config, 'build')
  if (typeof build.ignorefile === 'string' && !isAbsolute(build.ignorefile)) {
    assign(
      r,
      build,
      'ignorefile',
      'build.ignorefile',
      relative(r.renderDir, resolve(dirname(userToml.path), build.ignorefile)),
      'config',
    )
  }
  // [[files]] local_path: flyctl reads them as given, so they become absolute.
  if (Array.isArray(config.files)) {
    for (const file of config.files.filter(isTable)) {
      if (typeof file.local_path === 'string' && !isAbsolute(file.local_path)) {
        assign(r, file, 'local_path', 'files.local_path', resolve(dirname(userToml.path), file.local_path), 'config')
      }
    }
  }
}

/** The openclaw.json travels with the release: [[files]] plus OPENCLAW_CONFIG_PATH. */
function renderGatewayConfig(
  r: Rendering,
  env: TomlTable,
  source: GatewayConfigSource,
): NonNullable<RenderResult['gateway']> {
  const { config } = r
  if (!isAbsolute(source.localPath))
    throw new Error(`internal: [[files]] local_path must be absolute, got ${source.localPath}`)
  const parsed = parseGatewayConfig(source)
  const files = (Array.isArray(config.files) ? config.files : []).filter(
    (f) => !(isTable(f) && f.guest_path === parsed.guestPath),
  )
  assign(
    r,
    config,
    'files',
    'files',
    [...files, { guest_path: parsed.guestPath, local_path: source.localPath }],
    'gateway-config',
  )
  assign(r, env, 'OPENCLAW_CONFIG_PATH', 'env.OPENCLAW_CONFIG_PATH', parsed.guestPath, 'gateway-config')
  return { guestPath: parsed.guestPath, localPath: source.localPath, sourcePath: source.sourcePath, parsed }
}

/** The guide's check timings (docs/install/fly.md of openclaw 2026.9): startup may take a while. */
const HTTP_CHECK_TIMINGS = { grace_period: '2m', interval: '15s', timeout: '5s' }

/**
 * The check the known gateway release serves, so that `fly deploy` waits for it (flyctl waits for
 * every machine check: internal/machine/leasable_machine.go WaitForHealthchecksToPass) and the gate
 * reads its result: GET /startupz (2026.8.1+) or /healthz (2026.3.1+) as the 2026.9 guide renders
 * it under [[http_service.checks]]; a TCP connect on the port for older or unknown releases. A
 * private deployment (or one with [[services]] only) gets the same check as a top-level [checks]
 * entry, which works without public IPs. A file that has checks of its own keeps them, alone.
 */
function renderCheck(r: Rendering, gateway: RenderResult['gateway'], release: GatewayRelease | undefined): void {
  if (definesChecks(r.config)) return
  const settings = effectiveSettings(r.config, gateway?.parsed)
  const probe = probeForRelease(release)
  const input = release ? 'port (check: the gateway release)' : 'port'
  if (probe.kind === 'http' && isTable(r.config.http_service)) {
    const check = {
      grace_period: HTTP_CHECK_TIMINGS.grace_period,
      interval: HTTP_CHECK_TIMINGS.interval,
      method: 'GET',
      timeout: HTTP_CHECK_TIMINGS.timeout,
      path: probe.path,
    }
    assign(r, r.config.http_service, 'checks', 'http_service.checks', [check], input)
    return
  }
  const checks = ensureTable(r.config, 'checks')
  const check =
    probe.kind === 'http'
      ? { type: 'http', port: settings.port, method: 'GET', path: probe.path, ...HTTP_CHECK_TIMINGS }
      : { type: 'tcp', port: settings.port, interval: '15s', timeout: '10s', grace_period: '30s' }
  assign(r, checks, TCP_CHECK_NAME, `checks.${TCP_CHECK_NAME}`, check, input)
}

/** The release a rendered config ships: its image, else the Dockerfile it builds (or an openclaw checkout's package.json). */
export function releaseOfRendered(
  config: FlyConfig,
  renderedPath: string,
  plan: Pick<Plan, 'image' | 'workingDirectory'>,
  workspace?: string,
): GatewayRelease | undefined {
  const build = isTable(config.build) ? config.build : {}
  const image = plan.image ?? (typeof build.image === 'string' ? build.image : undefined)
  const dockerfile = resolve(
    dirname(renderedPath),
    typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile',
  )
  return findGatewayRelease({
    ...(image ? { image } : { dockerfile: { path: dockerfile, shown: displayPath(dockerfile, workspace) } }),
    workingDirectory: plan.workingDirectory,
  })
}

function renderResult(r: Rendering, gateway: RenderResult['gateway']): RenderResult {
  const { plan, userToml, config, origin } = r
  const keyLines = userToml ? indexKeyLines(userToml.text) : new Map<string, number>()
  const header = [
    `Rendered by openclaw/fly-deploy for app "${plan.app}" from ${userToml ? userToml.path : "the guide's fly.toml"}.`,
    'Generated file: change the action inputs or the source file instead.',
  ].join('\n')
  return {
    path: join(r.renderDir, 'fly.toml'),
    toml: stringifyToml(config, header),
    config,
    overridden: r.overridden,
    ...(userToml ? { sourceFile: userToml.path } : {}),
    lineOf: (key) => (origin.has(key) ? undefined : keyLines.get(key)),
    inputOf: (key) => origin.get(key),
    ...(gateway ? { gateway } : {}),
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b) && typeof a === typeof b
}

function ensureTable(config: TomlTable, name: string): TomlTable {
  const existing = Object.hasOwn(config, name) ? config[name] : undefined
  if (isTable(existing)) return existing
  const created: TomlTable = {}
  setOwn(config, name, created)
  return created
}

/** An own data property even for names such as `__proto__` (an env name a user may pass). */
function setOwn(table: TomlTable, name: string, value: unknown): void {
  Object.defineProperty(table, name, { value, writable: true, enumerable: true, configurable: true })
}

/** The first entry (table, or element of an array of tables) under one of `names` that applies to the app group. */
function appEntry(config: TomlTable, names: string[], create: () => TomlTable | TomlTable[]): TomlTable {
  for (const name of names) {
    const value = config[name]
    if (isTable(value)) return value
    if (Array.isArray(value)) {
      const entry = value.filter(isTable).find(appliesToApp)
      if (entry) return entry
    }
  }
  const created = create()
  config[names[0] as string] = created
  return Array.isArray(created) ? (created[0] as TomlTable) : created
}

function appliesToApp(entry: TomlTable): boolean {
  return !Array.isArray(entry.processes) || entry.processes.length === 0 || entry.processes.includes('app')
}

function appServices(config: TomlTable): TomlTable[] {
  return Array.isArray(config.services) ? config.services.filter(isTable).filter(appliesToApp) : []
}

function appInternalPort(config: TomlTable): number | undefined {
  if (isTable(config.http_service) && typeof config.http_service.internal_port === 'number')
    return config.http_service.internal_port
  const service = appServices(config).find((s) => typeof s.internal_port === 'number')
  return service ? (service.internal_port as number) : undefined
}

/** Any health check the file already has: machine checks, service checks, http_service checks. */
export function definesChecks(config: FlyConfig): boolean {
  const nonEmpty = (v: unknown) => (Array.isArray(v) ? v.length > 0 : isTable(v) ? Object.keys(v).length > 0 : false)
  if (nonEmpty(config.checks) || nonEmpty(config.machine_checks)) return true
  const http = config.http_service
  if (isTable(http) && (nonEmpty(http.checks) || nonEmpty(http.machine_checks))) return true
  const services = Array.isArray(config.services) ? config.services.filter(isTable) : []
  return services.some((s) => nonEmpty(s.tcp_checks) || nonEmpty(s.http_checks) || nonEmpty(s.machine_checks))
}

/**
 * Replaces the value of `--flag VALUE` / `--flag=VALUE` in a command line, or appends the flag
 * to a gateway command that lacks it. Works on the text, so the rest of the line (its quoting
 * included) stays exactly as the user wrote it.
 */
export function setFlag(command: string, flag: string, value: string): string {
  const quoted = /^[A-Za-z0-9_./:@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
  // An unquoted value stops at a quote, so a flag inside `sh -c '... --bind lan'` keeps the closing quote.
  const pattern = new RegExp(`(^|\\s)${flag}(=|\\s+)(?:'[^']*'|"(?:[^"\\\\]|\\\\.)*"|[^\\s'"]+)`)
  if (pattern.test(command))
    return command.replace(
      pattern,
      (_m, lead: string, sep: string) => `${lead}${flag}${sep.startsWith('=') ? '=' : ' '}${quoted}`,
    )
  return splitCommand(command).includes('gateway') ? `${command} ${flag} ${quoted}` : command
}

// ---------------------------------------------------------------------------------------------
// What the rendered config means

export interface EffectiveSettings {
  /** The port the gateway listens on: --port, then OPENCLAW_GATEWAY_PORT, then gateway.port, then 18789. */
  port: number
  /** Where the port came from. */
  portSource: 'command' | 'env' | 'gateway-config' | 'default'
  /** `internal_port` of [http_service] (or the app's first [[services]]). */
  internalPort?: number
  /** --bind, then gateway.bind, then the gateway's default (loopback). */
  bind: BindMode | string
  bindSource: 'command' | 'gateway-config' | 'default'
  /** VM memory in MB (memory_mb wins over memory; else the size's default); undefined without [[vm]]. */
  memoryMb?: number
  /** `OPENCLAW_STATE_DIR` from [env]. */
  stateDir?: string
  /** `[mounts] destination`. */
  mountDestination?: string
  /** `[mounts] source`: the volume name. */
  volume?: string
  region?: string
  /** No [http_service] and no [[services]]: nothing public. */
  isPrivate: boolean
  /** `[processes] app` split like flyctl splits it, read through an `sh -c` wrapper (gateway-command.ts). */
  commandArgv: string[]
  /** `--max-old-space-size` from NODE_OPTIONS, in MB. */
  heapMb?: number
  env: Record<string, string>
}

export function effectiveSettings(config: FlyConfig, gateway?: ParsedGatewayConfig): EffectiveSettings {
  const env: Record<string, string> = {}
  if (isTable(config.env)) for (const [k, v] of Object.entries(config.env)) env[k] = String(v)
  const processes = isTable(config.processes) ? config.processes : {}
  const commandArgv = typeof processes.app === 'string' ? gatewayArgv(splitCommand(processes.app)) : []

  const flagPort = Number(flagValue(commandArgv, '--port'))
  const envPort = Number.parseInt(env.OPENCLAW_GATEWAY_PORT ?? '', 10)
  const configPort = gateway?.settings.port
  let port = 18789
  let portSource: EffectiveSettings['portSource'] = 'default'
  if (flagValue(commandArgv, '--port') !== undefined && Number.isInteger(flagPort))
    [port, portSource] = [flagPort, 'command']
  else if (envPort > 0) [port, portSource] = [envPort, 'env']
  else if (typeof configPort === 'number' && configPort > 0) [port, portSource] = [configPort, 'gateway-config']

  const flagBind = flagValue(commandArgv, '--bind')
  const configBind = gateway?.settings.bind
  const [bind, bindSource]: [string, EffectiveSettings['bindSource']] =
    flagBind !== undefined
      ? [flagBind, 'command']
      : typeof configBind === 'string'
        ? [configBind, 'gateway-config']
        : ['loopback', 'default']

  const vmEntries = ['vm', 'compute', 'computes'].flatMap((k) =>
    isTable(config[k])
      ? [config[k] as TomlTable]
      : Array.isArray(config[k])
        ? (config[k] as unknown[]).filter(isTable)
        : [],
  )
  const vm = vmEntries.find(appliesToApp)
  let memoryMb: number | undefined
  if (vm) {
    memoryMb = typeof vm.memory_mb === 'number' ? vm.memory_mb : parseMemoryMb(vm.memory)
    memoryMb ??= MACHINE_SIZES[typeof vm.size === 'string' ? vm.size : 'shared-cpu-1x']?.memoryMb
  }

  const mounts = isTable(config.mounts)
    ? [config.mounts]
    : Array.isArray(config.mounts)
      ? config.mounts.filter(isTable)
      : []
  const mount = mounts.find(appliesToApp)
  const heap = /--max-old-space-size[= ](\d+)/.exec(env.NODE_OPTIONS ?? '')
  const internalPort = appInternalPort(config)
  const result: EffectiveSettings = {
    port,
    portSource,
    bind,
    bindSource,
    isPrivate: config.http_service === undefined && !(Array.isArray(config.services) && config.services.length > 0),
    commandArgv,
    env,
  }
  if (internalPort !== undefined) result.internalPort = internalPort
  if (memoryMb !== undefined) result.memoryMb = memoryMb
  if (env.OPENCLAW_STATE_DIR !== undefined) result.stateDir = env.OPENCLAW_STATE_DIR
  if (typeof mount?.destination === 'string') result.mountDestination = mount.destination
  if (typeof mount?.source === 'string') result.volume = mount.source
  if (typeof config.primary_region === 'string') result.region = config.primary_region
  if (heap) result.heapMb = Number(heap[1])
  return result
}

function flagValue(argv: string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string
    if (word === flag) return argv[i + 1]
    if (word.startsWith(`${flag}=`)) return word.slice(flag.length + 1)
  }
  return undefined
}

/**
 * Splits `[processes]` commands the way flyctl does (shell words: quotes and backslashes; nothing
 * expanded). Operators are ordinary characters there, as flyctl runs no shell either; a broken
 * quote is read to the end, since this describes a file (validation and flyctl judge it).
 */
export function splitCommand(text: string): string[] {
  return splitShellWords(text, { literalOperators: true, lenient: true })
}

// ---------------------------------------------------------------------------------------------
// Edge

/** Reads the user's files, writes fly.toml (and the openclaw.json copy) into the run's folder under RUNNER_TEMP, prints it. */
export async function writeRenderedConfig(plan: Plan): Promise<RenderResult> {
  const renderDir = renderDirFor(plan)
  const workspace = plan.githubWorkspace ?? plan.workingDirectory
  const shown = (file: string) => displayPath(file, workspace)
  try {
    await mkdir(renderDir, { recursive: true })
    const userToml = plan.config ? { path: plan.config, text: await readInput(plan.config, 'config') } : undefined
    let gatewaySource: GatewayConfigSource | undefined
    if (plan.gatewayConfig) {
      // Read once (the inputs stage held its path to the workspace); copied only once it parsed.
      const text = await readInput(plan.gatewayConfig, 'gateway-config')
      gatewaySource = { sourcePath: plan.gatewayConfig, localPath: join(renderDir, 'openclaw.json'), text }
    }
    const result = renderFlyConfig(plan, userToml, gatewaySource, (config, path) =>
      releaseOfRendered(config, path, plan, workspace),
    )
    refuseOutsidePaths(result, renderDir, workspace, gatewaySource?.localPath)
    // A copy beside the rendered file: the release carries exactly the bytes that were checked.
    if (gatewaySource) await writeFile(gatewaySource.localPath, gatewaySource.text, { mode: 0o600 })
    await writeFile(result.path, result.toml)
    core.startGroup(`Rendered fly.toml: ${result.path}`)
    info(result.toml)
    for (const o of result.overridden) {
      info(`${o.key}: ${JSON.stringify(o.from) ?? '(unset)'} -> ${JSON.stringify(o.to) ?? '(removed)'}  [${o.input}]`)
    }
    core.endGroup()
    core.setOutput('fly-config', result.path)
    return result
  } catch (err) {
    if (err instanceof ConfigFileError) {
      core.error(err.message.replace(err.file, shown(err.file)), {
        title: 'fly-deploy: unreadable config',
        file: shown(err.file),
        ...(err.line ? { startLine: err.line } : {}),
        ...(err.column ? { startColumn: err.column } : {}),
      })
      // The step's error names the input too, as every other refusal does.
      const input = err.file === plan.gatewayConfig ? 'gateway-config' : 'config'
      throw new Error(`Input \`${input}\`: ${err.message.replace(err.file, shown(err.file))}`, { cause: err })
    }
    throw err
  }
}

/**
 * The paths the rendered config makes flyctl read (`[build] dockerfile`, `ignorefile`, `[[files]]
 * local_path`) come from `config` or the inputs; each must resolve, symlinks followed, inside the
 * workspace, or a fly.toml could deliver a runner file (~/.docker/config.json) to the machine.
 */
function refuseOutsidePaths(
  result: RenderResult,
  renderDir: string,
  workspace: string,
  ownCopy: string | undefined,
): void {
  const build = isTable(result.config.build) ? result.config.build : {}
  const files = Array.isArray(result.config.files) ? result.config.files.filter(isTable) : []
  const wanted: Array<[string, unknown]> = [
    ['[build] dockerfile', /^https?:\/\//i.test(String(build.dockerfile)) ? undefined : build.dockerfile],
    ['[build] ignorefile', build.ignorefile],
    ...files.map((f): [string, unknown] => ['[[files]] local_path', f.local_path]),
  ]
  const root = realOr(workspace)
  for (const [key, value] of wanted) {
    if (typeof value !== 'string') continue
    const full = resolve(renderDir, value)
    if (full === ownCopy) continue
    const real = realOr(full)
    const rel = relative(root, real)
    if (rel !== '' && (rel.startsWith('..') || isAbsolute(rel))) {
      throw new Error(
        `Input \`config\`: ${key} resolves to ${real}, outside the workspace ${root}; it was not read. Fix: keep the files a deploy reads inside the checkout (a symlink must stay inside the workspace too)`,
      )
    }
  }
}

function realOr(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return p
  }
}

async function readInput(file: string, input: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new Error(
      `input \`${input}\`: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}). Fix: give a path relative to working-directory that exists in the checkout (did actions/checkout run?).`,
      { cause: err },
    )
  }
}

/** A path as GitHub annotations want it: relative to the workspace when inside it. */
export function displayPath(file: string, workspace: string | undefined): string {
  if (!workspace || !isAbsolute(file)) return file
  const rel = relative(workspace, file)
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel
}
