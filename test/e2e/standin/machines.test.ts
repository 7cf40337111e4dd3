// The stand-in's machines (standin/machines/runtime.ts): real detached process trees running the
// real OpenClaw gateway or the fake one.
//
// What running openclaw here taught (for whoever reproduces gateway failures):
// - Lock files. 2026.9.6 keeps them under the state dir: with OPENCLAW_STATE_DIR=/data that is
//   /data/tmp/openclaw-0/gateway.<sha256(configPath)[:8]>.lock and gateway.state.lock (each with
//   a .sqlite coordinator beside it); see dist/gateway-lock-*.mjs (src/infra/gateway-lock.ts).
//   It records the owner's pid *and* its process start time, and holds an SQLite
//   "gateway-lifecycle" coordinator, so a stale lock left by a dead gateway is reclaimed on the
//   next start: on 2026.9 only a live second gateway on the same state dir holds it (it then logs
//   "waiting for gateway-lifecycle ownership held by another OpenClaw process, up to 300 s").
//   2026.3.13 keeps its lock in /tmp/openclaw-0/ (the machine's rootfs, wiped at every boot),
//   and compares the pid only, so a held lock needs a pid alive in the fresh boot: the machine's
//   private pid namespace makes the gateway's PID small and the same at every boot (PID 21 here).
//   The fake gateway's `lock` scenario prints the older "gateway already running (pid N); lock
//   timeout after 5000ms" failure.
// - OOM. NODE_OPTIONS=--max-old-space-size=48 makes 2026.9.6 abort in about 1.5 s with V8's
//   "FATAL ERROR: Reached heap limit ... JavaScript heap out of memory" (exit 134, SIGABRT).
//   A machine memoryMb of 256 gets the gateway (about 270 MB resident while starting) killed by
//   the runtime's kernel-OOM emulation: "Out of memory: Killed process 21 (node)" and an 'oom'
//   event.
// - Invalid config at OPENCLAW_CONFIG_PATH: "Gateway failed to start: Invalid config at
//   /etc/openclaw/openclaw.json:" then "openclaw.json:1 — gateway: Unrecognized key: ...", exit 78.
// - 2026.9.6 prints its first line about 4 s after start and `[gateway] ready` 5 to 10 s after.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { setupStandinRuntimes } from '../../../scripts/standin-setup.ts'
import {
  execOnMachine,
  restartMachine,
  startMachine,
  stopAll,
  stopMachine,
  type MachineLaunch,
} from '../../../standin/machines/runtime.ts'
import { listTree, isRunning } from '../../../standin/machines/procs.ts'
import { detectIsolation } from '../../../standin/machines/isolation.ts'
import { checkSpecs } from '../../../standin/machines/checks.ts'
import {
  base64,
  freshStateDir,
  launchFor,
  logMessages,
  runtimeOf,
  useMachineStateDirs,
  waitFor,
  waitForLine,
  waitForState,
} from '../../support/machines.ts'

// Assertions about the machine's private root, pid and network namespaces need 'namespace'.
const namespaces = detectIsolation(os.tmpdir()) === 'namespace'

function counters(stateDir: string): Record<string, number> {
  return JSON.parse(fs.readFileSync(path.join(stateDir, 'counters.json'), 'utf8')) as Record<string, number>
}

// Node 24 only: the fake gateway runs on it (the real gateway's cases are in test/gateway/).
beforeAll(async () => {
  await setupStandinRuntimes([], () => {})
}, 600_000)

useMachineStateDirs()

describe('isolation', () => {
  it('runs machines in private namespaces as root, and as any user who may make a user namespace', () => {
    // CI runs as root on the same kind of machine; a user without user namespaces falls back to path mapping.
    const userNamespaces = spawnSync('unshare', ['--user', '--map-root-user', 'true']).status === 0
    const expected = process.getuid?.() === 0 || userNamespaces ? 'namespace' : 'paths'
    expect(detectIsolation(freshStateDir())).toBe(expected)
  })
})

/** A folder every Debian host's /etc has. */
const HOST_ETC_DIR = ['default', 'ssl', 'profile.d'].find((d) => fs.existsSync(`/etc/${d}`)) ?? 'default'

/** The pids of a machine's process tree: its supervisor and everything under it. */
function machineProcesses(launch: MachineLaunch): number[] {
  const record = JSON.parse(
    fs.readFileSync(
      path.join(launch.stateDir, 'apps', launch.app, 'machines', launch.machineId, 'runtime.json'),
      'utf8',
    ),
  ) as {
    supervisorPid: number
  }
  return listTree(record.supervisorPid).map((p) => p.pid)
}

