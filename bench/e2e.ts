// The end-to-end parts of `npm run bench`: dist/index.js run as a GitHub runner runs it, against
// the flyctl stand-in with LATENCY (bench/lib.ts) on every call and every machine (re)start.
//   pushComparison   figure 1 (+ the real gateway's ready-to-verdict samples of figure 2)
//   fatalVerdicts    figure 2, fatal lines (fake gateway scenarios)
//   noChangeRedeploy figure 3 (+ the install stage's tool-cache hit inside the action, figure 5)
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { stopAll } from '../standin/machines/runtime.ts'
import { startRegistry } from '../standin/registry/registry.ts'
import {
  GATEWAY_TOKEN,
  API_TOKEN,
  READY_LINE,
  firstLineAfter,
  log,
  readCounters,
  runTimed,
  startBenchWorld,
  writeDockerfile,
  type TimedRun,
} from './lib.ts'

const HERE = import.meta.dirname
const REPO = path.resolve(HERE, '..')
const FLYCTL = path.join(REPO, 'standin', 'bin', 'flyctl')
const GATEWAY = 'openclaw@2026.9.6'

/** Two states a push alternates between; each push changes all three things. */
const VARIANTS = [
  { anthropicKey: 'sk-ant-bench-variant-a-5c1f', wsLog: 'compact', maxConcurrent: 4 },
  { anthropicKey: 'sk-ant-bench-variant-b-9e27', wsLog: 'full', maxConcurrent: 2 },
] as const

function machineCommand(v: (typeof VARIANTS)[number]): string {
  return `node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan --ws-log ${v.wsLog}`
}

function gatewayConfig(app: string, v: (typeof VARIANTS)[number]): string {
  // Public deployments need allowedOrigins (src/config/gateway-config.ts, openclaw issue #71823).
  return `${JSON.stringify({ gateway: { mode: 'local', controlUi: { allowedOrigins: [`https://${app}.fly.dev`] } }, agents: { defaults: { maxConcurrent: v.maxConcurrent } } }, null, 2)}\n`
}

/** The guide's fly.toml (section 2; test/fixtures keeps it verbatim), with the app name edited as the guide says. */
function guideFlyToml(app: string): string {
  const guide = fs.readFileSync(path.join(import.meta.dirname, '../test/fixtures/flytoml/guide-fly.toml'), 'utf8')
  return guide.replace(/^app = "my-openclaw"/m, `app = "${app}"`)
}

function expectHealthy(run: TimedRun, what: string): void {
  if (run.result.exitCode !== 0 || run.result.outputs.health !== 'healthy') {
    const tail = run.result.stdout.split('\n').slice(-30).join('\n')
    throw new Error(
      `${what}: expected a healthy deploy, got exit ${run.result.exitCode}, health ${run.result.outputs.health}\n${tail}\n${run.result.stderr}`,
    )
  }
}

export interface PushSample {
  wallMs: number
  /** The action's stage times from its job summary (action pushes only). */
  stages?: Record<string, number>
  restarts: number
  crashRestarts: number
  calls: number
}

export interface PushResult {
  action: PushSample[]
  byHand: PushSample[]
  /** Gateway ready line (machine log time) to the action's verdict line, real gateway. */
  readyToVerdictMs: number[]
  byHandCommands: string[]
}

