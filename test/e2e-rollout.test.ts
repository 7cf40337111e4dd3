import { spawn, execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MachineListSchema, ReleaseListSchema } from '../src/fly-json.js'
import { readCounters, readJournal, readState } from '../standin/inspect.ts'
import type { ActionResult } from '../standin/runner.ts'
import { API_TOKEN, GATEWAY_TOKEN, startStandinWorld, writeDockerfile, type StandinWorld } from './helpers/standin.js'

/**
 * Issue 12: deploy and gate as one stage, against flyctl's real waits. The stand-in's `fly deploy`
 * smoke-checks for 10 s and waits for health checks (superfly/flyctl v0.4.87
 * internal/machine/leasable_machine.go WaitForSmokeChecksToPass, WaitForHealthchecksToPass) and
 * leaves stopped machines stopped (internal/command/deploy/machines_launchinput.go shouldSkipLaunch).
 * The fake gateway plays the broken releases; how fast verdicts come is `npm run bench`'s business.
 */

const TIMEOUT = 240_000
const TOKEN_SECRET = `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`
const FLYCTL = path.resolve('standin/bin/flyctl')

let world: StandinWorld | undefined
afterEach(async () => {
  const done = world
  world = undefined
  await done?.stop()
})

async function newWorld(workload: string): Promise<StandinWorld> {
  world = await startStandinWorld('e2e-rollout-')
  writeDockerfile(world.dirs, workload)
  return world
}

function tail(result: ActionResult): string {
  return `exit ${result.exitCode}\n${result.stdout.split('\n').slice(-60).join('\n')}\n${result.stderr.slice(-2000)}`
}

function stepError(result: ActionResult): string {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replaceAll('%0A', '\n').replaceAll('%25', '%'))
    .join('\n')
}

