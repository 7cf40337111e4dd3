import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectDecidedByFatalLine, LEGACY, REAL, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

/**
 * End to end: the health gate through dist/index.js on the flyctl stand-in, whose machines
 * run the REAL OpenClaw gateway (openclaw@2026.9.6, and 2026.3.13 for the legacy "listening on"
 * generation) wherever the behaviour under test is the gateway's. The fake gateway plays the parts
 * the real one cannot honestly be made to play (test/e2e/health.test.ts).
 *
 * Every failing case runs with health-timeout 300: each asserts the verdict names the fatal cause
 * the gateway logged, never "not healthy within health-timeout", so the gate decided on the line
 * and not at the timeout (how fast is measured by `npm run bench`, not here).
 */
useWorlds()

describe('health gate end to end, real gateway', () => {
  it(
    'a ready 2026.9.6 gateway is healthy (exit 0)',
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({ app: 'health-ready', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs).toMatchObject({ health: 'healthy', 'rolled-back': 'false', 'release-version': '1' })
      // The evidence for 2026.4+: `[gateway] ready` after the non-loopback bind warning, port from --port.
      expect(result.summary).toMatch(
        /Release v1 is healthy: \w+: \\?\[gateway\\?\] ready after the non-loopback bind warning; port 3000/,
      )
    },
    TIMEOUT,
  )

  it(
    'a ready 2026.3 gateway is healthy on its "listening on ws://" line',
    async () => {
      const w = await newWorld(LEGACY, 'e2e-health-')
      // 2026.2.26 - 2026.5 refuse a non-loopback bind without allowed origins (openclaw issue #71823).
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'openclaw.json'),
        '{ gateway: { mode: "local", controlUi: { allowedOrigins: ["https://health-legacy.fly.dev"] } } }\n',
      )
      // The user's own /healthz check with a longer grace period than the guide's 2m. 2026.3.13
      // transpiles its TypeScript extensions (extensions/*/index.ts, with jiti) at every start whose
      // /tmp is empty, as a Fly machine's fresh rootfs is: some 40 s of CPU (measured on the 2-core
      // host, no network involved: 54 s to "listening on" with an empty TMPDIR, 9 s with jiti's cache
      // warm), so on a busy host it ran past 2m and Fly's check turned critical before the line came.
      // A slow-starting gateway given a longer grace_period is a user's legitimate choice; the
      // verdict still rests on the gateway's own listening line.
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'fly.toml'),
        'app = "health-legacy"\n\n[http_service]\ninternal_port = 3000\nforce_https = true\nauto_stop_machines = false\nmin_machines_running = 1\nprocesses = ["app"]\n\n' +
          '[[http_service.checks]]\ngrace_period = "5m"\ninterval = "15s"\nmethod = "GET"\ntimeout = "5s"\npath = "/healthz"\n',
      )
      const result = await w.run({
        app: 'health-legacy',
        config: 'fly.toml',
        secrets: TOKEN_SECRET,
        'gateway-config': 'openclaw.json',
        'health-timeout': '300',
      })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs.health).toBe('healthy')
      expect(result.summary).toMatch(/Release v1 is healthy: \w+: \\?\[gateway\\?\] listening on 0\.0\.0\.0:3000/)
    },
    TIMEOUT,
  )

  it(
    'a private loopback bind passes validation with a warning, and the gate finds it unhealthy with the fix --bind lan',
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({
        app: 'health-private-loopback',
        secrets: TOKEN_SECRET,
        private: 'true',
        bind: 'loopback',
        'health-timeout': '300',
      })
      expect(result.stdout).toMatch(/::warning .*private-loopback/)
      const error = expectDecidedByFatalLine(result, /the gateway binds loopback only/)
      expect(error).toMatch(/Fix: .*add `--bind lan` to the command \(the input `bind: lan`\)/)
      // The gateway did get ready: the verdict is about where it listens, not whether it started.
      expect(error).toMatch(/\[gateway\] ready/)
    },
    TIMEOUT,
  )
})
