/**
 * skip-unchanged in-process: run() as in run.test.ts (the fake @actions/core, the real Flyctl runner
 * over the in-memory Fly, the scripted registry), here over an app that serves what the previous
 * run deployed: its machine carries the `--env` entries of the last `fly deploy` (the fingerprint
 * among them) and the memory a `machine update` set, and its secrets read Deployed once a deploy
 * followed their import. Each kind of change alone, `skip-unchanged: false`, and each way a base
 * image can fail to resolve, with nothing else changed; the process-level runs (the action
 * bundle, the flyctl stand-in, the registry stand-in, the workspace's files) are in
 * test/e2e/unchanged.test.ts.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import * as core from '../../support/fake-core.js'
import { callsTo, newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { newFakeRegistry, type FakeRegistry } from '../../support/fake-registry.js'
import { inProcessDeps, useRunnerFolders } from '../../support/in-process-run.js'

vi.mock('@actions/core', () => core)
const { run } = await import('../../../src/main.js')

const APP = 'unchanged-app'
const MACHINE = '148ed193b95389'
const BASE = 'ghcr.io/openclaw/openclaw:2026.9.6'
const TOKEN = 'FlyV1 fm2_inprocess_token_77c0'
const GATEWAY_TOKEN = 'gw-inprocess-token-3e51b0c2'
let fly: FakeFly
let registry: FakeRegistry

/**
 * The in-memory Fly of fake-flyctl.ts, with an app that keeps what a deploy delivered: `status`
 * and `machines list` show one started machine with passing checks, on the newest release, with the
 * last deploy's `--env` entries and the memory of the last `machine update --vm-memory`;
 * `secrets list` shows each imported name, Staged until a deploy makes it Deployed.
 */
function servingFly(): FakeFly {
  const f = newFakeFly()
  let env: Record<string, string> = {}
  let memoryMb = 2048
  const secrets = new Map<string, string>()
  const machine = () => {
    const release = f.releases.get(APP)?.at(-1)
    if (!release) return []
    const at = release.at ?? Date.now()
    return [
      {
        id: MACHINE,
        state: 'started',
        region: 'iad',
        config: {
          image: release.ImageRef,
          env,
          guest: { memory_mb: memoryMb },
          init: {
            cmd: ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan'],
          },
          metadata: { fly_release_version: String(release.Version), fly_process_group: 'app' },
        },
        checks: [{ name: 'servicecheck-00-tcp-3000', status: 'passing', output: '' }],
        events: [
          { type: 'start', status: 'started', source: 'flyd', timestamp: at + 1 },
          { type: 'update', status: 'replacing', source: 'user', timestamp: at },
        ],
      },
    ]
  }
  f.answers.set('status', () =>
    f.apps.has(APP)
      ? { stdout: JSON.stringify({ Name: APP, Machines: machine() }) }
      : { stderr: `Error: failed to get app: Could not find App "${APP}"\n`, exitCode: 1 },
  )
  f.answers.set('machines list', () => ({ stdout: JSON.stringify(machine()) }))
  f.answers.set('machine update', (args) => {
    const at = args.indexOf('--vm-memory')
    if (at >= 0) memoryMb = Number(args[at + 1])
    return {}
  })
  f.answers.set('secrets list', () => ({
    stdout: JSON.stringify([...secrets].map(([name, status]) => ({ name, digest: '0123456789abcdef', status }))),
  }))
  f.answers.set('secrets import', (_args, opts) => {
    for (const line of (opts.stdin ?? '').split('\n')) {
      const name = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line)?.[1]
      if (name) secrets.set(name, 'Staged')
    }
    return {}
  })
  f.answers.set('deploy', (args) => {
    const list = f.releases.get(APP) ?? []
    const version = list.length + 1
    const image = `registry.fly.io/${APP}:deployment-${version}`
    list.push({ Version: version, Status: 'complete', ImageRef: image, at: Date.now() })
    f.releases.set(APP, list)
    env = {}
    for (const [i, arg] of args.entries()) {
      const pair = arg === '--env' ? (args[i + 1] ?? '') : ''
      if (pair.includes('=')) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1)
    }
    for (const name of secrets.keys()) secrets.set(name, 'Deployed')
    return { stdout: `${JSON.stringify({ id: `rel${version}`, version, image_ref: image })}\n` }
  })
  return f
}

const deps = () => inProcessDeps({ fly, registry })

