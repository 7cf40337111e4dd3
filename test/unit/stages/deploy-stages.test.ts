import { beforeEach, describe, expect, it, vi } from 'vitest'
import { deploy, redeploy } from '../../../src/stages/deploy.js'
import { MachineListSchema } from '../../../src/fly/schemas.js'
import { ensure, MissingResourceError } from '../../../src/stages/ensure.js'
import { harden } from '../../../src/stages/private-ips.js'
import { reconcileOverrides } from '../../../src/stages/overrides.js'
import type { Plan } from '../../../src/inputs/plan.js'
import type { StageContext } from '../../../src/run/report.js'
import { syncSecrets } from '../../../src/stages/secrets.js'
import { makePlan } from '../../support/plan.js'
import { inProcessFlyctl, newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { Redactor } from '../../../src/shared/redact.js'

// core.group only prints markers; keep the test output quiet and the callback running.
vi.mock('@actions/core', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@actions/core')>()),
  group: async <T>(_name: string, fn: () => Promise<T>) => fn(),
}))

/**
 * The stage edges against the real runner over a scripted in-process flyctl (every call answered
 * by the test's `reply`: a JSON array is stdout, `error` is flyctl's `Error:` line), so the tests see
 * exactly which calls each stage makes. The end-to-end path through the stand-in is tested separately.
 */
type Reply = { stdout?: string; exitCode?: number; error?: string } | unknown[]
function scriptedFly(reply: (args: string[]) => Reply): FakeFly {
  const fly = newFakeFly()
  fly.answers.set('', (args) => {
    const r = reply(args)
    if (Array.isArray(r)) return { stdout: JSON.stringify(r) }
    return { stdout: r.stdout, exitCode: r.exitCode, stderr: r.error === undefined ? '' : `Error: ${r.error}\n` }
  })
  return fly
}

/** Calls other than the reading ones a dry run may make. */
function writes(fly: FakeFly): string[][] {
  const reading = /^(status|secrets list|volumes list|ips list|machines list|releases)\b/
  return fly.calls.map((c) => c.args).filter((a) => !reading.test(a.join(' ')))
}

const redactor = new Redactor()
redactor.add('super-secret-value')

function plan(overrides: Partial<Plan> = {}): Plan {
  return makePlan({
    secrets: new Map([
      ['OPENCLAW_GATEWAY_TOKEN', 'super-secret-value'],
      ['ANTHROPIC_API_KEY', 'sk-ant-x'],
    ]),
    ...overrides,
  })
}

let logs: string[]
beforeEach(() => {
  logs = []
})
function ctx(fly: FakeFly, p: Plan): StageContext {
  return {
    flyctl: inProcessFlyctl(fly, { redactor }),
    plan: p,
    log: { info: (m) => logs.push(m), warning: (m) => logs.push(`warning: ${m}`) },
  }
}

const notFound = { exitCode: 1, error: 'failed to get app: Could not find App "my-openclaw"' }
const target = { region: 'iad', volume: 'openclaw_data' }

describe('ensure edge', () => {
  it('creates a missing app and volume', async () => {
    const fly = scriptedFly((a) => (a[0] === 'status' ? notFound : {}))
    const result = await ensure(ctx(fly, plan()), target)
    expect(fly.calls.map((c) => c.args.slice(0, 3).join(' '))).toEqual([
      'status --app my-openclaw',
      'apps create my-openclaw',
      'volumes create openclaw_data',
    ])
    expect(result).toMatchObject({ createApp: true, createVolume: true, appExists: true })
  })

  it('creates nothing when both exist', async () => {
    const status = { stdout: JSON.stringify({ Name: 'my-openclaw', Version: 1, Machines: [] }) }
    const fly = scriptedFly((a) =>
      a[0] === 'volumes'
        ? [{ id: 'vol_1', name: 'openclaw_data', region: 'iad', state: 'created' }]
        : a[0] === 'status'
          ? status
          : {},
    )
    const result = await ensure(ctx(fly, plan()), target)
    expect(writes(fly)).toEqual([])
    expect(result.created).toEqual([])
  })

  it('needs no volume list when a machine in the region mounts the volume', async () => {
    const fly = scriptedFly(() => ({}))
    const machines = MachineListSchema.parse([
      { id: 'm1', state: 'started', region: 'iad', config: { mounts: [{ name: 'openclaw_data', path: '/data' }] } },
    ])
    const result = await ensure(ctx(fly, plan()), { ...target, appExists: true, machines })
    expect(fly.calls).toEqual([])
    expect(result.created).toEqual([])
  })

  it('in a dry run only reads, and says what it would create', async () => {
    const fly = scriptedFly((a) => (a[0] === 'status' ? notFound : {}))
    const result = await ensure(ctx(fly, plan({ dryRun: true })), target)
    expect(writes(fly)).toEqual([])
    expect(result.created).toEqual(['app my-openclaw in org personal', 'volume openclaw_data (1 GB, iad)'])
  })

  it('with create: false, refuses a missing app without creating anything', async () => {
    const fly = scriptedFly((a) => (a[0] === 'status' ? notFound : {}))
    await expect(ensure(ctx(fly, plan({ create: false })), target)).rejects.toBeInstanceOf(MissingResourceError)
    expect(writes(fly)).toEqual([])
  })

  it('explains a name taken by another organization', async () => {
    const fly = scriptedFly((a) =>
      a[0] === 'status'
        ? notFound
        : a[0] === 'apps'
          ? { exitCode: 1, error: 'Validation failed: Name has already been taken' }
          : {},
    )
    await expect(ensure(ctx(fly, plan()), target)).rejects.toThrow(/taken by an app this token cannot see/)
  })

  it('passes other errors through', async () => {
    const fly = scriptedFly(() => ({ exitCode: 1, error: 'You must be authenticated to view this.' }))
    await expect(ensure(ctx(fly, plan()), target)).rejects.toThrow(/authenticated/)
  })
})