/**
 * One ready machine for the cases that read it (files, commands, checks), then restart it and stop
 * it, in this order: one boot where each case would start its own.
 */
describe('a ready machine', () => {
  let launch: MachineLaunch

  beforeAll(async () => {
    launch = launchFor(freshStateDir(), {
      env: { OPENCLAW_STATE_DIR: '/data', OPENCLAW_CONFIG_PATH: '/etc/openclaw/openclaw.json' },
      files: [
        { guest_path: '/etc/openclaw/openclaw.json', raw_value: base64('{ gateway: { mode: "local" } }') },
        { guest_path: '/data/seed.txt', raw_value: base64('seeded') },
        // Into a folder the host's /etc already has: rootless machines cannot write there through
        // an overlay (no copy-up of what the host's root owns), so this one takes a copy of /etc.
        { guest_path: `/etc/${HOST_ETC_DIR}/fly-test`, raw_value: base64('+inside') },
      ],
      // The TCP check [http_service] gives, and an HTTP check on another path of the same gateway.
      checks: checkSpecs({
        checks: {
          gateway: { type: 'http', port: 3000, path: '/healthz', interval: '1s', timeout: '2s', grace_period: '30s' },
        },
        services: [
          { internal_port: 3000, checks: [{ type: 'tcp', interval: '1s', timeout: '2s', grace_period: '1s' }] },
        ],
      }),
    })
    await startMachine(launch)
    await waitForLine(launch, /\[gateway\] ready$/)
  })

  it.runIf(namespaces)('ready: logs readiness and runs commands inside the machine', async () => {
    expect(logMessages(launch).filter((line) => /\[gateway\] ready$/.test(line))).toHaveLength(1)
    await waitForState(launch, 'started')
    const volume = launch.mounts[0]!.volumeDir
    expect(fs.readFileSync(path.join(volume, 'seed.txt'), 'utf8')).toBe('seeded')

    const result = await execOnMachine(
      launch.stateDir,
      launch.app,
      launch.machineId,
      [
        'sh',
        '-c',
        `cat /etc/openclaw/openclaw.json /etc/${HOST_ETC_DIR}/fly-test; echo " $FLY_MACHINE_ID $FLY_APP_NAME $FLY_REGION $OPENCLAW_STATE_DIR"; tee /data/written.txt >/dev/null; exit 3`,
      ],
      Buffer.from('from stdin'),
    )
    expect(result.exitCode).toBe(3)
    expect(result.stdout.toString()).toBe(
      '{ gateway: { mode: "local" } }+inside 148ed193b95389 my-openclaw iad /data\n',
    )
    expect(fs.readFileSync(path.join(volume, 'written.txt'), 'utf8')).toBe('from stdin')
    // The config file sits in the machine's own root, not on the host.
    expect(fs.existsSync('/etc/openclaw/openclaw.json')).toBe(false)
    expect(fs.existsSync(`/etc/${HOST_ETC_DIR}/fly-test`)).toBe(false)
  })

  it('ready: passes the tcp check, and an HTTP check on another path passes with its answer', async () => {
    const check = (name: string) => runtimeOf(launch).checks?.find((c) => c.name === name && c.status === 'passing')
    await waitFor('a passing tcp check', () => check('servicecheck-00-tcp-3000'))
    const http = await waitFor('a passing HTTP check', () => check('gateway'))
    expect(http.output).toBe('HTTP GET http://172.19.0.2:3000/healthz: 200 OK Output: {"ok":true,"status":"live"}')
  })

  it('counts user restarts apart from starts, and each restart boots a fresh process', async () => {
    const readyLines = () => logMessages(launch).filter((line) => line.endsWith('[gateway] ready')).length
    await waitFor('the first boot', () => readyLines() === 1)
    const firstPid = runtimeOf(launch).pid
    expect(firstPid).toBeGreaterThan(0)
    await restartMachine(launch)
    await waitFor('the second boot', () => readyLines() === 2)
    await restartMachine(launch)
    await waitFor('the third boot', () => readyLines() === 3)
    expect(isRunning(firstPid!)).toBe(false)
    expect(counters(launch.stateDir)).toEqual({ machineStarts: 1, machineRestarts: 2, crashRestarts: 0 })
    expect(runtimeOf(launch).events.filter((e) => e.type === 'restart' && e.source === 'user')).toHaveLength(2)
    // The gateway exited on SIGTERM before each restart (graceful stop).
    expect(
      logMessages(launch).filter((line) => line.endsWith('[gateway] received SIGTERM; shutting down')),
    ).toHaveLength(2)
  })

  it.runIf(namespaces)('stopMachine ends the whole tree', async () => {
    await waitForLine(launch, /\[gateway\] ready$/)
    const pids = machineProcesses(launch)
    expect(pids.length).toBeGreaterThanOrEqual(3) // supervisor, unshare, pid 1, gateway
    await stopMachine(launch.stateDir, launch.app, launch.machineId)
    expect(pids.filter(isRunning)).toEqual([])
  })
})