/** Figure 1: the same push through the action and through the guide by hand, real gateway. */
export async function pushComparison(runs: number): Promise<PushResult> {
  const out: PushResult = { action: [], byHand: [], readyToVerdictMs: [], byHandCommands: [] }

  // The action: deploy once (not timed), then pushes that alternate between the two variants.
  {
    const world = await startBenchWorld('push-action')
    const app = 'push-action'
    try {
      writeDockerfile(world.dirs, GATEWAY)
      const push = async (v: (typeof VARIANTS)[number]) => {
        fs.writeFileSync(path.join(world.dirs.workspace, 'openclaw.json'), gatewayConfig(app, v))
        return runTimed(world, {
          app,
          secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}\nANTHROPIC_API_KEY=${v.anthropicKey}`,
          'gateway-config': 'openclaw.json',
          'machine-command': machineCommand(v),
        })
      }
      log('push (action): first deploy')
      expectHealthy(await push(VARIANTS[0]), 'push (action) first deploy')
      for (let i = 1; i <= runs; i++) {
        const run = await push(VARIANTS[i % 2] as (typeof VARIANTS)[number])
        expectHealthy(run, `push (action) ${i}`)
        out.action.push({
          wallMs: run.endedAt - run.startedAt,
          stages: run.stages,
          restarts: run.restarts + run.starts,
          crashRestarts: run.crashRestarts,
          calls: run.calls.length,
        })
        const ready = firstLineAfter(world.state, app, run.startedAt, READY_LINE)
        if (!ready) throw new Error(`push (action) ${i}: no ready line in the machine's log`)
        // The gate says its verdict the moment it decides (src/health/gate.ts); the exit follows.
        const verdictAt = run.lines.find((l) => /health: release v\d+ is healthy/.test(l.text))?.at ?? run.endedAt
        out.readyToVerdictMs.push(verdictAt - ready.at)
        log(
          `push (action) ${i}/${runs}: ${run.endedAt - run.startedAt} ms, ${run.restarts + run.starts} restart(s), ready->verdict ${verdictAt - ready.at} ms`,
        )
      }
    } finally {
      await world.stop()
    }
  }

  // By hand: bench/by-hand.sh against the stand-in's flyctl in a workspace with the guide's fly.toml.
  {
    const world = await startBenchWorld('push-by-hand')
    const app = 'push-by-hand'
    try {
      writeDockerfile(world.dirs, GATEWAY)
      fs.writeFileSync(path.join(world.dirs.workspace, 'fly.toml'), guideFlyToml(app))
      const configFile = path.join(world.dirs.root, 'openclaw.json')
      const script = async (mode: 'setup' | 'push', v: (typeof VARIANTS)[number]) => {
        fs.writeFileSync(configFile, gatewayConfig(app, v))
        const before = await readCounters(world.state)
        const journalBefore = journalLength(world.state)
        const startedAt = Date.now()
        const { code, output } = await sh(path.join(HERE, 'by-hand.sh'), [mode], world.dirs.workspace, {
          FLY: FLYCTL,
          FLYCTL_STANDIN_STATE: world.state,
          FLY_API_TOKEN: API_TOKEN,
          APP: app,
          GATEWAY_TOKEN,
          ANTHROPIC_KEY: v.anthropicKey,
          MACHINE_COMMAND: machineCommand(v),
          GATEWAY_CONFIG: configFile,
        })
        const wallMs = Date.now() - startedAt
        if (code !== 0)
          throw new Error(`by-hand.sh ${mode} exited ${code}:\n${output.split('\n').slice(-30).join('\n')}`)
        const after = await readCounters(world.state)
        const calls = journalEntries(world.state).slice(journalBefore)
        return {
          wallMs,
          restarts: after.machineRestarts - before.machineRestarts + (after.machineStarts - before.machineStarts),
          crashRestarts: after.crashRestarts - before.crashRestarts,
          calls,
        }
      }
      log('push (by hand): setup and first push')
      await script('setup', VARIANTS[0])
      await script('push', VARIANTS[0])
      for (let i = 1; i <= runs; i++) {
        const r = await script('push', VARIANTS[i % 2] as (typeof VARIANTS)[number])
        out.byHand.push({
          wallMs: r.wallMs,
          restarts: r.restarts,
          crashRestarts: r.crashRestarts,
          calls: r.calls.length,
        })
        // The command sequence of one push, polls folded: what the README can show.
        if (i === 1) out.byHandCommands = foldRepeats(r.calls)
        log(`push (by hand) ${i}/${runs}: ${r.wallMs} ms, ${r.restarts} restart(s)`)
      }
    } finally {
      await world.stop()
    }
  }
  return out
}

function journalEntries(state: string): string[] {
  try {
    return fs
      .readFileSync(path.join(state, 'journal.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv.join(' '))
  } catch {
    return []
  }
}

function journalLength(state: string): number {
  return journalEntries(state).length
}

/** `logs --no-tail` x 9 instead of nine lines. */
function foldRepeats(calls: string[]): string[] {
  const out: string[] = []
  for (const call of calls) {
    const last = out.at(-1)
    const m = last ? /^(.*?)(?: x (\d+))?$/.exec(last) : null
    if (m && m[1] === call) out[out.length - 1] = `${call} x ${Number(m[2] ?? 1) + 1}`
    else out.push(call)
  }
  return out
}

/** The script in a process group of its own, so a hung run (no ready line) can be ended whole. */
function sh(
  script: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 300_000,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', [script, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let output = ''
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      if (child.pid) process.kill(-child.pid, 'SIGTERM')
    }, timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (timedOut)
        reject(
          new Error(
            `${path.basename(script)} ${args.join(' ')} did not finish in ${timeoutMs / 1000} s:\n${output.split('\n').slice(-20).join('\n')}`,
          ),
        )
      else resolve({ code: code ?? 1, output })
    })
  })
}