const baseInputs: Record<string, string> = {
  app: APP,
  'api-token': TOKEN,
  secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}\nANTHROPIC_API_KEY=sk-ant-unit-v1`,
  'health-timeout': '30',
}

/** One run of the action with these inputs; what it released and how many deploys it made. */
async function step(inputs: Record<string, string> = baseInputs) {
  const deploysBefore = callsTo(fly, 'deploy').length
  const importsBefore = callsTo(fly, 'secrets import').length
  core.reset(inputs)
  await run(deps())
  if (process.env.DEBUG_RUN) console.log(core.logs.join('\n'))
  return {
    failed: core.failed,
    released: core.outputs.get('released'),
    health: core.outputs.get('health'),
    deploys: callsTo(fly, 'deploy').length - deploysBefore,
    secretImports: callsTo(fly, 'secrets import').length - importsBefore,
    summary: core.summaryText,
    logs: core.logs.join('\n'),
  }
}

type Step = Awaited<ReturnType<typeof step>>

function expectOneRelease(s: Step): void {
  expect(s.failed, s.logs).toBeUndefined()
  expect(s.released).toBe('true')
  expect(s.health).toBe('healthy')
  expect(s.deploys).toBe(1)
}

function expectNoRelease(s: Step): void {
  expect(s.failed, s.logs).toBeUndefined()
  expect(s.released).toBe('false')
  expect(s.health).toBe('healthy')
  expect(s.deploys).toBe(0)
  expect(s.secretImports).toBe(0)
}

/** A first deploy, and a second run that finds nothing changed. */
async function serving(): Promise<void> {
  expectOneRelease(await step())
  const same = await step()
  expectNoRelease(same)
  expect(same.summary).toContain('Nothing changed')
}

const folders = useRunnerFolders('unchanged-run-', `FROM ${BASE}\n`)

beforeEach(() => {
  fs.writeFileSync(path.join(folders.workspace, 'app.js'), 'console.log(1)\n')
  fly = servingFly()
  registry = newFakeRegistry()
})

describe('skip-unchanged in-process', () => {
  const changes: Array<{ name: string; part: string; change: () => Record<string, string> }> = [
    {
      name: 'a config change (env)',
      part: 'config',
      change: () => ({ ...baseInputs, env: 'OPENCLAW_LOG_LEVEL=debug' }),
    },
    // The memory goes into the rendered config ([[vm]]) as well as the overrides the machines are held to.
    {
      name: 'a machine override (memory)',
      part: 'config, overrides',
      change: () => ({ ...baseInputs, 'machine-memory': '4096mb' }),
    },
    {
      name: 'a secret value',
      part: 'secrets',
      change: () => ({ ...baseInputs, secrets: baseInputs.secrets!.replace('sk-ant-unit-v1', 'sk-ant-unit-v2') }),
    },
    {
      name: 'a base image tag that moved',
      part: 'image',
      change: () => {
        registry.digests.set(BASE, `sha256:${'7b'.repeat(32)}`)
        return baseInputs
      },
    },
    {
      name: 'a file of the build context',
      part: 'image',
      change: () => {
        fs.writeFileSync(path.join(folders.workspace, 'app.js'), 'console.log(2)\n')
        return baseInputs
      },
    },
  ]

  it.each(changes)('$name alone makes exactly one release, naming the part; the same run again none', async (c) => {
    await serving()
    const inputs = c.change()
    const changed = await step(inputs)
    expectOneRelease(changed)
    expect(/changed since the serving release: ([a-z, ]+)/.exec(changed.summary)?.[1]).toBe(c.part)
    expectNoRelease(await step(inputs))
  })

  it('skip-unchanged: false deploys with nothing changed, and says why', async () => {
    await serving()
    const forced = await step({ ...baseInputs, 'skip-unchanged': 'false' })
    expectOneRelease(forced)
    expect(forced.summary).toContain('skip-unchanged is false')
  })

  const unresolvable: Array<{ kind: string; notice: RegExp; fetch: typeof fetch }> = [
    {
      kind: 'a registry that fails',
      notice: /answered 500/,
      fetch: (async () => new Response('', { status: 500 })) as typeof fetch,
    },
    {
      kind: 'a private repository',
      notice: /needs credentials/,
      // The anonymous token flow: a challenge, a token, and still 401 for the manifest.
      fetch: (async (input: string | URL | Request) =>
        String(input instanceof Request ? input.url : input).includes('/token')
          ? Response.json({ token: 'anonymous' })
          : new Response('', {
              status: 401,
              headers: { 'WWW-Authenticate': 'Bearer realm="https://ghcr.io/token",service="ghcr.io"' },
            })) as typeof fetch,
    },
    {
      kind: 'a registry that cannot be reached',
      notice: /could not be reached/,
      fetch: (async () => {
        throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
      }) as typeof fetch,
    },
  ]

  it.each(unresolvable)('$kind deploys with nothing else changed, with a notice that says why', async (u) => {
    await serving()
    registry.fetch = u.fetch
    const s = await step()
    expectOneRelease(s)
    // One notice line says both that it deploys and why.
    const notice = new RegExp(
      String.raw`::notice::skip-unchanged: deploying, because the base image ghcr\.io/openclaw/openclaw:2026\.9\.6 could not be resolved: [^\n]*` +
        u.notice.source,
    )
    expect(s.logs).toMatch(notice)
  })
})
