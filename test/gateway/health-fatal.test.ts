import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readJournal, readState } from '../../standin/platform/inspect.ts'
import { command, expectDecidedByFatalLine, REAL, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { writeDockerfile } from '../support/standin.js'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

/**
 * The health gate end to end, part two: the real gateway's fatal lines through dist/index.js, each with
 * health-timeout 300 and a verdict that names the logged cause, not the timeout. The header of
 * test/e2e/health.test.ts says why the real gateway and what the fake one plays.
 */
useWorlds()

describe('health gate end to end, real gateway, fatal lines', () => {
  it(
    'a lan bind without usable auth: the gateway refuses "Refusing to bind gateway to lan without auth"',
    async () => {
      // The honest path past validation: the token secret IS synced (validation checks names), but
      // its value is only whitespace, which the gateway trims to nothing (openclaw dist/run-*.mjs:
      // `hasToken = tokenValue.trim().length > 0`), so at run time it has no auth. A tab: values of
      // three or more characters are masked in every log line, and a run of spaces would be.
      // A missing token is refused before deploy by validation (test/unit/config/guide-rules.test.ts).
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({
        app: 'health-no-auth',
        'secrets-json': JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: '\t' }),
        'health-timeout': '300',
      })
      expect(result.outputs['secrets-synced']).toBe('OPENCLAW_GATEWAY_TOKEN')
      const error = expectDecidedByFatalLine(result, /the gateway refused a non-loopback bind without auth/)
      expect(error).toMatch(/the gateway logged: .*Refusing to bind gateway to lan without auth/)
      // No assertion on init's "Main child exited" line: the verdict comes from the fatal line, which
      // the gateway logs before it exits, so whether the exit line is among the evidence is a race.
      expect(error).toMatch(/Fix: .*OPENCLAW_GATEWAY_TOKEN/)
    },
    TIMEOUT,
  )

  it(
    "an openclaw.json key the gateway's strict schema refuses: unhealthy naming the invalid config; a first release has nothing to roll back to",
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      // Our check reads only the keys the deployment depends on; the gateway's zod schema is strict.
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'openclaw.json'),
        '{\n  gateway: { mode: "local", controlUi: { allowedOrigins: ["https://health-invalid.fly.dev"] }, bogusKey: true },\n}\n',
      )
      const result = await w.run({
        app: 'health-invalid',
        secrets: TOKEN_SECRET,
        'gateway-config': 'openclaw.json',
        'health-timeout': '300',
      })
      const error = expectDecidedByFatalLine(result, /the gateway config is invalid or missing/)
      // The config is delivered with the release (src/config/gateway-config.ts GATEWAY_CONFIG_GUEST_PATH).
      expect(error).toMatch(/Invalid config at \/etc\/openclaw\/openclaw\.json/)
      expect(error).toMatch(/Unrecognized key: "bogusKey"/)
      expect(error).toMatch(/Fix: Fix openclaw\.json \(the `gateway-config` input/)
      expect(result.outputs['rolled-back']).toBe('false')
      expect(error).toMatch(
        /Not rolled back: release v1 is the app's first release: there is nothing to roll back to\./,
      )
      expect(result.summary).toMatch(/Not rolled back: release v1 is the app's first release/)
      expect((await readJournal(w.state)).map(command).filter((c) => /^deploy\b/.test(c))).toHaveLength(1)
    },
    TIMEOUT,
  )

  it(
    'out of memory: a gateway given too small a heap is unhealthy, and the fix raises the heap, not the VM',
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({
        app: 'health-oom',
        secrets: TOKEN_SECRET,
        env: 'NODE_OPTIONS=--max-old-space-size=48',
        'health-timeout': '300',
      })
      const error = expectDecidedByFatalLine(result, /the gateway ran out of memory/)
      expect(error).toMatch(/JavaScript heap out of memory/)
      // 2048 MB machine, 48 MB heap cap: the cap ran out (src/health/verdict.ts outOfMemoryFix).
      expect(error).toMatch(
        /Fix: The gateway's V8 heap was capped at 48 MB .* on a machine with 2048 MB: the cap, not the VM, ran out\. Raise it to NODE_OPTIONS=--max-old-space-size=1536/,
      )
    },
    TIMEOUT,
  )

  it(
    'rollback: a broken release after a healthy one fails the step, and the previous image serves again, gated healthy',
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const app = 'health-rollback'
      const first = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(first.exitCode, tail(first)).toBe(0)
      expect(first.outputs).toMatchObject({ health: 'healthy', 'release-version': '1' })
      const goodImage = first.outputs.image!
      expect(goodImage).toMatch(/^registry\.fly\.io\/health-rollback:deployment-/)

      // The next push ships an image whose gateway crashes on start (the fake: the rollback is the
      // action's behaviour; the release it brings back runs the real gateway again).
      writeDockerfile(w.dirs, 'fake-gateway:crash')
      const second = await w.run({ app, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      const error = expectDecidedByFatalLine(second, /Release v2|the gateway process exited/)
      expect(error).toMatch(
        /Health gate: the gateway process exited on machine \w+: the gateway process exited \(exit code 1\)/,
      )
      expect(second.outputs['rolled-back']).toBe('true')
      expect(second.outputs.health).toBe('unhealthy')
      // docs/CONTRACT.md, "Outputs": after a rollback, `image` (like release-version) describes what serves.
      expect(second.outputs.image).toBe(goodImage)
      expect(second.outputs['release-version']).toBe('3')
      // v3 is the rollback deploy of v1's image, and it is gated healthy.
      expect(error).toMatch(
        new RegExp(
          `Rolled back: release v3 \\(the image of v1, ${goodImage.replace(/[.]/g, '\\.')}\\) is now serving\\.`,
        ),
      )
      expect(second.summary).toMatch(/Release v2 is unhealthy: the gateway process exited/)
      expect(second.summary).toMatch(/Rolled back: release v3 \(the image of v1, .*\) is now serving and healthy\./)

      const deploys = (await readJournal(w.state)).map(command).filter((c) => /^deploy\b/.test(c))
      expect(deploys).toHaveLength(3)
      expect(deploys[2]).toContain(`--image ${goodImage}`)
      const machines = (await readState(w.state)).apps[app]!.machines.filter((m) => !m.destroyed)
      expect(machines.map((m) => m.config.image)).toEqual([goodImage])
    },
    TIMEOUT,
  )
})
