// The detached process behind one stand-in machine (started by runtime.ts, outlives the
// flyctl call that started it). It plays Fly's init and flyd for that machine: boots the
// workload in its isolation (isolation.ts), copies stdout/stderr lines into log.jsonl,
// records state and events in runtime.json, follows the restart policy with backoff, emulates
// the kernel OOM killer against the machine's memory, and on SIGTERM stops the workload
// (SIGTERM, then SIGKILL after the kill timeout) and exits.
//
// Usage: node standin/machines/supervisor.ts <machine dir>   (reads <machine dir>/launch.json)
import { spawn, type ChildProcess } from 'node:child_process'
import { fs } from '../platform/builtins.ts'
import os from 'node:os'
import path from 'node:path'
import {
  buildNamespaceInit,
  guestEnv,
  namespaceArgs,
  resetRootfs,
  writeMappedFiles,
  type LaunchSpec,
} from './isolation.ts'
import { guestProcess, listTree, readRss, signalTree } from './procs.ts'
import {
  appendLog,
  bumpCounter,
  readFaults,
  readJson,
  updateRuntimeRecord,
  pushEvent,
  type MachineState,
} from './state-files.ts'
import { runChecks } from './checks.ts'

const machineDir = process.argv[2]
if (!machineDir) {
  process.stderr.write('usage: supervisor.ts <machine dir>\n')
  process.exit(2)
}
const spec = readJson<LaunchSpec>(path.join(machineDir, 'launch.json'))
if (!spec) {
  process.stderr.write(`supervisor: no launch.json in ${machineDir}\n`)
  process.exit(2)
}
const { launch } = spec

const MEMORY_POLL_MS = 200
const BACKOFF_BASE_MS = 250
const BACKOFF_MAX_MS = 5_000

let stopRequested = false
let current: ChildProcess | undefined
/** Ends the current boot's health checks (a stopping machine is not probed while it drains). */
let stopChecks: () => void = () => {}
let wake: (() => void) | undefined

function system(message: string, level = 'info'): void {
  appendLog(machineDir!, message, 'system', level)
}

function setState(state: MachineState, extra: { pid?: number | undefined } = {}): void {
  updateRuntimeRecord(machineDir!, (record) => {
    record.state = state
    if ('pid' in extra) record.pid = extra.pid
  })
}

function event(type: string, status: string, source: string, exitCode?: number): void {
  updateRuntimeRecord(machineDir!, (record) =>
    pushEvent(record, { type, status, source, ...(exitCode === undefined ? {} : { exitCode }) }),
  )
}

/**
 * flyd's exit event as fly-go decodes it (machine_types.go MachineExitEvent, MachineRequest):
 * whether the stop was requested, whether the restart policy restarts the machine, and how many
 * restarts came before. flyctl's smoke check reads exactly these (leasable_machine.go
 * isConstantlyRestarting). A process that exits takes its check results with it.
 */
function exitEvent(outcome: Outcome, restarting: boolean, restartCount: number): void {
  updateRuntimeRecord(machineDir!, (record) => {
    pushEvent(record, {
      type: 'exit',
      status: 'stopped',
      source: 'flyd',
      exitCode: outcome.exitCode,
      requestedStop: stopRequested,
      restarting,
      restartCount,
    })
    record.checks = record.checks?.map((c) => ({
      ...c,
      status: 'critical',
      output: 'the machine is not running',
      updated_at: new Date().toISOString(),
    }))
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    wake = () => {
      clearTimeout(timer)
      resolve()
    }
  })
}

function kernelUptime(): string {
  const seconds = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0])
  return `[${seconds.toFixed(6).padStart(12)}]`
}

// Splits a stream into lines as they arrive; each becomes one log.jsonl entry, colours kept.
function pipeLines(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): Promise<void> {
  let pending = ''
  return new Promise((resolve) => {
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      pending += chunk
      let newline = pending.indexOf('\n')
      while (newline >= 0) {
        appendLog(machineDir!, pending.slice(0, newline).replace(/\r$/, ''), name)
        pending = pending.slice(newline + 1)
        newline = pending.indexOf('\n')
      }
    })
    stream.on('end', () => {
      if (pending) appendLog(machineDir!, pending, name)
      resolve()
    })
    stream.on('error', () => resolve())
  })
}

