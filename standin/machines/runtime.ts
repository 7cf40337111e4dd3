// The stand-in's machines: real, detached process trees running the real OpenClaw gateway (or
// the fake one), one supervisor per machine (supervisor.ts). This module is what the stand-in
// CLI calls; the state it keeps lives under <stateDir>/apps/<app>/machines/<id>/:
//   launch.json  what the supervisor runs (mode 0600: it holds the deployed secrets, like Fly)
//   runtime.json state, pid (for nsenter), supervisor pid, events, checks
//   log.jsonl    {timestamp, message, level, stream} per line, ANSI colours as printed
// Counters (<stateDir>/counters.json): machineStarts counts startMachine calls,
// machineRestarts counts restartMachine calls, crashRestarts counts restarts flyd-style
// supervision made on its own (restart policy after an exit).
import { childProcess, crypto, fs } from '../platform/builtins.ts'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execArgs, guestEnv, stateIsolation, type LaunchSpec } from './isolation.ts'
import { nodeRuntimeDir, isNodeRuntimeInstalled, resolveWorkload } from './install-runtimes.ts'
import { allProcesses, commandLine, isAlive, isZombie, listTree, signalTree } from './procs.ts'
import {
  bumpCounter,
  machineDir,
  pushEvent,
  readJson,
  readRuntimeRecord,
  updateRuntimeRecord,
  type MachineCheck,
  type MachineEvent,
  type MachineLaunch,
  type MachineState,
} from './state-files.ts'

export type { MachineLaunch } from './state-files.ts'

export interface MachineRuntime {
  state: MachineState
  pid?: number
  events: MachineEvent[]
  checks?: MachineCheck[]
}

// Fly's default kill_timeout is 5 s.
const KILL_TIMEOUT_MS = 5_000
// Once the workload is gone, the supervisor writes init's "Main child exited ..." line and flyd's
// exit event. A stop waits this long past the kill timeout for that account before it takes the
// supervisor for wedged and kills it: killing a merely slow one (a busy host) loses the account.
const SUPERVISOR_ACCOUNT_MS = 30_000
const here = path.dirname(fileURLToPath(import.meta.url))
const SUPERVISOR = path.join(here, 'supervisor.ts')
const FAKE_GATEWAY = path.join(here, '../fake-gateway/fake-gateway.ts')
const FAKE_GATEWAY_CACHE = path.join(here, '../../node_modules/.cache/standin-fake-gateway')

function dirOf(stateDir: string, app: string, machineId: string): string {
  return machineDir(path.resolve(stateDir), app, machineId)
}

// The supervisor is TypeScript run natively: Node 24 strips the types.
function supervisorNode(): string {
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath
  if (isNodeRuntimeInstalled()) return path.join(nodeRuntimeDir(), 'bin', 'node')
  throw new Error('the stand-in machines need Node 24: run `npm run standin:setup`')
}

// A pid recorded in runtime.json is only ours if it still runs this machine's supervisor.
function liveSupervisor(dir: string): number | undefined {
  const pid = readRuntimeRecord(dir).supervisorPid
  if (!pid || !isAlive(pid)) return undefined
  const argv = commandLine(pid)
  return argv.some((arg) => arg.endsWith('supervisor.ts')) && argv.includes(dir) ? pid : undefined
}

/**
 * The fake gateway as plain JavaScript, its types stripped once per content and the result kept:
 * a guest has no compile cache, and Node's own type stripping loads a WebAssembly module that cost
 * every boot some 0.1 s of CPU. Where the cache cannot be written, the TypeScript itself runs.
 */
