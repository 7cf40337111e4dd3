/**
 * run() in-process, as actions/typescript-action tests its run(): @actions/core is the
 * fixture in __fixtures__/core.ts, flyctl is the real runner over an in-memory Fly
 * (__fixtures__/flyctl.ts), and no child process is started. Each case is one of the summary's
 * promises: outputs and a summary in every case, "changed on Fly" from the change journal only.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import * as core from '../../support/fake-core.js'
import { callsTo, newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { newFakeRegistry, type FakeRegistry } from '../../support/fake-registry.js'
import { inProcessDeps, useRunnerFolders } from '../../support/in-process-run.js'

vi.mock('@actions/core', () => core)
const { run } = await import('../../../src/main.js')

const TOKEN = 'FlyV1 fm2_inprocess_token_5b1d'
const GATEWAY_TOKEN = 'gw-inprocess-token-9c2e77a1'
let fly: FakeFly
let registry: FakeRegistry

const deps = () => inProcessDeps({ fly, registry })

function inputs(extra: Record<string, string> = {}): void {
  core.reset({ app: 'inproc-app', 'api-token': TOKEN, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`, ...extra })
}

useRunnerFolders('run-inprocess-')

beforeEach(() => {
  fly = newFakeFly()
  registry = newFakeRegistry()
})

function changedOnFly(): string[] {
  const section = core.summaryText.split(/### (?:Changed on Fly|Where the run stopped)\n/)[1] ?? ''
  return section
    .split('\n###')[0]!
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2).replace(/\\(.)/g, '$1'))
}

describe('run() in-process', () => {
  it('deploys a new app: outputs, and the summary lists exactly what flyctl confirmed', async () => {
    inputs({ 'health-timeout': '30' })
    await run(deps())
    if (process.env.DEBUG_RUN) console.log(core.logs.join('\n'))
    expect(core.failed).toBeUndefined()
    expect(Object.fromEntries(core.outputs)).toMatchObject({
      'app-name': 'inproc-app',
      'release-version': '1',
      health: 'healthy',
      'flyctl-version': '0.4.87',
      'machine-ids': '148ed193b95389',
    })
    expect(changedOnFly()).toEqual([
      'created app inproc-app',
      'created volume openclaw_data',
      'staged secrets OPENCLAW_GATEWAY_TOKEN',
      'deployed release v1',
    ])
    expect(core.summaryText).not.toContain(GATEWAY_TOKEN)
    // The FROM tag's digest came from the scripted registry, not the network.
    expect(registry.requests).toEqual(['HEAD https://ghcr.io/v2/openclaw/openclaw/manifests/2026.9.6'])
  })

  it('a bad input still writes the outputs and a summary, and fails the step naming the input', async () => {
    inputs({ app: 'Bad_App' })
    await run(deps())
    expect(core.failed).toMatch(/`app`/)
    expect(core.outputs.get('health')).toBe('skipped')
    expect(core.outputs.get('app-name')).toBe('Bad_App')
    expect(core.summaryText).toMatch(/Deploy of <code>Bad_App<\/code> failed/)
    expect(core.summaryText).toContain('Before the first stage.')
    expect(core.summaryText).toContain('Nothing had been changed on Fly.')
    expect(fly.calls).toEqual([])
  })

  it('a change made inside a stage that then fails is in the summary: the app was created, the volume was not', async () => {
    inputs()
    fly.fail.set('volumes create', { stderr: 'Error: failed to create volume: region iad is out of capacity\n' })
    await run(deps())
    expect(core.failed).toMatch(/out of capacity/)
    expect(core.summaryText).toContain('In the <code>ensure</code> stage.')
    expect(changedOnFly()).toEqual(['created app inproc-app'])
  })

  it('a job cancelled while fly deploy runs says the deploy was in flight', async () => {
    inputs()
    let started: () => void = () => {}
    const deployStarted = new Promise<void>((resolve) => (started = resolve))
    fly.deployHangs = { started }
    const running = run(deps())
    await deployStarted
    process.emit('SIGTERM', 'SIGTERM')
    await running
    expect(core.failed).toMatch(/the job was cancelled \(SIGTERM\)/)
    expect(core.summaryText).toContain('In the <code>deploy</code> stage.')
    expect(changedOnFly().at(-1)).toMatch(/^deployed a new release \(in flight when the job was cancelled/)
  })

  it('a lost `apps create` race reads status again and deploys to the app another run created', async () => {
    inputs()
    // Another run creates the app between our status and our apps create.
    fly.before.set('apps create', () => fly.apps.add('inproc-app'))
    await run(deps())
    expect(core.failed).toBeUndefined()
    expect(core.logs.join('\n')).toMatch(/created by another run a moment ago/)
    expect(core.logs.join('\n')).not.toMatch(/cannot see/)
    expect(changedOnFly()[0]).toBe('created volume openclaw_data')
  })

  it('each run reports the release it made itself, not the newest one', async () => {
    inputs()
    fly.apps.add('inproc-app')
    fly.volumes.set('inproc-app', ['openclaw_data'])
    fly.releases.set('inproc-app', [
      { Version: 1, Status: 'complete', ImageRef: 'registry.fly.io/inproc-app:deployment-1' },
    ])
    // Another run's deploy lands right after ours: the newest release is not ours.
    fly.before.set('releases', () => {
      const list = fly.releases.get('inproc-app')!
      if (list.length === 2)
        list.push({ Version: 3, Status: 'complete', ImageRef: 'registry.fly.io/inproc-app:other-run' })
    })
    await run(deps())
    // v3 is recorded but on no machine yet (it waits for our leases): our verdict stands.
    expect(core.failed).toBeUndefined()
    expect(core.outputs.get('release-version')).toBe('2')
    expect(core.outputs.get('image')).toBe('registry.fly.io/inproc-app:deployment-2')
    expect(core.outputs.get('rolled-back')).toBe('false')
    expect(changedOnFly()).toContain('deployed release v2')
    expect(callsTo(fly, 'deploy')).toHaveLength(1)
  })

  it('a dry run makes reading calls only: the runner refuses any other', async () => {
    inputs({ 'dry-run': 'true' })
    await run(deps())
    expect(core.failed).toBeUndefined()
    expect(
      fly.calls.every((c) => /^(status|platform|secrets list|volumes list|releases|machines list)/.test(c.line)),
      fly.calls.map((c) => c.line).join('\n'),
    ).toBe(true)
    expect(core.summaryText).toMatch(/Dry run for/)
  })
})