export interface FatalScenario {
  name: string
  workload: string
  /** The machine line that is the evidence (ANSI stripped). */
  fatal: RegExp
  cause: string
}

export const FATAL_SCENARIOS: FatalScenario[] = [
  {
    name: 'out of memory',
    workload: 'fake-gateway:oom',
    fatal: /Reached heap limit|Runtime_AllocateInYoungGeneration|SIGABRT/,
    cause: 'out of memory',
  },
  {
    name: 'exit 78, lan without auth',
    workload: 'fake-gateway:no-auth',
    fatal: /Refusing to bind gateway/,
    cause: 'without auth',
  },
  { name: 'gateway lock', workload: 'fake-gateway:lock', fatal: /already running|lock timeout/, cause: 'lock' },
  // Crashes 8 s after boot, slower than flyctl's 10 s smoke window notices; fly deploy alone would wait out --wait-timeout.
  {
    name: 'crash 8 s after boot',
    workload: 'fake-gateway:crash-late',
    fatal: /crashed 8 s after boot/,
    cause: 'exited',
  },
]

export interface FatalResult {
  name: string
  /** Fatal machine line to the action's `::error::` line (stdout arrival). */
  lineToErrorMs: number[]
  /** Fatal machine line to the action's exit. */
  lineToExitMs: number[]
}

/**
 * Figure 2, fatal lines: a new app's first release fails; stale-lock repair and rollback are off,
 * so the first verdict is the step's (each would otherwise add a restart or a deploy after it).
 */
