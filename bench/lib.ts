// Shared pieces of `npm run bench` (bench/run.ts): statistics, the stand-in world with latency,
// the action run with line arrival times, and the machine log reader. Runs on Node 24 with type
// stripping only (no src/ imports here: src/ needs --experimental-transform-types).
import fs from 'node:fs'
import path from 'node:path'
import { API_TOKEN, startStandinWorld, type StandinWorld } from '../test/support/standin.ts'
import { readCounters, readJournal, writeFaults } from '../standin/platform/inspect.ts'
import { runAction, type ActionResult } from '../standin/runner/runner.ts'

export { API_TOKEN, GATEWAY_TOKEN, writeDockerfile } from '../test/support/standin.ts'
export { readCounters, readJournal } from '../standin/platform/inspect.ts'

/** The world the issue sets: every flyctl call waits 150 ms, every machine (re)start 1.5 s. */
export const LATENCY = { callMs: 150, restartMs: 1500 }

export { round, stats, type Stats } from './stats.ts'

const live = new Set<StandinWorld>()
let interrupted = false

/** Ctrl-C or SIGTERM: stop the machines of every world still up, then leave. */
function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) return
  interrupted = true
  log(`${signal}: stopping ${live.size} stand-in world(s)`)
  void Promise.allSettled([...live].map((w) => w.stop())).then(() => process.exit(130))
}

/** A stand-in world with the bench's latency written into faults.json; stop() forgets it. */
export async function startBenchWorld(prefix: string): Promise<StandinWorld> {
  if (live.size === 0) {
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  const world = await startStandinWorld(`bench-${prefix}-`)
  live.add(world)
  const stop = world.stop.bind(world)
  world.stop = async () => {
    live.delete(world)
    await stop()
  }
  await writeFaults(world.state, { latencyMs: { '*': LATENCY.callMs }, restartLatencyMs: LATENCY.restartMs })
  return world
}

export interface TimedLine {
  /** Wall clock (ms since the epoch) when the line reached the runner. */
  at: number
  text: string
}

export interface TimedRun {
  result: ActionResult
  startedAt: number
  endedAt: number
  lines: TimedLine[]
  /** Restarts and starts the platform counted during the run. */
  restarts: number
  starts: number
  crashRestarts: number
  /** flyctl calls journaled during the run. */
  calls: string[]
  /** Requests the release server saw during the run. */
  requests: number
  /** Stage times (ms) from the job summary's Stages table. */
  stages: Record<string, number>
}

/** `| deploy | ok | 4.2 s | note |` rows of the summary's Stages table, in ms. */
export function summaryStages(summary: string): Record<string, number> {
  const out: Record<string, number> = {}
  const at = summary.indexOf('### Stages')
  if (at < 0) return out
  for (const m of summary.slice(at).matchAll(/^\|\s*([a-z-]+)\s*\|\s*[a-z]+\s*\|\s*([\d.]+) (ms|s|min)\s*\|/gm)) {
    out[m[1] as string] = Number(m[2]) * (m[3] === 'ms' ? 1 : m[3] === 's' ? 1000 : 60_000)
  }
  return out
}

/**
 * Runs dist/index.js as world.run does (same defaults: api-token, flyctl-mirror, the world's
 * state), but keeps the arrival time of every output line, and what the platform counted.
 */
export async function runTimed(world: StandinWorld, inputs: Record<string, string>): Promise<TimedRun> {
  const before = await readCounters(world.state)
  const journalBefore = (await readJournal(world.state)).length
  const requestsBefore = world.server.requests.length
  const lines: TimedLine[] = []
  // runAction hands stdout and stderr to one callback; the action writes its log to stdout.
  const pending = { stdout: '' }
  const startedAt = Date.now()
  const result = await runAction({
    dirs: world.dirs,
    inputs: { 'api-token': API_TOKEN, 'flyctl-mirror': world.server.mirrorUrl, ...inputs },
    env: { FLYCTL_STANDIN_STATE: world.state },
    onOutput: (chunk) => {
      const at = Date.now()
      pending.stdout += chunk
      let newline = pending.stdout.indexOf('\n')
      while (newline >= 0) {
        lines.push({ at, text: pending.stdout.slice(0, newline) })
        pending.stdout = pending.stdout.slice(newline + 1)
        newline = pending.stdout.indexOf('\n')
      }
    },
  })
  const endedAt = Date.now()
  if (pending.stdout) lines.push({ at: endedAt, text: pending.stdout })
  const after = await readCounters(world.state)
  const journal = await readJournal(world.state)
  return {
    result,
    startedAt,
    endedAt,
    lines,
    restarts: after.machineRestarts - before.machineRestarts,
    starts: after.machineStarts - before.machineStarts,
    crashRestarts: after.crashRestarts - before.crashRestarts,
    calls: journal.slice(journalBefore).map((e) => e.argv.join(' ')),
    requests: world.server.requests.length - requestsBefore,
    stages: summaryStages(result.summary),
  }
}

export interface MachineLogLine {
  /** ms since the epoch, as the stand-in's supervisor stamped it. */
  at: number
  machineId: string
  message: string
}

// eslint-disable-next-line no-control-regex -- ESC is the point: it strips ANSI colour codes
const ANSI = /\x1b\[[0-9;]*m/g

/** Every line of every machine of the app, from the stand-in's log.jsonl files, ANSI stripped. */
export function machineLogLines(state: string, app: string): MachineLogLine[] {
  const root = path.join(state, 'apps', app, 'machines')
  const out: MachineLogLine[] = []
  let ids: string[]
  try {
    ids = fs.readdirSync(root)
  } catch {
    return out
  }
  for (const id of ids) {
    let text: string
    try {
      text = fs.readFileSync(path.join(root, id, 'log.jsonl'), 'utf8')
    } catch {
      continue
    }
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue
      try {
        const line = JSON.parse(raw) as { timestamp: string; message: string }
        out.push({ at: Date.parse(line.timestamp), machineId: id, message: line.message.replace(ANSI, '') })
      } catch {
        // a torn last line: skip
      }
    }
  }
  return out.sort((a, b) => a.at - b.at)
}

/** The first machine line at or after `since` that matches. */
export function firstLineAfter(state: string, app: string, since: number, pattern: RegExp): MachineLogLine | undefined {
  return machineLogLines(state, app).find((l) => l.at >= since && pattern.test(l.message))
}

/** The gateway's readiness line: `[gateway] ready` (2026.4+) or `listening on ws://` (up to 2026.3). */
export const READY_LINE = /\[gateway\] (ready\b|listening on ws:\/\/)/

/** Total size in bytes of the files under a directory. */
export function dirSize(dir: string): { bytes: number; files: number } {
  let bytes = 0
  let files = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    bytes += fs.statSync(path.join(entry.parentPath, entry.name)).size
    files += 1
  }
  return { bytes, files }
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