function fakeGatewayScript(): string {
  const source = fs.readFileSync(FAKE_GATEWAY, 'utf8')
  const hash = crypto().createHash('sha256').update(source).digest('hex').slice(0, 16)
  const file = path.join(FAKE_GATEWAY_CACHE, `fake-gateway-${hash}.js`)
  if (fs.existsSync(file)) return file
  try {
    const { stripTypeScriptTypes } = process.getBuiltinModule('node:module')
    fs.mkdirSync(FAKE_GATEWAY_CACHE, { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, stripTypeScriptTypes(source))
    fs.renameSync(tmp, file)
    return file
  } catch {
    return FAKE_GATEWAY
  }
}

// The fake gateway runs as the image's dist/index.js, in an app root of its own.
function prepareFakeApp(dir: string): string {
  const appRoot = path.join(dir, 'fake-app')
  const script = fakeGatewayScript()
  const name = `fake-gateway${path.extname(script)}`
  fs.mkdirSync(path.join(appRoot, 'dist'), { recursive: true })
  fs.writeFileSync(path.join(appRoot, 'package.json'), '{ "type": "module" }\n')
  fs.copyFileSync(script, path.join(appRoot, 'dist', name))
  fs.writeFileSync(path.join(appRoot, 'dist', 'index.js'), `await import('./${name}')\n`)
  return appRoot
}

async function launchSupervisor(launch: MachineLaunch, requested: Omit<MachineEvent, 'timestamp'>): Promise<void> {
  const stateDir = path.resolve(launch.stateDir)
  const dir = machineDir(stateDir, launch.app, launch.machineId)
  fs.mkdirSync(dir, { recursive: true })
  const workload = resolveWorkload(launch.workload)
  const appRoot = workload.kind === 'openclaw' ? workload.appRoot : prepareFakeApp(dir)
  const spec: LaunchSpec = {
    launch: { ...launch, stateDir, mounts: launch.mounts.map((m) => ({ ...m, volumeDir: path.resolve(m.volumeDir) })) },
    machineDir: dir,
    isolation: stateIsolation(stateDir),
    appRoot,
    appInstallRoot: workload.kind === 'openclaw' ? workload.installRoot : appRoot,
    nodeDir: workload.nodeDir,
    killTimeoutMs: launch.killTimeoutMs ?? KILL_TIMEOUT_MS,
    ...(workload.kind === 'fake' ? { fakeScenario: workload.scenario } : {}),
  }
  const launchFile = path.join(dir, 'launch.json')
  fs.rmSync(launchFile, { force: true })
  fs.writeFileSync(launchFile, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 })
  updateRuntimeRecord(dir, (record) => {
    record.state = 'starting'
    record.pid = undefined
    record.checks = undefined
    record.crashRestarts = 0
    pushEvent(record, requested)
  })
  const supervisorLog = fs.openSync(path.join(dir, 'supervisor.log'), 'a')
  try {
    const child = childProcess().spawn(supervisorNode(), [SUPERVISOR, dir], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', supervisorLog, supervisorLog],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        FLY_STANDIN_CACHE: process.env.FLY_STANDIN_CACHE ?? '',
        // The supervisor is the stand-in's own TypeScript too (bin/flyctl sets the cache); never the guest's.
        ...(process.env.NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {}),
      },
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    child.unref()
    const pid = child.pid
    updateRuntimeRecord(dir, (record) => {
      record.supervisorPid = pid
    })
  } finally {
    fs.closeSync(supervisorLog)
  }
}

export async function startMachine(launch: MachineLaunch): Promise<void> {
  const dir = dirOf(launch.stateDir, launch.app, launch.machineId)
  if (liveSupervisor(dir)) await stopMachine(launch.stateDir, launch.app, launch.machineId)
  const firstLaunch = readRuntimeRecord(dir).events.length === 0
  bumpCounter(path.resolve(launch.stateDir), 'machineStarts')
  await launchSupervisor(
    launch,
    firstLaunch
      ? { type: 'launch', status: 'created', source: 'user' }
      : { type: 'start', status: 'starting', source: 'user' },
  )
}

export async function restartMachine(launch: MachineLaunch): Promise<void> {
  const dir = dirOf(launch.stateDir, launch.app, launch.machineId)
  if (liveSupervisor(dir)) await stopMachine(launch.stateDir, launch.app, launch.machineId)
  bumpCounter(path.resolve(launch.stateDir), 'machineRestarts')
  await launchSupervisor(launch, { type: 'restart', status: 'starting', source: 'user' })
}

// Waits until the processes are gone (isAlive: zombies too, until reaped). A wait that ended once
// the stopped supervisor was a zombie let a crash-looping release's run log into the next
// release's (an e2e rollback case failed 2 runs of 3; with this wait 0 of 3).
async function waitForExit(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return !pids.some(isAlive)
}

// Kills a supervisor and every process under it at once, then waits until they are gone.
async function killMachineTree(supervisorPid: number): Promise<void> {
  const pids = signalTree(supervisorPid, 'SIGKILL')
  await waitForExit(
    pids.filter((pid) => !isZombie(pid)),
    5_000,
  )
}