describe('secrets edge', () => {
  const list = (...names: string[]) => names.map((name) => ({ name, digest: 'abc', status: 'Deployed' }))

  it('imports the synced set staged on stdin, never in argv, and prunes staged', async () => {
    const fly = scriptedFly((a) => (a[1] === 'list' ? list('ANTHROPIC_API_KEY', 'OLD_KEY') : {}))
    const result = await syncSecrets(ctx(fly, plan({ pruneSecrets: true })), {
      appExists: true,
      gatewayAuthRequired: true,
    })
    expect(writes(fly)).toEqual([
      ['secrets', 'import', '--stage', '--app', 'my-openclaw'],
      ['secrets', 'unset', '--stage', '--app', 'my-openclaw', 'OLD_KEY'],
    ])
    expect(fly.calls[1]!.stdin).toBe('OPENCLAW_GATEWAY_TOKEN=super-secret-value\nANTHROPIC_API_KEY=sk-ant-x\n')
    expect(fly.calls.flatMap((c) => c.args).join(' ')).not.toContain('super-secret-value')
    expect(logs.join('\n')).not.toContain('super-secret-value')
    expect(result).toMatchObject({
      synced: ['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'],
      add: ['OPENCLAW_GATEWAY_TOKEN'],
      update: ['ANTHROPIC_API_KEY'],
      prune: ['OLD_KEY'],
    })
  })

  it('makes no import call for an empty set (flyctl refuses one) and lists nothing for a new app', async () => {
    const fly = scriptedFly(() => ({}))
    await syncSecrets(ctx(fly, plan({ secrets: new Map() })), { appExists: false, gatewayAuthRequired: false })
    expect(fly.calls).toEqual([])
  })

  it('counts a token already on the app, and refuses when there is none', async () => {
    const withToken = scriptedFly(() => list('OPENCLAW_GATEWAY_TOKEN'))
    await expect(
      syncSecrets(ctx(withToken, plan({ secrets: new Map([['A_KEY', 'v']]) })), {
        appExists: true,
        gatewayAuthRequired: true,
      }),
    ).resolves.toBeDefined()
    const without = scriptedFly(() => list())
    await expect(
      syncSecrets(ctx(without, plan({ secrets: new Map([['A_KEY', 'v']]) })), {
        appExists: true,
        gatewayAuthRequired: true,
      }),
    ).rejects.toThrow(/OPENCLAW_GATEWAY_TOKEN/)
    expect(writes(without)).toEqual([])
  })

  it('in a dry run only lists, and still refuses a value flyctl could not read', async () => {
    const fly = scriptedFly(() => list('OLD_KEY'))
    const result = await syncSecrets(ctx(fly, plan({ dryRun: true, pruneSecrets: true })), {
      appExists: true,
      gatewayAuthRequired: true,
    })
    expect(writes(fly)).toEqual([])
    expect(result.prune).toEqual(['OLD_KEY'])
    const bad = plan({ dryRun: true, secrets: new Map([['PEM', 'a\r\nb']]) })
    await expect(
      syncSecrets(
        ctx(
          scriptedFly(() => list()),
          bad,
        ),
        { appExists: true, gatewayAuthRequired: false },
      ),
    ).rejects.toThrow(/secret PEM .*CRLF/)
  })
})