describe('fake gateway scenarios', () => {
  it('ready-legacy: prints the listening line with the bind host and port', async () => {
    const launch = launchFor(freshStateDir(), {
      workload: 'fake-gateway:ready-legacy',
      cmd: ['node', 'dist/index.js', 'gateway', '--port', '3123', '--bind', 'lan'],
    })
    await startMachine(launch)
    expect(await waitForLine(launch, /\[gateway\] listening on ws:/)).toMatch(
      /\[gateway\] listening on ws:\/\/0\.0\.0\.0:3123 \(PID \d+\)$/,
    )
  })

  it('loopback: ready, but the tcp check fails and there is no non-loopback warning', async () => {
    const launch = launchFor(freshStateDir(), { workload: 'fake-gateway:loopback' })
    await startMachine(launch)
    await waitForLine(launch, /\[gateway\] ready$/)
    const check = await waitFor('a tcp check', () => runtimeOf(launch).checks?.[0])
    expect(check).toMatchObject({
      name: 'servicecheck-00-tcp-3000',
      status: 'critical',
      output: expect.stringContaining('connection refused'),
    })
    expect(logMessages(launch).some((line) => line.includes('non-loopback'))).toBe(false)
  })

  it('startup-stuck: an HTTP check on /startupz reports nothing within its grace period, then critical with the answer', async () => {
    const checks = checkSpecs({
      checks: {
        gateway: {
          type: 'http',
          port: 3000,
          method: 'GET',
          path: '/startupz',
          interval: '1s',
          timeout: '2s',
          grace_period: '4s',
        },
      },
    })
    const launch = launchFor(freshStateDir(), { workload: 'fake-gateway:startup-stuck', checks })
    await startMachine(launch)
    await waitForLine(launch, /\[gateway\] ready$/)
    // Failing inside the grace period: nothing published yet (fly-go MachineCheck.GracePeriod).
    expect(runtimeOf(launch).checks ?? []).toEqual([])
    const check = await waitFor('a critical check', () =>
      runtimeOf(launch).checks?.find((c) => c.status === 'critical'),
    )
    expect(check).toMatchObject({
      name: 'gateway',
      output:
        'HTTP GET http://172.19.0.2:3000/startupz: 503 Service Unavailable Output: {"ok":false,"status":"starting"}',
    })
    expect(check.updated_at).toMatch(/^\d{4}-\d\d-\d\dT/)
  })

  it.each([
    ['no-auth', /Refusing to bind gateway to lan without auth\./, 78],
    ['lock', /gateway already running \(pid \d+\); lock timeout after 5000ms/, 1],
    ['oom', /Runtime_AllocateInYoungGeneration/, 134],
  ])('%s: prints the failure and exits', async (scenario, line, exitCode) => {
    const launch = launchFor(freshStateDir(), { workload: `fake-gateway:${scenario}` })
    await startMachine(launch)
    await waitForState(launch, 'stopped')
    expect(logMessages(launch).some((message) => line.test(message))).toBe(true)
    expect(
      runtimeOf(launch)
        .events.filter((e) => e.type === 'exit')
        .map((e) => e.exitCode),
    ).toEqual([exitCode])
  })

  it('memory-hog: the emulated kernel OOM killer stops the machine at its memory size', async () => {
    const launch = launchFor(freshStateDir(), { workload: 'fake-gateway:memory-hog', memoryMb: 256 })
    await startMachine(launch)
    await waitForState(launch, 'stopped')
    expect(logMessages(launch).some((line) => /Out of memory: Killed process \d+ \(node\)/.test(line))).toBe(true)
    const events = runtimeOf(launch).events
    expect(events.find((e) => e.type === 'oom')).toMatchObject({ status: 'stopped', exitCode: 137 })
    expect(events.find((e) => e.type === 'exit')).toMatchObject({ exitCode: 137 })
  })
})