export async function fatalVerdicts(runs: number): Promise<FatalResult[]> {
  const results: FatalResult[] = []
  for (const scenario of FATAL_SCENARIOS) {
    const world = await startBenchWorld('fatal')
    const result: FatalResult = { name: scenario.name, lineToErrorMs: [], lineToExitMs: [] }
    try {
      writeDockerfile(world.dirs, scenario.workload)
      for (let i = 1; i <= runs; i++) {
        // A new app each run: the failed release's machine keeps crash-looping (restart policy),
        // and its fatal lines must not be taken for the next release's.
        const app = `bench-fatal-${i}`
        const run = await runTimed(world, {
          app,
          secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`,
          rollback: 'false',
          'fix-stale-lock': 'false',
          'health-timeout': '300',
        })
        const error = run.lines.find((l) => l.text.startsWith('::error::'))
        if (run.result.exitCode === 0 || run.result.outputs.health !== 'unhealthy' || !error) {
          throw new Error(
            `fatal ${scenario.name}: expected an unhealthy verdict, got exit ${run.result.exitCode}, health ${run.result.outputs.health}\n${run.result.stdout.slice(-3000)}`,
          )
        }
        if (!error.text.toLowerCase().includes(scenario.cause))
          throw new Error(`fatal ${scenario.name}: the error names another cause: ${error.text.slice(0, 300)}`)
        const fatal = firstLineAfter(world.state, app, run.startedAt, scenario.fatal)
        if (!fatal) throw new Error(`fatal ${scenario.name}: no fatal line in the machine's log`)
        result.lineToErrorMs.push(error.at - fatal.at)
        result.lineToExitMs.push(run.endedAt - fatal.at)
        log(`fatal ${scenario.name} ${i}/${runs}: line->error ${error.at - fatal.at} ms`)
        await stopAll(world.state)
      }
    } finally {
      await world.stop()
    }
    results.push(result)
  }
  return results
}

export interface RedeployResult {
  calls: number[]
  restarts: number[]
  wallMs: number[]
  /** One run's calls, for the README. */
  callList: string[]
  /** The install stage inside the action on a tool-cache hit (from the job summary), and requests. */
  installStageMs: number[]
  installRequests: number[]
}

/** Figure 3: the same inputs again, fake gateway (the count is the action's, not the gateway's). */
export async function noChangeRedeploy(runs: number): Promise<RedeployResult> {
  const world = await startBenchWorld('redeploy')
  const app = 'bench-redeploy'
  const out: RedeployResult = {
    calls: [],
    restarts: [],
    wallMs: [],
    callList: [],
    installStageMs: [],
    installRequests: [],
  }
  try {
    writeDockerfile(world.dirs, 'fake-gateway:ready')
    // A redeploy that deploys (skip-unchanged: false): figure 7 compares a run that makes no release with it.
    const inputs = { app, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`, 'skip-unchanged': 'false' }
    expectHealthy(await runTimed(world, inputs), 'redeploy: first deploy')
    for (let i = 1; i <= runs; i++) {
      const run = await runTimed(world, inputs)
      expectHealthy(run, `redeploy ${i}`)
      out.calls.push(run.calls.length)
      out.restarts.push(run.restarts + run.starts)
      out.wallMs.push(run.endedAt - run.startedAt)
      if (i === 1) out.callList = run.calls
      if (run.stages.install !== undefined) out.installStageMs.push(run.stages.install)
      out.installRequests.push(run.requests)
      log(`redeploy ${i}/${runs}: ${run.calls.length} calls, ${run.restarts + run.starts} restart(s)`)
    }
  } finally {
    await world.stop()
  }
  return out
}

export interface UnchangedResult {
  /** The run with nothing new (skip-unchanged default true). */
  calls: number[]
  boots: number[]
  releases: number[]
  wallMs: number[]
  /** The same inputs with skip-unchanged: false (a no-op redeploy that deploys). */
  redeployWallMs: number[]
  callList: string[]
}

/**
 * Figure 7: a second run with nothing changed, building a Dockerfile whose base image is in the
 * loopback registry stand-in (so its tag resolves), against the same run with skip-unchanged: false.
 */
export async function unchangedRuns(runs: number): Promise<UnchangedResult> {
  const world = await startBenchWorld('unchanged')
  const registry = await startRegistry()
  const app = 'bench-unchanged'
  const out: UnchangedResult = { calls: [], boots: [], releases: [], wallMs: [], redeployWallMs: [], callList: [] }
  try {
    registry.push('openclaw/base', '24')
    fs.writeFileSync(
      path.join(world.dirs.workspace, 'Dockerfile'),
      `FROM ${registry.host}/openclaw/base:24\nLABEL fly-standin.workload=fake-gateway:ready\n`,
    )
    const inputs = { app, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}` }
    expectHealthy(await runTimed(world, inputs), 'unchanged: first deploy')
    for (let i = 1; i <= runs; i++) {
      const run = await runTimed(world, inputs)
      expectHealthy(run, `unchanged ${i}`)
      out.calls.push(run.calls.length)
      out.boots.push(run.restarts + run.starts)
      out.releases.push(run.result.outputs.released === 'true' ? 1 : 0)
      out.wallMs.push(run.endedAt - run.startedAt)
      if (i === 1) out.callList = run.calls
      const redeploy = await runTimed(world, { ...inputs, 'skip-unchanged': 'false' })
      expectHealthy(redeploy, `unchanged ${i}: skip-unchanged false`)
      out.redeployWallMs.push(redeploy.endedAt - redeploy.startedAt)
      log(
        `unchanged ${i}/${runs}: ${run.calls.length} calls, ${run.restarts + run.starts} boot(s), ${run.endedAt - run.startedAt} ms ` +
          `(stages ${JSON.stringify(run.stages)}); redeploy ${redeploy.endedAt - redeploy.startedAt} ms (stages ${JSON.stringify(redeploy.stages)})`,
      )
    }
  } finally {
    await registry.close()
    await world.stop()
  }
  return out
}
