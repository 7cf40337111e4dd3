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
import { beforeAll, describe, expect, it } from 'vitest'
import { PINNED_FLYCTL_VERSION } from '../../src/install/release-assets.js'
import { readCounters, readState } from '../../standin/platform/inspect.ts'
import {
  ANTHROPIC_V1,
  APP,
  baseInputs,
  calls,
  commandOf,
  expectNoValues,
  expectSuccess,
  FAKE,
  FAKE_TIMEOUT,
  liveMachines,
  mutating,
  runStep,
  summaryRow,
} from '../support/pipeline-e2e.ts'
import { API_TOKEN, GATEWAY_TOKEN, type StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'

useWorlds()

describe('a fresh public deploy, then the same push again (fake gateway)', () => {
  let world: StandinWorld
  let firstMachine = ''
  const inputs = baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 })

  beforeAll(async () => {
    world = await newWorld(FAKE, 'e2e-pipeline-')
  })

  it(
    'creates the app and the volume, stages the secrets on stdin, deploys once and reports it',
    async () => {
      const { result, calls: journal } = await runStep(world, inputs)
      expectSuccess(result)

      // Created, each once, as the guide does by hand.
      expect(calls(journal, 'apps create').map((e) => e.argv)).toEqual([['apps', 'create', APP, '--org', 'personal']])
      expect(calls(journal, 'volumes create').map((e) => e.argv)).toEqual([
        ['volumes', 'create', 'openclaw_data', '--size', '1', '--region', 'iad', '--app', APP, '-y'],
      ])
      const state = (await readState(world.state)).apps[APP]
      expect(state?.volumes.map((v) => [v.name, v.region, v.size_gb])).toEqual([['openclaw_data', 'iad', 1]])

      // Secrets: one staged import, values on stdin only; github_token never reaches Fly.
      const imports = calls(journal, 'secrets import')
      expect(imports).toHaveLength(1)
      expect(imports[0]?.argv).toContain('--stage')
      expect(imports[0]?.stdin).toBe(true)
      expect(Object.keys(state?.secrets ?? {}).sort()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expectNoValues(journal, result, [GATEWAY_TOKEN, ANTHROPIC_V1, API_TOKEN, 'ghs_never_synced_e2e'])

      // One deploy; created before it, secrets staged before it.
      const deploys = calls(journal, 'deploy')
      expect(deploys).toHaveLength(1)
      const order = journal.map(commandOf)
      expect(order.indexOf('apps create')).toBeLessThan(order.indexOf('secrets import'))
      expect(order.indexOf('secrets import')).toBeLessThan(order.indexOf('deploy'))
      expect(mutating(journal).filter((c) => !/^(apps create|volumes create|secrets import|deploy) /.test(c))).toEqual(
        [],
      )

      // Outputs, checked against the platform.
      const machines = await liveMachines(world)
      expect(machines).toHaveLength(1)
      firstMachine = machines[0] as string
      const release = state?.releases.at(-1)
      expect(result.outputs['app-name']).toBe(APP)
      expect(result.outputs['app-url']).toBe(`https://${APP}.fly.dev/`)
      expect(result.outputs['release-version']).toBe(String(release?.Version))
      expect(result.outputs['release-version']).toBe('1')
      expect(result.outputs.image).toBe(release?.ImageRef)
      expect(result.outputs.image).not.toBe('')
      expect(result.outputs['machine-ids']).toBe(firstMachine)
      expect(result.outputs['secrets-synced']).toBe('ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN')
      expect(result.outputs['rolled-back']).toBe('false')
      expect(result.outputs['flyctl-version']).toBe(PINNED_FLYCTL_VERSION)
      expect(fs.existsSync(result.outputs['fly-config'] ?? '')).toBe(true)
      expect(await readCounters(world.state)).toEqual({ machineStarts: 1, machineRestarts: 0, crashRestarts: 0 })

      // The job summary: app, URL, release, image, machines and a time for every stage.
      const summary = result.summary
      expect(summary).toContain(`## ✅ Deployed <code>${APP}</code>`)
      expect(summaryRow(summary, 'URL')).toContain(`https://${APP}.fly.dev/`)
      expect(summaryRow(summary, 'Release')).toContain('v1')
      expect(summaryRow(summary, 'Image')).toContain(release?.ImageRef)
      expect(summaryRow(summary, 'Health')).toMatch(/healthy/)
      expect(summary).toMatch(new RegExp(`\\| <code>${firstMachine}</code> \\| iad \\| started \\| 2048 MB \\|`))
      for (const stage of ['install', 'render', 'validate', 'ensure', 'secrets', 'deploy', 'overrides', 'health']) {
        expect(summary, `stage ${stage}`).toMatch(new RegExp(`^\\| ${stage} \\| ok \\| \\d+(\\.\\d)? (ms|s) \\|`, 'm'))
      }
      expect(summary).toMatch(/^\| harden \| skipped \|/m)
      expect(summary).toContain('<code>ANTHROPIC_API_KEY</code>, <code>OPENCLAW_GATEWAY_TOKEN</code>')
    },
    FAKE_TIMEOUT,
  )

  it(
    'the same push again creates nothing and rolls the one machine exactly once',
    async () => {
      expect(firstMachine, 'the first deploy ran').not.toBe('')
      const before = await readCounters(world.state)
      // Nothing changed since the first run: the redeploy is asked for, not left to skip-unchanged.
      const { result, calls: journal } = await runStep(world, { ...inputs, 'skip-unchanged': 'false' })
      expectSuccess(result)

      expect(calls(journal, 'apps create')).toEqual([])
      expect(calls(journal, 'volumes create')).toEqual([])
      expect(calls(journal, 'deploy')).toHaveLength(1)
      // A redeploy that changes nothing makes 8 flyctl calls or fewer, each read once:
      // status (app and machines), secrets list, secrets import, releases, deploy, logs, and the
      // machines list when flyctl says the machine took the config and once it has exited.
      expect(journal.map(commandOf).sort()).toEqual(
        [
          'deploy',
          'logs',
          'machines list',
          'machines list',
          'releases',
          'secrets import',
          'secrets list',
          'status',
        ].sort(),
      )
      // Nothing restarts a machine besides the deploy: no unstaged secret change, no machine update.
      expect(mutating(journal).filter((c) => !/^(secrets import --stage|deploy) /.test(c))).toEqual([])

      const after = await readCounters(world.state)
      expect(after.machineRestarts - before.machineRestarts).toBe(1)
      expect(after.machineStarts).toBe(before.machineStarts)
      expect(after.crashRestarts).toBe(0)

      expect(result.outputs['machine-ids']).toBe(firstMachine)
      expect(await liveMachines(world)).toEqual([firstMachine])
      expect(result.outputs['release-version']).toBe('2')
      expect((await readState(world.state)).apps[APP]?.volumes).toHaveLength(1)
      expect(result.summary).toMatch(/^\| ensure \| ok \| .* \| app and volume exist \|$/m)
    },
    FAKE_TIMEOUT,
  )
})

// --- 3-7: one world each (fake gateway) ----------------------------------------------------
