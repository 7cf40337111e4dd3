// The pipeline's single cases on the fake gateway, part two of e2e-pipeline.test.ts,
// whose header says how these tests judge a run; both share test/support/pipeline-e2e.ts.
import { describe, expect, it } from 'vitest'
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
  flyctl,
  gatewayProcess,
  liveMachines,
  mutating,
  OPENAI_KEY,
  runStep,
  sha256,
  summaryRow,
} from '../support/pipeline-e2e.ts'
import { GATEWAY_TOKEN } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

useWorlds()

describe('the pipeline on the fake gateway', () => {
  it(
    'a private deployment deploys without public IPs, releases the public ones and keeps a private v6',
    async () => {
      const world = await newWorld(FAKE, 'e2e-pipeline-')
      const publicRun = await runStep(world, baseInputs())
      expectSuccess(publicRun.result)
      const publicIps = (await readState(world.state)).apps[APP]?.ips ?? []
      // The stand-in's first public deploy allocates a dedicated v6 and a shared v4, as flyctl does.
      expect(publicIps.map((ip) => ip.Type).sort()).toEqual(['shared_v4', 'v6'])

      const { result, calls: journal } = await runStep(world, { ...baseInputs(), private: 'true' })
      expectSuccess(result)

      const deploys = calls(journal, 'deploy')
      expect(deploys).toHaveLength(1)
      expect(deploys[0]?.argv).toContain('--no-public-ips')
      // Every public address released, by address; then one private v6.
      expect(
        calls(journal, 'ips release')
          .map((e) => e.argv[2])
          .sort(),
      ).toEqual(publicIps.map((ip) => ip.Address).sort())
      expect(calls(journal, 'ips allocate-v6').map((e) => e.argv)).toEqual([
        ['ips', 'allocate-v6', '--private', '--app', APP],
      ])
      const order = journal.map(commandOf)
      expect(order.indexOf('deploy')).toBeLessThan(order.indexOf('ips release'))

      // What a user sees afterwards with `fly ips list`.
      const listed = flyctl(world, ['ips', 'list', '--app', APP, '--json'])
      expect(listed.status, listed.stderr).toBe(0)
      const ips = JSON.parse(listed.stdout) as Array<{ Type: string; Address: string }>
      expect(ips.length).toBeGreaterThan(0)
      expect(ips.map((ip) => ip.Type)).toEqual(ips.map(() => 'private_v6'))

      expect(result.outputs['app-url']).toBe('')
      expect(summaryRow(result.summary, 'URL')).toContain('none (private deployment')
      // List items escape markdown: shared_v4 reads shared\_v4.
      for (const ip of publicIps)
        expect(result.summary).toContain(`released ${ip.Type.replace('_', '\\_')} <code>${ip.Address}</code>`)
      expect(result.summary).toMatch(/- allocated private\\_v6 <code>[0-9a-f:]+<\/code>/)
    },
    FAKE_TIMEOUT,
  )

  it(
    'a multi-line secret named in `secrets` reaches the gateway process intact, from the step env',
    async () => {
      const world = await newWorld(FAKE, 'e2e-pipeline-')
      // An SSH key shape: quotes, # and = inside, an indented line, a trailing newline.
      const key = [
        '-----BEGIN OPENSSH PRIVATE KEY-----',
        'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
        `  indented "quoted" line with a # hash, 'single' quotes and k=v`,
        'QyNTUxOQAAACDe2Rz0Vb1yH3nq9u2Uu1s7Qf3gA2oQmSx0m7k1zB2cAAAAJh4p1sOeKdb',
        '-----END OPENSSH PRIVATE KEY-----',
        '',
      ].join('\n')
      const inputs = { ...baseInputs(), secrets: 'DEPLOY_SSH_KEY\nOPENCLAW_CUSTOM_NOTE=plain value' }
      const { result, calls: journal } = await runStep(world, inputs, { DEPLOY_SSH_KEY: key })
      expectSuccess(result)
      expect(result.outputs['secrets-synced']).toBe('DEPLOY_SSH_KEY,OPENCLAW_CUSTOM_NOTE,OPENCLAW_GATEWAY_TOKEN')
      expect(calls(journal, 'secrets import')[0]?.stdin).toBe(true)
      expectNoValues(journal, result, [key, GATEWAY_TOKEN])

      const [machine] = await liveMachines(world)
      const gateway = gatewayProcess(world, machine as string)
      expect(gateway.env.has('DEPLOY_SSH_KEY')).toBe(true)
      expect(sha256(gateway.env.get('DEPLOY_SSH_KEY') ?? '')).toBe(sha256(key))
      expect(sha256(gateway.env.get('OPENCLAW_CUSTOM_NOTE') ?? '')).toBe(sha256('plain value'))
      expect(sha256(gateway.env.get('OPENCLAW_GATEWAY_TOKEN') ?? '')).toBe(sha256(GATEWAY_TOKEN))
    },
    FAKE_TIMEOUT,
  )

  it(
    'prune-secrets: true unsets (staged) a name outside the synced set; without it nothing is unset',
    async () => {
      const world = await newWorld(FAKE, 'e2e-pipeline-')
      const seeded = await runStep(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1, OPENAI_API_KEY: OPENAI_KEY }))
      expectSuccess(seeded.result)
      const names = async (): Promise<string[]> =>
        Object.keys((await readState(world.state)).apps[APP]?.secrets ?? {}).sort()
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])

      // OPENAI_API_KEY left out of the repository's secrets, prune-secrets off: it stays.
      const kept = await runStep(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }))
      expectSuccess(kept.result)
      expect(calls(kept.calls, 'secrets unset')).toEqual([])
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expect(kept.result.summary).not.toContain('Pruned:')

      // prune-secrets on: that one name is unset, staged, before the deploy that applies it.
      const pruned = await runStep(world, {
        ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }),
        'prune-secrets': 'true',
      })
      expectSuccess(pruned.result)
      expect(calls(pruned.calls, 'secrets unset').map((e) => e.argv)).toEqual([
        ['secrets', 'unset', '--stage', '--app', APP, 'OPENAI_API_KEY'],
      ])
      const order = pruned.calls.map(commandOf)
      expect(order.indexOf('secrets unset')).toBeLessThan(order.indexOf('deploy'))
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expect(pruned.result.outputs['secrets-synced']).toBe('ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN')
      expect(pruned.result.summary).toContain('Pruned: <code>OPENAI_API_KEY</code>')

      // The deploy's rollout applied the removal: the gateway no longer has it.
      const [machine] = await liveMachines(world)
      const gateway = gatewayProcess(world, machine as string)
      expect(gateway.env.has('OPENAI_API_KEY')).toBe(false)
      expect(gateway.env.has('ANTHROPIC_API_KEY')).toBe(true)
    },
    FAKE_TIMEOUT,
  )

  it(
    'create: false with a missing app fails, names the app and `fly apps create`, and changes nothing',
    async () => {
      const world = await newWorld(FAKE, 'e2e-pipeline-')
      const { result, calls: journal } = await runStep(world, { ...baseInputs(), create: 'false' })
      expect(result.exitCode, tail(result)).toBe(1)
      const error = result.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? ''
      expect(error).toContain(`the app ${APP} does not exist`)
      expect(error).toContain(`fly apps create ${APP} --org personal`)
      expect(error).toContain('create')

      expect(journal.length).toBeGreaterThan(0)
      expect(mutating(journal)).toEqual([])
      expect((await readState(world.state)).apps[APP]).toBeUndefined()
      expect(await readCounters(world.state)).toEqual({ machineStarts: 0, machineRestarts: 0, crashRestarts: 0 })
      expect(result.summary).toContain(`## ❌ Deploy of <code>${APP}</code> failed`)
      expect(result.summary).toContain('In the <code>ensure</code> stage.')
      expect(result.summary).toContain('Nothing had been changed on Fly.')
    },
    FAKE_TIMEOUT,
  )

  it(
    'a dry run only reads, before and after the app exists, and shows the plan in the summary',
    async () => {
      const world = await newWorld(FAKE, 'e2e-pipeline-')

      // Before the app exists: the plan says what would be created.
      const fresh = await runStep(world, { ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }), 'dry-run': 'true' })
      expect(fresh.result.exitCode, tail(fresh.result)).toBe(0)
      expect(mutating(fresh.calls)).toEqual([])
      expect((await readState(world.state)).apps[APP]).toBeUndefined()
      expect(fresh.result.summary).toContain('🧪 Dry run for')
      expect(fresh.result.summary).toContain('### Plan')
      expect(fresh.result.summary).toMatch(
        new RegExp(`^\\| Create \\| app ${APP} in org personal, volume openclaw\\\\_data \\(1 GB, iad\\) \\|$`, 'm'),
      )
      expect(fresh.result.summary).toMatch(
        /^\| Secrets to add \| <code>ANTHROPIC_API_KEY<\/code>, <code>OPENCLAW_GATEWAY_TOKEN<\/code> \|$/m,
      )
      expect(fresh.result.summary).toMatch(
        new RegExp(`^\\| Deploy \\| <code>flyctl deploy .*--app ${APP} .*</code> \\|$`, 'm'),
      )
      expect(fresh.result.outputs.health).toBe('skipped')
      expect(fresh.result.outputs['secrets-synced']).toBe('')

      // After a deploy: a dry run of a push with changes plans them and changes nothing.
      const deployed = await runStep(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }))
      expectSuccess(deployed.result)
      const countersBefore = await readCounters(world.state)
      const stateBefore = (await readState(world.state)).apps[APP]
      const override = 'node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan --verbose'
      const dry = await runStep(world, {
        ...baseInputs({ OPENAI_API_KEY: OPENAI_KEY }),
        'prune-secrets': 'true',
        'machine-command': override,
        private: 'true',
        'dry-run': 'true',
      })
      expect(dry.result.exitCode, tail(dry.result)).toBe(0)
      expect(mutating(dry.calls)).toEqual([])
      // The volume needs no `volumes list`: the app's machine mounts it (status --json shows it).
      expect(dry.calls.map(commandOf)).toEqual(expect.arrayContaining(['status', 'secrets list', 'ips list']))
      expect(dry.calls.map(commandOf)).not.toContain('volumes list')
      expect(await readCounters(world.state)).toEqual(countersBefore)
      const stateAfter = (await readState(world.state)).apps[APP]
      expect(stateAfter?.releases.length).toBe(stateBefore?.releases.length)
      expect(Object.keys(stateAfter?.secrets ?? {}).sort()).toEqual(Object.keys(stateBefore?.secrets ?? {}).sort())
      expect(stateAfter?.ips).toEqual(stateBefore?.ips)

      const summary = dry.result.summary
      expect(summary).toMatch(/^\| Create \| none \|$/m)
      expect(summary).toMatch(/^\| Secrets to add \| <code>OPENAI_API_KEY<\/code> \|$/m)
      expect(summary).toMatch(/^\| Secrets to re-import \| <code>OPENCLAW_GATEWAY_TOKEN<\/code> \|$/m)
      expect(summary).toMatch(/^\| Secrets to prune \| <code>ANTHROPIC_API_KEY<\/code> \|$/m)
      expect(summary).toMatch(/^\| Deploy \| <code>flyctl deploy .*--no-public-ips.*<\/code> \|$/m)
      expect(summary).toContain(`| Overrides | command: ${override} |`)
      // Table cells escape markdown: shared_v4 reads shared\_v4.
      for (const ip of stateBefore?.ips ?? [])
        expect(summary).toContain(`released ${ip.Type.replace('_', '\\_')} ${ip.Address}`)
      expect(summary).toContain('allocated private\\_v6 (new)')
      expect(dry.result.outputs['release-version']).toBe('')
    },
    FAKE_TIMEOUT,
  )
})

// --- 8: the key one, on the real gateway ----------------------------------------------------
