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
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { setupStandinRuntimes } from '../../../scripts/standin-setup.ts'
import { execOnMachine, startMachine, stopMachine } from '../../../standin/machines/runtime.ts'
import { detectIsolation } from '../../../standin/machines/isolation.ts'
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
import { LEGACY_OPENCLAW_VERSION, isOpenclawInstalled } from '../../../standin/machines/install-runtimes.ts'

const REAL_VERSION = '2026.9.6'
// Bounds, not speeds: a real gateway starts in 6 to 40 s, slower on a busy machine (two test files
// at once, other work); `npm run bench` measures speed.
const REAL_WAIT = 300_000
const REAL_TIMEOUT = 600_000

beforeAll(async () => {
  await setupStandinRuntimes([REAL_VERSION], () => {})
}, 600_000)

useMachineStateDirs()

describe('the real gateway in a machine', () => {
  it(
    `reaches [gateway] ready on ${REAL_VERSION} with its state on the volume and its config from [[files]]`,
    async () => {
      const stateDir = freshStateDir()
      const config = '{ gateway: { mode: "local", controlUi: { allowedOrigins: ["https://my-openclaw.fly.dev"] } } }'
      const launch = launchFor(stateDir, {
        workload: `openclaw@${REAL_VERSION}`,
        env: {
          NODE_ENV: 'production',
          OPENCLAW_STATE_DIR: '/data',
          OPENCLAW_CONFIG_PATH: '/etc/openclaw/openclaw.json',
          NODE_OPTIONS: '--max-old-space-size=1536',
          OPENCLAW_GATEWAY_TOKEN: 'test-token-not-secret',
        },
        files: [{ guest_path: '/etc/openclaw/openclaw.json', raw_value: base64(config) }],
        // The stop below expects the gateway's clean exit. 2026.9.6 drains the work in flight before
        // it exits (its own stop budget is 330 s), and just after `ready` it has startup work in
        // flight: about 2 s on an idle host, past Fly's default 5 s kill_timeout on a busy one,
        // which then kills it (init: "Main child exited with signal (with signal 'SIGKILL' ...").
        // A gateway given a longer kill_timeout, as a user's fly.toml may, gets its clean exit.
        killTimeoutMs: 120_000,
      })
      // A second machine with an unknown key in the same delivered file proves the file is read.
      const invalidStateDir = freshStateDir()
      const invalid = launchFor(invalidStateDir, {
        workload: launch.workload,
        env: launch.env,
        files: [
          {
            guest_path: '/etc/openclaw/openclaw.json',
            raw_value: base64('{ gateway: { mode: "local", bogusKey: 1 } }'),
          },
        ],
      })
      await Promise.all([startMachine(launch), startMachine(invalid)])

      await waitForLine(launch, /\[gateway\] ready$/, REAL_WAIT)
      const volume = launch.mounts[0]!.volumeDir
      // Written by the gateway to OPENCLAW_STATE_DIR=/data: it must be in the volume directory.
      // The lock tree is named by the gateway's uid: 0 in a machine's namespaces (as on Fly), the
      // test's own uid when machines fall back to path mapping.
      const guestUid = detectIsolation(invalidStateDir) === 'namespace' ? 0 : process.getuid?.()
      expect(fs.existsSync(path.join(volume, 'tmp', `openclaw-${guestUid}`, 'gateway.state.lock'))).toBe(true)
      // The allowed origin came from the config file, so the gateway did not seed its own.
      expect(logMessages(launch).some((line) => line.includes('seeded gateway.controlUi.allowedOrigins'))).toBe(false)
      expect(logMessages(launch).some((line) => line.includes('Gateway is binding to a non-loopback address'))).toBe(
        true,
      )
      const healthz = await execOnMachine(
        stateDir,
        launch.app,
        launch.machineId,
        ['node', '-e', 'fetch("http://127.0.0.1:3000/healthz").then((r) => r.text()).then(console.log)'],
        null,
      )
      expect(healthz.exitCode).toBe(0)
      expect(JSON.parse(healthz.stdout.toString())).toEqual({ ok: true, status: 'live' })
      await waitFor('a passing tcp check', () => runtimeOf(launch).checks?.[0]?.status === 'passing')

      await waitForLine(invalid, /Invalid config at \/etc\/openclaw\/openclaw\.json/, REAL_WAIT)
      await waitForState(invalid, 'stopped')
      expect(logMessages(invalid).join('\n')).toContain('Unrecognized key: "bogusKey"')
      expect(
        runtimeOf(invalid)
          .events.filter((e) => e.type === 'exit')
          .map((e) => e.exitCode),
      ).toEqual([78])

      await stopMachine(stateDir, launch.app, launch.machineId)
      expect(runtimeOf(launch).state).toBe('stopped')
      expect(logMessages(launch)).toContain('INFO Main child exited normally with code: 0')
    },
    REAL_TIMEOUT,
  )

  // Installed by `npm run standin:setup`; not by this file's beforeAll, to keep it quick.
  it.runIf(isOpenclawInstalled(LEGACY_OPENCLAW_VERSION))(
    `prints the listening line on ${LEGACY_OPENCLAW_VERSION}`,
    async () => {
      const launch = launchFor(freshStateDir(), {
        workload: `openclaw@${LEGACY_OPENCLAW_VERSION}`,
        // 2026.2.26 to 2026.5 crash on a public bind without allowed origins (openclaw issue #71823).
        env: {
          OPENCLAW_STATE_DIR: '/data',
          OPENCLAW_CONFIG_PATH: '/etc/openclaw/openclaw.json',
          OPENCLAW_GATEWAY_TOKEN: 'test-token-not-secret',
        },
        files: [
          {
            guest_path: '/etc/openclaw/openclaw.json',
            raw_value: base64(
              '{ gateway: { mode: "local", controlUi: { allowedOrigins: ["https://my-openclaw.fly.dev"] } } }',
            ),
          },
        ],
      })
      await startMachine(launch)
      expect(await waitForLine(launch, /\[gateway\] listening on ws:/, REAL_WAIT)).toMatch(
        /\[gateway\] listening on ws:\/\/0\.0\.0\.0:3000 \(PID \d+\)$/,
      )
    },
    REAL_TIMEOUT,
  )

  it(
    'aborts with V8 heap exhaustion under a tiny --max-old-space-size',
    async () => {
      const launch = launchFor(freshStateDir(), {
        workload: `openclaw@${REAL_VERSION}`,
        env: {
          OPENCLAW_STATE_DIR: '/data',
          NODE_OPTIONS: '--max-old-space-size=48',
          OPENCLAW_GATEWAY_TOKEN: 'test-token-not-secret',
        },
      })
      await startMachine(launch)
      await waitForState(launch, 'stopped', REAL_WAIT)
      expect(logMessages(launch).join('\n')).toContain('JavaScript heap out of memory')
      expect(runtimeOf(launch).events.find((e) => e.type === 'exit')?.exitCode).toBe(134)
    },
    REAL_TIMEOUT,
  )
})