describe('deploy edge', () => {
  const releases = [
    { Version: 4, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-4' },
    { Version: 3, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-3' },
  ]
  const reply = (a: string[]) =>
    a[0] === 'releases' ? releases : { stdout: 'Visit your newly deployed app at https://my-openclaw.fly.dev/\n' }
  const dctx = (fly: FakeFly, p: Plan) => ({ ...ctx(fly, p), rendered: { path: '/tmp/runner/fly.toml' } })

  it('deploys, then reads the release version and image back', async () => {
    const fly = scriptedFly(reply)
    const result = await deploy(dctx(fly, plan()))
    // releases first: a deploy already in progress is waited for (src/stages/deploy.ts)
    expect(fly.calls.map((c) => c.args[0])).toEqual(['releases', 'deploy', 'releases'])
    expect(result).toMatchObject({
      url: 'https://my-openclaw.fly.dev/',
      release: {
        version: 4,
        imageRef: 'registry.fly.io/my-openclaw:deployment-4',
        previousImageRef: 'registry.fly.io/my-openclaw:deployment-3',
      },
    })
  })

  it('redeploys a given image with the same config', async () => {
    const fly = scriptedFly(reply)
    await redeploy(dctx(fly, plan()), 'registry.fly.io/my-openclaw:deployment-3')
    const deployCall = fly.calls.find((c) => c.args[0] === 'deploy')
    expect(deployCall?.args).toEqual(
      expect.arrayContaining([
        '--config',
        '/tmp/runner/fly.toml',
        '--image',
        'registry.fly.io/my-openclaw:deployment-3',
      ]),
    )
  })

  it('in a dry run calls nothing and returns the command line', async () => {
    const fly = scriptedFly(reply)
    const result = await deploy(dctx(fly, plan({ dryRun: true })))
    expect(fly.calls).toEqual([])
    expect(result.command).toMatch(
      /^flyctl deploy \/ws --config \/tmp\/runner\/fly.toml --app my-openclaw .*--ha=false -y$/,
    )
  })
})

describe('overrides edge', () => {
  const argv = ['node', 'dist/index.js', 'gateway', '--port', '3000', '--bind', 'lan']
  const overridePlan = (p: Partial<Plan> = {}) =>
    plan({ machineCommand: { argv, text: argv.join(' ') }, machineMemoryMb: 2048, ...p })
  const machine = (id: string, cmd: string[], memory_mb: number) => ({
    id,
    state: 'started',
    region: 'iad',
    config: { init: { cmd }, guest: { memory_mb } },
  })

  it('updates only the drifted machine', async () => {
    const fly = scriptedFly((a) =>
      a[0] === 'machines' ? [machine('good', argv, 2048), machine('bad', ['node', 'old'], 2048)] : {},
    )
    const result = await reconcileOverrides(ctx(fly, overridePlan()))
    expect(writes(fly)).toEqual([
      ['machine', 'update', 'bad', '--command', argv.join(' '), '-y', '--app', 'my-openclaw'],
    ])
    expect(result).toMatchObject({ checked: 2, applied: [{ machineId: 'bad', command: argv }] })
  })

  it('costs no update in a steady state, and no call at all without overrides or in a dry run', async () => {
    const steady = scriptedFly(() => [machine('good', argv, 2048)])
    await reconcileOverrides(ctx(steady, overridePlan()))
    expect(writes(steady)).toEqual([])
    const none = scriptedFly(() => [])
    await reconcileOverrides(ctx(none, plan()))
    await reconcileOverrides(ctx(none, overridePlan({ dryRun: true })))
    expect(none.calls).toEqual([])
  })
})

describe('harden edge', () => {
  it('releases public addresses, allocates a private IPv6, and proves it by listing again', async () => {
    let hardened = false
    const fly = scriptedFly((a) => {
      if (a[1] === 'list')
        return hardened
          ? [{ Type: 'private_v6', Address: 'fdaa:0:1::3' }]
          : [
              { Type: 'v4', Address: '137.66.1.1' },
              { Type: 'shared_v4', Address: '66.241.124.1' },
            ]
      if (a[1] === 'allocate-v6') hardened = true
      return {}
    })
    const result = await harden(ctx(fly, plan({ private: true })))
    expect(fly.calls.map((c) => c.args.slice(0, 3).join(' '))).toEqual([
      'ips list --app',
      'ips release 137.66.1.1',
      'ips release 66.241.124.1',
      'ips allocate-v6 --private',
      'ips list --app',
    ])
    expect(result.changes).toEqual([
      { action: 'released', address: '137.66.1.1', type: 'v4' },
      { action: 'released', address: '66.241.124.1', type: 'shared_v4' },
      { action: 'allocated', address: 'fdaa:0:1::3', type: 'private_v6' },
    ])
  })

  it('fails when the re-read still shows a public address', async () => {
    const fly = scriptedFly((a) =>
      a[1] === 'list'
        ? [
            { Type: 'v6', Address: '2a09::1' },
            { Type: 'private_v6', Address: 'fdaa::3' },
          ]
        : {},
    )
    await expect(harden(ctx(fly, plan({ private: true })))).rejects.toThrow(/public addresses remain: 2a09::1 \(v6\)/)
  })

  it('does nothing for a public deployment, and only reads in a dry run', async () => {
    const fly = scriptedFly(() => [{ Type: 'v4', Address: '137.66.1.1' }])
    expect((await harden(ctx(fly, plan()))).skipped).toBe(true)
    expect(fly.calls).toEqual([])
    const result = await harden(ctx(fly, plan({ private: true, dryRun: true })))
    expect(writes(fly)).toEqual([])
    expect(result.changes.map((c) => c.action)).toEqual(['released', 'allocated'])
  })
})