describe('restart policy, counters and faults', () => {
  it('crash-loops with backoff up to maxRetries, then stays stopped', async () => {
    const stateDir = freshStateDir()
    const launch = launchFor(stateDir, {
      workload: 'fake-gateway:crash',
      restart: { policy: 'on-failure', maxRetries: 2 },
    })
    await startMachine(launch)
    await waitFor('three exits', () => runtimeOf(launch).events.filter((e) => e.type === 'exit').length === 3)
    await waitForState(launch, 'stopped')
    const events = runtimeOf(launch).events
    expect(events.filter((e) => e.type === 'restart' && e.source === 'flyd')).toHaveLength(2)
    expect(events.filter((e) => e.type === 'exit').map((e) => e.exitCode)).toEqual([1, 1, 1])
    // The crash scenario's failure, printed at each start.
    expect(logMessages(launch).filter((line) => /Error: fake gateway crashed during startup/.test(line))).toHaveLength(
      3,
    )
    expect(counters(stateDir)).toEqual({ machineStarts: 1, machineRestarts: 0, crashRestarts: 2 })
  })

  it("policy 'no' does not restart a crashed machine", async () => {
    const launch = launchFor(freshStateDir(), { workload: 'fake-gateway:crash', restart: { policy: 'no' } })
    await startMachine(launch)
    await waitForState(launch, 'stopped')
    expect(runtimeOf(launch).events.filter((e) => e.type === 'restart')).toHaveLength(0)
  })

  it('machineNeverStarts keeps the machine in starting with no workload', async () => {
    const stateDir = freshStateDir()
    fs.writeFileSync(path.join(stateDir, 'faults.json'), JSON.stringify({ machineNeverStarts: true }))
    const launch = launchFor(stateDir)
    await startMachine(launch)
    await waitFor('the supervisor to record itself', () =>
      fs
        .readFileSync(path.join(stateDir, 'apps', launch.app, 'machines', launch.machineId, 'runtime.json'), 'utf8')
        .includes('supervisorPid'),
    )
    expect(runtimeOf(launch).state).toBe('starting')
    expect(logMessages(launch)).toEqual([])
    await stopMachine(stateDir, launch.app, launch.machineId)
    expect(runtimeOf(launch).state).toBe('stopped')
  })

  it('restartLatencyMs delays the boot but the machine still starts', async () => {
    const stateDir = freshStateDir()
    fs.writeFileSync(path.join(stateDir, 'faults.json'), JSON.stringify({ restartLatencyMs: 300 }))
    const launch = launchFor(stateDir)
    await startMachine(launch)
    expect(runtimeOf(launch).state).toBe('starting')
    await waitForLine(launch, /\[gateway\] ready$/)
  })
})

describe('stopping leaves no process behind', () => {
  // stopMachine's case ends the shared ready machine (describe 'a ready machine' above).
  it('stopAll kills every machine of the state root', async () => {
    const stateDir = freshStateDir()
    const first = launchFor(stateDir, { machineId: 'aaaaaaaaaaaaaa' })
    const second = launchFor(stateDir, { machineId: 'bbbbbbbbbbbbbb', app: 'other-app' })
    await Promise.all([startMachine(first), startMachine(second)])
    await Promise.all([waitForLine(first, /\[gateway\] ready$/), waitForLine(second, /\[gateway\] ready$/)])
    const pids = [...machineProcesses(first), ...machineProcesses(second)]
    await stopAll(stateDir)
    expect(pids.filter(isRunning)).toEqual([])
    expect([runtimeOf(first).state, runtimeOf(second).state]).toEqual(['stopped', 'stopped'])
  })
})

describe('path-mapping fallback (no namespaces)', () => {
  it('maps the volume, [[files]] and env paths onto host directories', async () => {
    const previous = process.env.FLY_STANDIN_ISOLATION
    process.env.FLY_STANDIN_ISOLATION = 'paths'
    try {
      const stateDir = freshStateDir()
      const launch = launchFor(stateDir, {
        workload: 'fake-gateway:invalid-config',
        env: { OPENCLAW_STATE_DIR: '/data', OPENCLAW_CONFIG_PATH: '/etc/openclaw/openclaw.json' },
        files: [{ guest_path: '/etc/openclaw/openclaw.json', raw_value: base64('{}') }],
      })
      await startMachine(launch)
      await waitForState(launch, 'stopped')
      const mapped = path.join(
        stateDir,
        'apps',
        launch.app,
        'machines',
        launch.machineId,
        'rootfs',
        'etc',
        'openclaw',
        'openclaw.json',
      )
      expect(fs.readFileSync(mapped, 'utf8')).toBe('{}')
      // The invalid-config scenario prints the failure with the path the gateway was given, and exits 78.
      expect(logMessages(launch).some((line) => line.includes(`Invalid config at ${mapped}:`))).toBe(true)
      expect(
        runtimeOf(launch)
          .events.filter((e) => e.type === 'exit')
          .map((e) => e.exitCode),
      ).toEqual([78])
    } finally {
      if (previous === undefined) delete process.env.FLY_STANDIN_ISOLATION
      else process.env.FLY_STANDIN_ISOLATION = previous
    }
  })
})