function stageFiles(): string[] {
  const dir = path.join(machineDir!, 'files')
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  return launch.files.map((file, index) => {
    const staged = path.join(dir, String(index))
    fs.writeFileSync(staged, Buffer.from(file.raw_value, 'base64'), { mode: 0o600 })
    return staged
  })
}

function spawnWorkload(): ChildProcess {
  resetRootfs(spec!)
  const env = guestEnv(spec!)
  if (spec!.isolation === 'namespace') {
    const initScript = path.join(machineDir!, 'init.sh')
    fs.writeFileSync(initScript, buildNamespaceInit(spec!, stageFiles()), { mode: 0o700 })
    const { command, args } = namespaceArgs(initScript)
    return spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: machineDir })
  }
  writeMappedFiles(spec!)
  const [command, ...args] = launch.cmd
  // Its own process group, so a stop reaches the gateway's children too.
  return spawn(command!, args, { env, cwd: spec!.appRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
}

// In namespace mode the machine's pid is unshare's child once it has chrooted into the merged
// root: that is the process `nsenter --target` needs.
async function waitForGuestInit(launcherPid: number): Promise<number | undefined> {
  const deadline = Date.now() + 10_000
  const merged = path.join(machineDir!, 'rootfs', 'merged')
  while (Date.now() < deadline && current?.exitCode === null && current.signalCode === null) {
    const child = listTree(launcherPid).find((p) => p.ppid === launcherPid)
    if (child) {
      try {
        if (fs.readlinkSync(`/proc/${child.pid}/root`) === merged) return child.pid
      } catch {
        // it exited or has not exec'd yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return undefined
}

interface Outcome {
  exitCode: number
  oomKilled: boolean
}

async function runOnce(): Promise<Outcome> {
  system('INFO Starting init (commit: standin)...')
  for (const mount of launch.mounts) system(`INFO Mounting /dev/vdc at ${mount.path} w/ uid: 0, gid: 0 and chmod 0755`)
  system(`INFO Preparing to run: \`${launch.cmd.join(' ')}\` as root`)
  const child = spawnWorkload()
  current = child
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
    child.on('error', (error) => {
      system(`ERROR failed to spawn ${launch.cmd[0]}: ${error.message}`, 'error')
      resolve({ code: 127, signal: null })
    })
  })
  const drained = Promise.all([pipeLines(child.stdout!, 'stdout'), pipeLines(child.stderr!, 'stderr')])
  const launcherPid = child.pid ?? 0
  const guestPid = spec!.isolation === 'namespace' && launcherPid ? await waitForGuestInit(launcherPid) : launcherPid
  if (child.exitCode === null && child.signalCode === null && !stopRequested) {
    // A new run has no check results yet (fly-go Machine.Checks starts empty).
    updateRuntimeRecord(machineDir!, (record) => {
      record.state = 'started'
      record.pid = guestPid
      record.checks = undefined
      pushEvent(record, { type: 'start', status: 'started', source: 'flyd' })
    })
  }

  let oomKilled = false
  const limitBytes = launch.memoryMb * 1024 * 1024
  const memoryWatch = setInterval(() => {
    if (!launcherPid || oomKilled) return
    const tree = listTree(launcherPid)
    const usage = readRss(tree.map((p) => p.pid))
    if (usage.totalBytes <= limitBytes) return
    oomKilled = true
    const victim = usage.largest && { ...usage.largest, ...guestProcess(usage.largest.pid) }
    system(
      `${kernelUptime()} Out of memory: Killed process ${victim?.guestPid ?? launcherPid} (${victim?.comm ?? 'node'}) ` +
        `total-vm:${victim?.vmKb ?? 0}kB, anon-rss:${Math.round((victim?.rssBytes ?? 0) / 1024)}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0`,
    )
    signalTree(launcherPid, 'SIGKILL')
  }, MEMORY_POLL_MS)
  // The config's checks, against this boot's workload (checks.ts); none configured, none reported.
  stopChecks =
    guestPid && launch.checks?.length
      ? runChecks(launch.checks, guestPid, spec!.isolation === 'namespace', (result) => {
          if (child.exitCode !== null || child.signalCode !== null) return
          updateRuntimeRecord(machineDir!, (record) => {
            record.checks = [...(record.checks ?? []).filter((c) => c.name !== result.name), result].sort((x, y) =>
              x.name.localeCompare(y.name),
            )
          })
        })
      : () => {}

  const { code, signal } = await exited
  clearInterval(memoryWatch)
  stopChecks()
  // Whatever the workload left behind goes with it, as when a VM stops.
  signalTree(launcherPid, 'SIGKILL')
  await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 2_000))])
  current = undefined
  const exitCode = oomKilled ? 137 : (code ?? 128 + signalNumber(signal))
  if (oomKilled) system('INFO Process appears to have been OOM killed!')
  // The pid-1 shell reports a signal death as 128+n; Fly's init names the signal.
  const signalName = signal ?? (oomKilled ? 'SIGKILL' : exitCode > 128 ? signalNameOf(exitCode - 128) : undefined)
  if (signalName) system(`INFO Main child exited with signal (with signal '${signalName}', core dumped? false)`)
  else system(`INFO Main child exited normally with code: ${exitCode}`)
  system('INFO Starting clean up.')
  for (const mount of launch.mounts) system(`INFO Umounting /dev/vdc from ${mount.path}`)
  system(`${kernelUptime()} reboot: Restarting system`)
  return { exitCode, oomKilled }
}

