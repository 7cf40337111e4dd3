// The pipeline's single cases on the fake gateway, part two of test/e2e/pipeline.test.ts, whose
// header says how these tests judge a run; both share test/support/pipeline-e2e.ts.
// One app, from missing to private, in one world: each case takes the state the one before left
// (a failed create, a dry run, the first deploy, a dry run of the next push, then that push), so
// the file pays for one first deploy rather than one per case. That prune-secrets off leaves a name
// the run no longer syncs on the app is checked in test/e2e/unchanged.test.ts, whose push drops one.
import { beforeAll, describe, expect, it } from 'vitest'
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
import { GATEWAY_TOKEN, tail, type StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'

useWorlds()

describe('the pipeline on the fake gateway: one app from missing to private', () => {
  let world: StandinWorld
  /** Set once the first deploy served: the cases after it build on its app. */
  let deployed = false
  const names = async (): Promise<string[]> =>
    Object.keys((await readState(world.state)).apps[APP]?.secrets ?? {}).sort()

  beforeAll(async () => {
    world = await newWorld(FAKE, 'e2e-pipeline-')
  })

  it(
    'create: false with a missing app fails, names the app and `fly apps create`, and changes nothing',
    async () => {
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
    'a dry run before the app exists only reads, and shows the plan of what would be created',
    async () => {
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
    },
    FAKE_TIMEOUT,
  )

  it(
    'a first public deploy: a multi-line secret named in `secrets` reaches the gateway process intact, from the step env; a dedicated v6 and a shared v4',
    async () => {
      // An SSH key shape: quotes, # and = inside, an indented line, a trailing newline.
      const key = [
        '-----BEGIN OPENSSH PRIVATE KEY-----',
        'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
        `  indented "quoted" line with a # hash, 'single' quotes and k=v`,
        'QyNTUxOQAAACDe2Rz0Vb1yH3nq9u2Uu1s7Qf3gA2oQmSx0m7k1zB2cAAAAJh4p1sOeKdb',
        '-----END OPENSSH PRIVATE KEY-----',
        '',
      ].join('\n')
      const inputs = {
        ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }),
        secrets: 'DEPLOY_SSH_KEY\nOPENCLAW_CUSTOM_NOTE=plain value',
      }
      const { result, calls: journal } = await runStep(world, inputs, { DEPLOY_SSH_KEY: key })
      expectSuccess(result)
      deployed = true
      expect(result.outputs['secrets-synced']).toBe(
        'ANTHROPIC_API_KEY,DEPLOY_SSH_KEY,OPENCLAW_CUSTOM_NOTE,OPENCLAW_GATEWAY_TOKEN',
      )
      expect(calls(journal, 'secrets import')[0]?.stdin).toBe(true)
      expectNoValues(journal, result, [key, GATEWAY_TOKEN, ANTHROPIC_V1])

      const [machine] = await liveMachines(world)
      const gateway = gatewayProcess(world, machine as string)
      expect(gateway.env.has('DEPLOY_SSH_KEY')).toBe(true)
      expect(sha256(gateway.env.get('DEPLOY_SSH_KEY') ?? '')).toBe(sha256(key))
      expect(sha256(gateway.env.get('OPENCLAW_CUSTOM_NOTE') ?? '')).toBe(sha256('plain value'))
      expect(sha256(gateway.env.get('OPENCLAW_GATEWAY_TOKEN') ?? '')).toBe(sha256(GATEWAY_TOKEN))

      // The stand-in's first public deploy allocates a dedicated v6 and a shared v4, as flyctl does.
      const publicIps = (await readState(world.state)).apps[APP]?.ips ?? []
      expect(publicIps.map((ip) => ip.Type).sort()).toEqual(['shared_v4', 'v6'])
    },
    FAKE_TIMEOUT,
  )

  it(
    'a dry run of a push with changes after a deploy only reads, and shows the plan in the summary',
    async () => {
      expect(deployed, 'the first deploy served').toBe(true)
      const countersBefore = await readCounters(world.state)
      const stateBefore = (await readState(world.state)).apps[APP]
      expect(Object.keys(stateBefore?.secrets ?? {}).sort()).toEqual([
        'ANTHROPIC_API_KEY',
        'DEPLOY_SSH_KEY',
        'OPENCLAW_CUSTOM_NOTE',
        'OPENCLAW_GATEWAY_TOKEN',
      ])
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
      expect(summary).toMatch(
        /^\| Secrets to prune \| <code>ANTHROPIC_API_KEY<\/code>, <code>DEPLOY_SSH_KEY<\/code>, <code>OPENCLAW_CUSTOM_NOTE<\/code> \|$/m,
      )
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

  it(
    'a push that goes private and prunes: deploys without public IPs, releases the public ones and keeps a private v6; unsets (staged) the names outside the synced set before the deploy',
    async () => {
      expect(deployed, 'the first deploy served').toBe(true)
      const publicIps = (await readState(world.state)).apps[APP]?.ips ?? []
      expect(publicIps.map((ip) => ip.Type).sort()).toEqual(['shared_v4', 'v6'])

      // Only ANTHROPIC_API_KEY and the gateway token synced now, prune-secrets on: the other two go.
      const { result, calls: journal } = await runStep(world, {
        ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }),
        'prune-secrets': 'true',
        private: 'true',
      })
      expectSuccess(result)

      // prune-secrets: those names unset, staged, before the deploy that applies it.
      expect(calls(journal, 'secrets unset').map((e) => e.argv)).toEqual([
        ['secrets', 'unset', '--stage', '--app', APP, 'DEPLOY_SSH_KEY', 'OPENCLAW_CUSTOM_NOTE'],
      ])
      const order = journal.map(commandOf)
      expect(order.indexOf('secrets unset')).toBeLessThan(order.indexOf('deploy'))
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expect(result.outputs['secrets-synced']).toBe('ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN')
      expect(result.summary).toContain('Pruned: <code>DEPLOY_SSH_KEY</code>, <code>OPENCLAW_CUSTOM_NOTE</code>')
      // The deploy's rollout applied the removal: the gateway no longer has them.
      const [machine] = await liveMachines(world)
      const gateway = gatewayProcess(world, machine as string)
      expect(gateway.env.has('DEPLOY_SSH_KEY')).toBe(false)
      expect(gateway.env.has('OPENCLAW_CUSTOM_NOTE')).toBe(false)
      expect(gateway.env.has('ANTHROPIC_API_KEY')).toBe(true)

      // private: one deploy without public IPs; then every public address released, by address,
      // and one private v6.
      const deploys = calls(journal, 'deploy')
      expect(deploys).toHaveLength(1)
      expect(deploys[0]?.argv).toContain('--no-public-ips')
      expect(
        calls(journal, 'ips release')
          .map((e) => e.argv[2])
          .sort(),
      ).toEqual(publicIps.map((ip) => ip.Address).sort())
      expect(calls(journal, 'ips allocate-v6').map((e) => e.argv)).toEqual([
        ['ips', 'allocate-v6', '--private', '--app', APP],
      ])
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
})