function markStopped(dir: string): void {
  updateRuntimeRecord(dir, (record) => {
    if (record.state === 'destroyed') return
    record.state = 'stopped'
    record.pid = undefined
    record.supervisorPid = undefined
  })
}

export async function stopMachine(stateDir: string, app: string, machineId: string): Promise<void> {
  const dir = dirOf(stateDir, app, machineId)
  const supervisorPid = liveSupervisor(dir)
  if (!supervisorPid) {
    if (fs.existsSync(path.join(dir, 'runtime.json'))) markStopped(dir)
    return
  }
  updateRuntimeRecord(dir, (record) => pushEvent(record, { type: 'stop', status: 'stopping', source: 'user' }))
  const killTimeoutMs = readJson<LaunchSpec>(path.join(dir, 'launch.json'))?.killTimeoutMs ?? KILL_TIMEOUT_MS
  process.kill(supervisorPid, 'SIGTERM')
  // The supervisor gives the workload the kill timeout, SIGKILLs it, then accounts for the exit.
  const stoppedInTime = await waitForExit([supervisorPid], killTimeoutMs + SUPERVISOR_ACCOUNT_MS)
  if (!stoppedInTime) await killMachineTree(supervisorPid)
  markStopped(dir)
}

export async function execOnMachine(
  stateDir: string,
  app: string,
  machineId: string,
  argv: string[],
  stdin: Buffer | null,
): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
  const dir = dirOf(stateDir, app, machineId)
  const record = readRuntimeRecord(dir)
  const spec = readJson<LaunchSpec>(path.join(dir, 'launch.json'))
  if (!spec || record.state !== 'started' || !record.pid || !isAlive(record.pid)) {
    throw new Error(
      `machine ${machineId} of app ${app} is not started (state: ${record.state}); start it before running a command on it`,
    )
  }
  if (argv.length === 0) throw new Error('no command given to run on the machine')
  const { command, args, cwd } = execArgs(spec, record.pid, argv)
  const child = childProcess().spawn(command, args, {
    env: guestEnv(spec),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  })
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  child.stdin.on('error', () => {
    // the command exited without reading all of stdin
  })
  child.stdin.end(stdin ?? undefined)
  const exitCode = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      stderr.push(Buffer.from(`${argv[0]}: ${error.message}\n`))
      resolve(127)
    })
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? 9 : 0)))
  })
  return { exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }
}

export function readRuntime(stateDir: string, app: string, machineId: string): MachineRuntime {
  const record = readRuntimeRecord(dirOf(stateDir, app, machineId))
  return {
    state: record.state,
    ...(record.pid ? { pid: record.pid } : {}),
    events: record.events,
    ...(record.checks ? { checks: record.checks } : {}),
  }
}

export function logPath(stateDir: string, app: string, machineId: string): string {
  return path.join(dirOf(stateDir, app, machineId), 'log.jsonl')
}

function machineDirs(stateDir: string): string[] {
  const apps = path.join(stateDir, 'apps')
  const dirs: string[] = []
  for (const app of fs.existsSync(apps) ? fs.readdirSync(apps) : []) {
    const machines = path.join(apps, app, 'machines')
    if (!fs.existsSync(machines)) continue
    for (const id of fs.readdirSync(machines)) dirs.push(path.join(machines, id))
  }
  return dirs
}

// Kills every machine of this state root at once (no grace), found from the process table rather
// than runtime.json, so machines whose record was lost or overwritten go too.
export async function stopAll(stateDir: string): Promise<void> {
  const root = path.resolve(stateDir)
  const prefix = `${path.join(root, 'apps')}${path.sep}`
  const supervisors = allProcesses()
    .map((p) => p.pid)
    .filter((pid) => {
      const argv = commandLine(pid)
      // Supervisors, and a machine's unshare left behind if its supervisor was killed alone.
      const machineProcess = argv.some((arg) => arg.endsWith('supervisor.ts')) || argv[0] === 'unshare'
      return machineProcess && argv.some((arg) => arg.startsWith(prefix))
    })
  const doomed = supervisors.flatMap((pid) => listTree(pid).map((p) => p.pid))
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  await waitForExit(
    doomed.filter((pid) => !isZombie(pid)),
    5_000,
  )
  for (const dir of machineDirs(root)) {
    if (fs.existsSync(path.join(dir, 'runtime.json')) && readRuntimeRecord(dir).state !== 'stopped') markStopped(dir)
  }
}