function signalNameOf(number: number): string | undefined {
  return Object.entries(os.constants.signals).find(([, value]) => value === number)?.[0]
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? os.constants.signals[signal] : 0
}

function shouldRestart(outcome: Outcome, retries: number): boolean {
  const { policy, maxRetries } = launch.restart
  const failed = outcome.oomKilled || outcome.exitCode !== 0
  const wanted = policy === 'always' || (policy === 'on-failure' && failed)
  // flyd's default for on-failure is 10 attempts; 'always' is unbounded unless limited.
  const limit = maxRetries ?? (policy === 'on-failure' ? 10 : Number.POSITIVE_INFINITY)
  return wanted && retries < limit
}

function requestStop(): void {
  if (stopRequested) return
  stopRequested = true
  wake?.()
  const child = current
  if (!child?.pid) {
    // Stopped between two restarts of a crash loop: flyd records the stop as a requested exit, so
    // the newest exit event no longer says "restarting" (flyctl's smoke check reads only that one).
    updateRuntimeRecord(machineDir!, (record) =>
      pushEvent(record, { type: 'exit', status: 'stopped', source: 'flyd', exitCode: 0, requestedStop: true }),
    )
    return
  }
  setState('stopping')
  stopChecks()
  if (spec!.isolation === 'namespace') {
    const guestInit = listTree(child.pid).find((p) => p.ppid === child.pid)
    if (guestInit) process.kill(guestInit.pid, 'SIGTERM')
  } else {
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
  setTimeout(() => signalTree(child.pid!, 'SIGKILL'), spec!.killTimeoutMs).unref()
}

async function main(): Promise<void> {
  updateRuntimeRecord(machineDir!, (record) => {
    record.supervisorPid = process.pid
    record.isolation = spec!.isolation
  })
  const faults = readFaults(path.resolve(launch.stateDir))
  if (faults.restartLatencyMs) await sleep(faults.restartLatencyMs)
  if (faults.machineNeverStarts) {
    // The fault: the machine never gets past 'starting' until someone stops it.
    while (!stopRequested) await sleep(60_000)
  }
  let retries = 0
  while (!stopRequested) {
    const outcome = await runOnce()
    const restarting = !stopRequested && shouldRestart(outcome, retries)
    if (outcome.oomKilled) event('oom', 'stopped', 'flyd', outcome.exitCode)
    exitEvent(outcome, restarting, retries)
    if (!restarting) break
    retries += 1
    bumpCounter(launch.stateDir, 'crashRestarts')
    updateRuntimeRecord(machineDir!, (record) => {
      record.state = 'starting'
      record.pid = undefined
      record.crashRestarts = (record.crashRestarts ?? 0) + 1
      pushEvent(record, { type: 'restart', status: 'starting', source: 'flyd' })
    })
    await sleep(Math.min(BACKOFF_BASE_MS * 2 ** (retries - 1), BACKOFF_MAX_MS))
  }
  setState('stopped', { pid: undefined })
}

process.on('SIGTERM', requestStop)
process.on('SIGINT', requestStop)
main().then(
  () => process.exit(0),
  (error: unknown) => {
    system(`ERROR machine supervisor failed: ${(error as Error).message}`, 'error')
    if (current?.pid) signalTree(current.pid, 'SIGKILL')
    try {
      setState('failed', { pid: undefined })
    } finally {
      process.exit(1)
    }
  },
)