/** The stand-in's flyctl, as the action runs it. */
function flyctl(
  w: StandinWorld,
  args: string[],
  signalAfterMs?: { ms: number; signal: NodeJS.Signals },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(FLYCTL, args, {
      cwd: w.dirs.workspace,
      env: { ...process.env, FLYCTL_STANDIN_STATE: w.state, FLY_API_TOKEN: API_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    if (signalAfterMs) setTimeout(() => child.kill(signalAfterMs.signal), signalAfterMs.ms)
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** flyctl stand-in processes still running against this world's state (there must be none after a run). */
function flyctlProcessesOf(w: StandinWorld): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
  const ours = out.split('\n').filter((l) => l.includes('standin/cli.ts') || l.includes('bin/flyctl'))
  return ours.filter((l) => {
    const pid = Number(l.trim().split(/\s+/)[0])
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLYCTL_STANDIN_STATE=${w.state}`)
    } catch {
      return false
    }
  })
}

function writeConfig(w: StandinWorld): string {
  const file = path.join(w.dirs.workspace, 'fly.toml')
  fs.writeFileSync(
    file,
    [
      'app = "parity"',
      'primary_region = "iad"',
      '[processes]',
      'app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"',
      '[mounts]',
      'source = "openclaw_data"',
      'destination = "/data"',
      '[checks.gateway]',
      'type = "tcp"',
      'port = 3000',
      'interval = "5s"',
      'timeout = "2s"',
      '',
    ].join('\n'),
  )
  return file
}

describe('the stand-in waits as `fly deploy` does (flyctl v0.4.87)', () => {
  it(
    'a crash-looping machine fails the smoke check; its exit events carry restarting and restart_count; the release is failed',
    async () => {
      const w = await newWorld('fake-gateway:crash')
      writeConfig(w)
      expect((await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])).code).toBe(0)
      const deploy = await flyctl(w, ['deploy', '--app', 'parity', '-y'])
      // machines_deploymachinesapp.go smokeChecksError.Error
      expect(deploy.stderr).toMatch(/Error: smoke checks for [0-9a-f]{14} failed: the app appears to be crashing/)
      expect(deploy.code).toBe(1)
      const list = MachineListSchema.parse(JSON.parse((await flyctl(w, ['machines', 'list', '-a', 'parity', '--json'])).stdout))
      const exits = (list[0]?.events ?? []).filter((e) => e.type === 'exit') as Array<{
        request?: { exit_event?: Record<string, unknown>; restart_count?: number }
      }>
      // fly-go machine_types.go MachineRequest{exit_event{exit_code, restarting, exited_at}, restart_count}
      expect(exits[0]?.request?.exit_event).toMatchObject({ exit_code: 1, restarting: true })
      expect(exits[0]?.request?.exit_event?.exited_at).toEqual(expect.any(String))
      expect(exits[0]?.request?.restart_count).toBeGreaterThan(1)
      const releases = ReleaseListSchema.parse(JSON.parse((await flyctl(w, ['releases', '-a', 'parity', '--json'])).stdout))
      expect(releases[0]?.Status).toBe('failed')
    },
    TIMEOUT,
  )

  it(
    'a gateway that crashes 8 s after boot passes the 10 s smoke window, and the deploy waits on its health checks',
    async () => {
      const w = await newWorld('fake-gateway:crash-late')
      writeConfig(w)
      await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])
      const deploy = await flyctl(w, ['deploy', '--app', 'parity', '-y', '--wait-timeout', '25s'])
      expect(deploy.stdout).toMatch(/Checking health of machine [0-9a-f]{14}/)
      // leasable_machine.go WaitForHealthchecksToPass
      expect(deploy.stderr).toMatch(/timeout reached waiting for health checks to pass for machine [0-9a-f]{14}: context deadline exceeded/)
    },
    TIMEOUT,
  )

  it(
    'the release reads `running` while the deploy waits and `interrupted` after Ctrl-C (exit 127); `immediate` waits for nothing',
    async () => {
      const w = await newWorld('fake-gateway:crash-late')
      writeConfig(w)
      await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])
      const pending = flyctl(w, ['deploy', '--app', 'parity', '-y'], { ms: 6_000, signal: 'SIGINT' })
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      const during = ReleaseListSchema.parse(JSON.parse((await flyctl(w, ['releases', '-a', 'parity', '--json'])).stdout))
      expect(during[0]).toMatchObject({ Status: 'running', InProgress: true })
      expect((await pending).code).toBe(127)
      const after = ReleaseListSchema.parse(JSON.parse((await flyctl(w, ['releases', '-a', 'parity', '--json'])).stdout))
      expect(after[0]).toMatchObject({ Status: 'interrupted', InProgress: false })

      const immediate = await flyctl(w, ['deploy', '--app', 'parity', '-y', '--strategy', 'immediate'])
      expect(immediate.code, immediate.stderr).toBe(0)
      expect(immediate.stdout).not.toMatch(/Checking health of machine|is up and running/)
      // Fly's docs: blue-green cannot be used with volumes.
      const bluegreen = await flyctl(w, ['deploy', '--app', 'parity', '-y', '--strategy', 'bluegreen'])
      expect(bluegreen.stderr).toMatch(/bluegreen deployment strategy is not supported when using mounted volumes/)
    },
    TIMEOUT,
  )

  it(
    'a stopped machine takes the new config but is not started (machines_launchinput.go shouldSkipLaunch)',
    async () => {
      const w = await newWorld('fake-gateway:ready')
      writeConfig(w)
      await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])
      const first = await flyctl(w, ['deploy', '--app', 'parity', '-y'])
      expect(first.code).toBe(0)
      const [machine] = MachineListSchema.parse(JSON.parse((await flyctl(w, ['machines', 'list', '-a', 'parity', '--json'])).stdout))
      // machines_deploymachinesapp.go spawnMachineInGroup, then plan.go updateOrCreateMachine: the
      // lines the action's gate reads machines on (src/health/rollout-feed.ts).
      expect(first.stdout).toContain(`Machine ${machine!.id} [app] was created`)
      await flyctl(w, ['machine', 'stop', machine!.id, '-a', 'parity'])
      const again = await flyctl(w, ['deploy', '--app', 'parity', '-y'])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain(`Updated machine config for ${machine!.id}`)
      const [after] = MachineListSchema.parse(JSON.parse((await flyctl(w, ['machines', 'list', '-a', 'parity', '--json'])).stdout))
      expect(after?.state).toBe('stopped')
      expect(after?.config?.metadata?.fly_release_version).toBe('2')
    },
    TIMEOUT,
  )
})

describe('deploy and gate as one stage, through dist/index.js', () => {
  it(
    'a gateway that crashes 8 s after boot is unhealthy long before health-timeout: flyctl is interrupted and the push is rolled back',
    async () => {
      const w = await newWorld('fake-gateway:ready')
      const first = await w.run({ app: 'roll-late', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(first.exitCode, tail(first)).toBe(0)
      const goodImage = first.outputs.image!

      writeDockerfile(w.dirs, 'fake-gateway:crash-late')
      const second = await w.run({ app: 'roll-late', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      // Decided on the crash, not at the timeout (how fast: npm run bench, figure 2); flyctl alone
      // would have waited out its health checks for the whole 300 s.
      expect(stepError(second)).not.toMatch(/not healthy within health-timeout|timeout reached waiting/)
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true', image: goodImage, 'release-version': '3' })
      expect(stepError(second)).toMatch(/the gateway process exited/)
      expect(stepError(second)).toMatch(/Rolled back: release v3 \(the image of v1/)
      expect(second.stdout).toMatch(/interrupting it \(SIGINT\)/)
      const releases = (await readState(w.state)).apps['roll-late']!.releases
      expect(releases.find((r) => r.Version === 2)?.Status).toBe('interrupted')
      expect(releases.find((r) => r.Version === 3)?.Status).toBe('complete')
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a failed deploy (smoke checks) is a verdict with the cause from the logs, not flyctl’s raw error, and is rolled back',
    async () => {
      const w = await newWorld('fake-gateway:ready')
      const first = await w.run({ app: 'roll-crash', secrets: TOKEN_SECRET })
      expect(first.exitCode, tail(first)).toBe(0)
      writeDockerfile(w.dirs, 'fake-gateway:oom')
      const second = await w.run({ app: 'roll-crash', secrets: TOKEN_SECRET })
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true', image: first.outputs.image })
      expect(stepError(second)).toMatch(/ran out of memory/)
      expect(stepError(second)).toMatch(/Fix: /)
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a machine left stopped serves again after the next good push, started by the action and named in the summary',
    async () => {
      const w = await newWorld('fake-gateway:ready')
      const first = await w.run({ app: 'roll-stopped', secrets: TOKEN_SECRET })
      expect(first.exitCode, tail(first)).toBe(0)
      const id = first.outputs['machine-ids']!
      await flyctl(w, ['machine', 'stop', id, '-a', 'roll-stopped'])
      const before = await readCounters(w.state)
      const second = await w.run({ app: 'roll-stopped', secrets: TOKEN_SECRET })
      expect(second.exitCode, tail(second)).toBe(0)
      expect(second.outputs.health).toBe('healthy')
      expect(second.summary).toContain(`started machine ${id}, which the deploy left stopped`)
      const journal = (await readJournal(w.state)).map((e) => e.argv.join(' '))
      expect(journal).toContain(`machine start ${id} --app roll-stopped`)
      const after = await readCounters(w.state)
      expect(after.machineStarts - before.machineStarts).toBe(1)
      expect(after.machineRestarts - before.machineRestarts).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'a healthy push costs exactly one machine restart and shows the gateway lines its verdict rests on',
    async () => {
      const w = await newWorld('fake-gateway:ready')
      const first = await w.run({ app: 'roll-push', secrets: TOKEN_SECRET })
      expect(first.exitCode, tail(first)).toBe(0)
      const before = await readCounters(w.state)
      const second = await w.run({ app: 'roll-push', secrets: `${TOKEN_SECRET}\nOPENCLAW_EXTRA=second-push-value` })
      expect(second.exitCode, tail(second)).toBe(0)
      const after = await readCounters(w.state)
      expect(after.machineRestarts - before.machineRestarts).toBe(1)
      expect(after.crashRestarts - before.crashRestarts).toBe(0)
      const evidence = second.stdout.split("health: the gateway's own lines this verdict rests on:\n")[1]?.split('\n') ?? []
      expect(
        evidence.some((l) => /^ {2}[0-9a-f]{14} \S+Z .*\[gateway\] ready/.test(l)),
        second.stdout,
      ).toBe(true)
      expect(second.summary).toMatch(/The gateway's own lines this verdict rests on:/)
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )
})
