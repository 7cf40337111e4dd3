// The whole pipeline end to end: dist/index.js run as a GitHub runner runs it, against
// the flyctl stand-in (standin/README.md), judged by what the stand-in recorded: its journal
// (every flyctl call's argv and whether it read stdin), its counters (machine starts and
// restarts) and its platform state, and by looking inside the machines it runs.
//
// The action's own behaviour (which calls, in which order, what it reports) runs on the fast
// fake gateway (`fake-gateway:ready`). The last block runs the REAL gateway (openclaw 2026.9.6),
// because there the question is the gateway's: does it start with the delivered config, the
// override command and the new secret, after exactly one restart.
//
// Secret values are never printed: they are compared by SHA-256 only, so a failing assertion
// shows digests, not values.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { setupStandinRuntimes } from '../../scripts/standin-setup.ts'
import { readCounters } from '../../standin/platform/inspect.ts'
import { execOnMachine } from '../../standin/machines/runtime.ts'
import { DEFAULT_OPENCLAW_VERSION } from '../../standin/machines/install-runtimes.ts'
import {
  ANTHROPIC_V1,
  ANTHROPIC_V2,
  APP,
  baseInputs,
  calls,
  expectNoValues,
  expectSuccess,
  gatewayProcess,
  liveMachines,
  mutating,
  REAL_HEALTH_TIMEOUT,
  REAL_TIMEOUT,
  runStep,
  sha256,
} from '../support/pipeline-e2e.ts'
import { API_TOKEN, GATEWAY_TOKEN, type StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'

useWorlds()

describe('one push that changes secrets, the gateway config and the machine command (real gateway)', () => {
  beforeAll(async () => {
    await setupStandinRuntimes([DEFAULT_OPENCLAW_VERSION], () => {})
  }, 600_000)

  const configV1 =
    '// delivered with the release\n{ gateway: { mode: "local", controlUi: { allowedOrigins: ["https://e2e-pipeline.fly.dev"] } } }\n'
  // The Control UI switched off: the gateway then answers its root path with 404, which shows the
  // running gateway (not only the file) took the new config.
  const configV2 =
    '{ gateway: { mode: "local", controlUi: { enabled: false, allowedOrigins: ["https://e2e-pipeline.fly.dev"] } } }\n'
  const defaultCommand = ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']
  const overrideCommand = [...defaultCommand, '--ws-log', 'compact']

  /** GET the gateway's own port from inside the machine (its network namespace). */
  async function status(world: StandinWorld, machineId: string, urlPath: string): Promise<number> {
    const script = `const r = await fetch('http://127.0.0.1:3000${urlPath}'); process.stdout.write(String(r.status))`
    const result = await execOnMachine(world.state, APP, machineId, ['node', '--input-type=module', '-e', script], null)
    expect(result.exitCode, result.stderr.toString()).toBe(0)
    return Number(result.stdout.toString())
  }

  async function readOnMachine(world: StandinWorld, machineId: string, guestPath: string): Promise<string> {
    const result = await execOnMachine(world.state, APP, machineId, ['cat', guestPath], null)
    expect(result.exitCode, result.stderr.toString()).toBe(0)
    return result.stdout.toString()
  }

  it(
    'restarts the machine exactly once, and it then runs the override command, the new config and secret',
    async () => {
      const world = await newWorld(`openclaw@${DEFAULT_OPENCLAW_VERSION}`, 'e2e-pipeline-')
      const configFile = path.join(world.dirs.workspace, 'openclaw.json')
      fs.writeFileSync(configFile, configV1)

      // A fresh deploy of the real gateway (issue item 1 on the real gateway).
      const first = await runStep(world, {
        ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }),
        ...REAL_HEALTH_TIMEOUT,
        'gateway-config': 'openclaw.json',
      })
      expectSuccess(first.result)
      expect(first.result.outputs['app-url']).toBe(`https://${APP}.fly.dev/`)
      expect(first.result.outputs['release-version']).toBe('1')
      const machines = await liveMachines(world)
      expect(machines).toHaveLength(1)
      const machine = machines[0] as string
      expect(first.result.outputs['machine-ids']).toBe(machine)
      const before = gatewayProcess(world, machine)
      expect(before.argv).toEqual(defaultCommand)
      expect(before.env.get('OPENCLAW_CONFIG_PATH')).toBe('/etc/openclaw/openclaw.json')
      expect(await readOnMachine(world, machine, '/etc/openclaw/openclaw.json')).toBe(configV1)
      expect(await status(world, machine, '/healthz')).toBe(200)
      expect(await status(world, machine, '/')).not.toBe(404)
      expect(sha256(before.env.get('ANTHROPIC_API_KEY') ?? '')).toBe(sha256(ANTHROPIC_V1))
      const counters = await readCounters(world.state)

      // The push: a rotated secret, a changed openclaw.json and a machine-command override.
      fs.writeFileSync(configFile, configV2)
      const { result, calls: journal } = await runStep(world, {
        ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V2 }),
        ...REAL_HEALTH_TIMEOUT,
        'gateway-config': 'openclaw.json',
        'machine-command': overrideCommand.join(' '),
      })
      expectSuccess(result)
      expectNoValues(journal, result, [GATEWAY_TOKEN, ANTHROPIC_V2, API_TOKEN])

      // One rollout: the deploy; the secret staged, the command and config carried by the release.
      const after = await readCounters(world.state)
      expect(after.machineRestarts - counters.machineRestarts).toBe(1)
      expect(after.machineStarts).toBe(counters.machineStarts)
      expect(after.crashRestarts).toBe(0)
      expect(calls(journal, 'deploy')).toHaveLength(1)
      expect(mutating(journal).filter((c) => !/^(secrets import --stage|deploy) /.test(c))).toEqual([])
      expect(calls(journal, 'machine update')).toEqual([])
      expect(result.outputs['machine-ids']).toBe(machine)
      expect(result.outputs['release-version']).toBe('2')

      // The same machine now runs a new gateway process with the override, the new secret and config.
      const gateway = gatewayProcess(world, machine)
      expect(gateway.pid).not.toBe(before.pid)
      expect(gateway.argv).toEqual(overrideCommand)
      expect(sha256(gateway.env.get('ANTHROPIC_API_KEY') ?? '')).toBe(sha256(ANTHROPIC_V2))
      expect(
        await readOnMachine(world, machine, gateway.env.get('OPENCLAW_CONFIG_PATH') ?? '/etc/openclaw/openclaw.json'),
      ).toBe(configV2)
      expect(await status(world, machine, '/healthz')).toBe(200)
      expect(await status(world, machine, '/')).toBe(404)

      expect(result.summary).toContain(`<code>${overrideCommand.join(' ')}</code>`)
      // The deploy's own config carried the override, so no machine needed `machine update`.
      expect(result.summary).toMatch(/command: .*applied by the deploy's config; no machine had drifted afterwards/)
    },
    REAL_TIMEOUT,
  )
})
