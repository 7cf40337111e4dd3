import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { RunOptions } from '../../../src/fly/flyctl.js'
import { probeHealthUrl, releaseMachines } from '../../../src/health/gate.js'
import { runHealthGate, type HealthContext } from '../../../src/health/index.js'
import { lockPatterns, staleLockCommand } from '../../../src/health/lock-repair.js'
import { newerOnMachines } from '../../../src/health/rollback.js'
import { newestAbove, rollbackTarget } from '../../../src/fly/releases.js'
import { ownRelease } from '../../../src/health/gate.js'
import { MachineListSchema, ReleaseSchema } from '../../../src/fly/schemas.js'
import { Redactor } from '../../../src/shared/redact.js'
import { inProcessFlyctl, newFakeFly, type FakeAnswer, type InProcessFlyctl } from '../../support/fake-flyctl.js'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures', 'gateway-logs')
const SECRET = 'tok-0123456789abcdef-secret'

/** Fixture lines moved onto one machine at one Fly time (whole seconds, as `fly logs` prints). */
function stream(file: string, machineId: string, atMs: number): string[] {
  const iso = new Date(Math.floor(atMs / 1000) * 1000).toISOString().replace('.000Z', 'Z')
  return readFileSync(join(fixtures, file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((raw) => raw.replace(/^\S+ app\[[0-9a-z]+\]/, `${iso} app[${machineId}]`))
}

interface LogScript {
  lines: () => string[]
  /** Exit code when the stream ends by itself; `hold` keeps it open until the gate stops it. */
  end: number | 'hold'
}

interface FakeMachine {
  id: string
  state: string
  version: number
  port?: number
  startedAtMs: number
  standby?: boolean
}

/**
 * Plays Fly for the gate: machines, a scripted `fly logs`, ssh, restart, releases, as answers of the
 * shared in-process flyctl (the real runner over them; any other call is a test failure).
 */
class FakeFly {
  readonly fake = newFakeFly()
  readonly flyctl: InProcessFlyctl
  logScripts: LogScript[] = []
  machines: FakeMachine[] = []
  releases: Array<Record<string, unknown>> = []
  onRestart?: (m: FakeMachine) => void
  sshStdout = 'removed /data/gateway.1a2b3c.lock\nremoved /tmp/openclaw-1000/gateway.4d5e.lock\n'
  /** What `fly machine status` says now (flyd may have stopped a crash-looping machine). */
  statusState = 'started'

  constructor() {
    const redactor = new Redactor()
    redactor.add(SECRET)
    this.flyctl = inProcessFlyctl(this.fake, { redactor })
    const ok = (stdout = ''): FakeAnswer => ({ stdout })
    const answers: Record<string, (args: string[], opts: RunOptions) => FakeAnswer | Promise<FakeAnswer>> = {
      '': (args) => {
        throw new Error(`fake flyctl: unexpected ${args.join(' ')}`)
      },
      'machines list': () => ok(JSON.stringify(this.machines.map(machineJson))),
      releases: () => ok(JSON.stringify(this.releases)),
      ssh: () => ok(this.statusState === 'started' ? this.sshStdout : ''),
      'machine status': (args) => ok(`Machine ID: ${args[2]}\nInstance ID: 01J\nState: ${this.statusState}\n`),
      'machine start': (args) => {
        this.statusState = 'started'
        return ok(`${args[2]} has been started\n`)
      },
      'machine restart': (args) => {
        const m = this.machines.find((x) => x.id === args[2])!
        m.startedAtMs = Date.now()
        this.onRestart?.(m)
        return ok()
      },
      logs: (_args, opts) => this.logs(opts),
    }
    for (const [command, answer] of Object.entries(answers)) this.fake.answers.set(command, answer)
  }

  /** Each call's argv, in order. */
  get calls(): string[][] {
    return this.fake.calls.map((c) => c.args)
  }

  private async logs(opts: RunOptions): Promise<FakeAnswer> {
    const script = this.logScripts.length > 1 ? this.logScripts.shift()! : this.logScripts[0]!
    for (const line of script.lines()) {
      await new Promise((r) => setImmediate(r))
      if (opts.signal?.aborted) break
      opts.onLine?.(line)
    }
    if (script.end === 'hold' && !opts.signal?.aborted) {
      await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }))
    }
    const exitCode = script.end === 'hold' ? 143 : script.end
    return { exitCode, stderr: exitCode ? 'Error: connection reset by peer' : '' }
  }
}

function machineJson(m: FakeMachine) {
  return {
    id: m.id,
    state: m.state,
    region: 'iad',
    config: {
      env: { OPENCLAW_STATE_DIR: '/data' },
      init: {
        cmd: [
          'node',
          'dist/index.js',
          'gateway',
          '--allow-unconfigured',
          '--port',
          String(m.port ?? 3000),
          '--bind',
          'lan',
        ],
      },
      metadata: { fly_process_group: 'app', fly_release_version: String(m.version) },
      ...(m.standby ? { standbys: ['148ed193b95389'] } : {}),
    },
    events: [{ type: 'start', status: 'started', source: 'flyd', timestamp: m.startedAtMs }],
    checks: [],
  }
}

const ID = '148ed193b95389'

function context(
  fly: FakeFly,
  plan: Partial<HealthContext['plan']> = {},
  extra: Partial<HealthContext> = {},
): HealthContext & { redeployed: string[] } {
  const redeployed: string[] = []
  return {
    flyctl: fly.flyctl,
    plan: { healthTimeoutSec: 20, healthChannels: [], fixStaleLock: true, rollback: true, ...plan },
    app: 'my-openclaw',
    port: 3000,
    bind: 'lan',
    stateDir: '/data',
    release: { version: 7, imageRef: 'registry.fly.io/my-openclaw:deployment-07' },
    deployStartedAtMs: Date.now() - 20_000,
    redeploy: async (imageRef) => {
      redeployed.push(imageRef)
      const startedAtMs = Date.now()
      for (const m of fly.machines) {
        m.version = 8
        m.startedAtMs = startedAtMs + 1
      }
      return { version: 8, imageRef, startedAtMs }
    },
    tuning: {
      pollIntervalMs: 10,
      lingerMs: 20,
      bindWarningGraceMs: 50,
      exitGraceMs: 50,
      resumeDelayMs: 5,
      sshRetryDelayMs: 1,
      probeMinMs: 50,
      probeIntervalMs: 5,
    },
    redeployed,
    ...extra,
  }
}

function flyWith(machines: Array<Partial<FakeMachine>>): FakeFly {
  const fly = new FakeFly()
  const t = Date.now() - 15_000
  fly.machines = machines.map((m) => ({ id: ID, state: 'started', version: 7, startedAtMs: t, ...m }))
  return fly
}

describe('runHealthGate over a fake flyctl', () => {
  it('is healthy when the stream shows the gateway ready, and resumes a dropped stream', async () => {
    const fly = flyWith([{}])
    const lines = stream('2026.9.6/ready-lan.log', ID, Date.now() - 10_000)
    const ready = lines.findIndex((l) => l.includes('[gateway]\u001b[39m \u001b[36mready'))
    fly.logScripts = [
      { lines: () => lines.slice(0, ready - 3), end: 1 },
      // A resumed `fly logs` replays its buffer first.
      { lines: () => lines, end: 'hold' },
    ]
    const outcome = await runHealthGate(context(fly))
    expect(outcome.judged.verdict.health).toBe('healthy')
    expect(outcome.servingRelease?.version).toBe(7)
    expect(outcome.judged.verdict.health === 'healthy' && outcome.judged.verdict.evidence[0]).toContain(
      `${ID}: [gateway] ready after the non-loopback bind warning; port 3000 from --port`,
    )
    expect(fly.calls.filter((c) => c[0] === 'logs')).toHaveLength(2)
    expect(fly.calls.find((c) => c[0] === 'logs')).toEqual(['logs', '-a', 'my-openclaw'])
  })

  it('ignores standby machines and machines of other releases', () => {
    const list = MachineListSchema.parse([
      machineJson({ id: ID, state: 'started', version: 7, startedAtMs: 1 }),
      machineJson({ id: 'standby0000001', state: 'stopped', version: 7, startedAtMs: 1, standby: true }),
      machineJson({ id: 'oldrelease0001', state: 'started', version: 6, startedAtMs: 1 }),
    ])
    const selected = releaseMachines(list, 7)
    expect(selected.ids).toEqual([ID])
    expect(selected.note).toContain('oldrelease0001 (v6)')
    expect(releaseMachines(list, 9).ids).toEqual([])
  })

  it('repairs a stale lock once over ssh, restarts the machine and passes the second gate', async () => {
    const fly = flyWith([{}])
    fly.logScripts = [{ lines: () => stream('2026.9.6/lock-contended.log', ID, Date.now() - 10_000), end: 'hold' }]
    fly.onRestart = () => {
      fly.logScripts = [{ lines: () => stream('2026.9.6/ready-lan.log', ID, Date.now()), end: 'hold' }]
    }
    const outcome = await runHealthGate(context(fly))
    expect(outcome).toMatchObject({ judged: { verdict: { health: 'healthy' } }, lockRepaired: true, rolledBack: false })
    const ssh = fly.calls.find((c) => c[0] === 'ssh')!
    expect(ssh.slice(0, 6)).toEqual(['ssh', 'console', '-a', 'my-openclaw', '--machine', ID])
    expect(ssh[6]).toBe('-C')
    expect(ssh[7]).toBe(staleLockCommand('/data'))
    expect(fly.calls).toContainEqual(['machine', 'restart', ID, '-a', 'my-openclaw'])
    expect(outcome.summary.join('\n')).toContain(
      'Removed /data/gateway.1a2b3c.lock, /tmp/openclaw-1000/gateway.4d5e.lock',
    )
    expect(fly.calls.filter((c) => c[0] === 'machine' && c[1] === 'start')).toEqual([])
  })

  it('reads the machine afresh and starts one its crash loop left stopped before ssh, then restarts it once', async () => {
    const fly = flyWith([{}])
    fly.statusState = 'stopped'
    fly.logScripts = [{ lines: () => stream('2026.9.6/lock-contended.log', ID, Date.now() - 10_000), end: 'hold' }]
    fly.onRestart = () => {
      fly.logScripts = [{ lines: () => stream('2026.9.6/ready-lan.log', ID, Date.now()), end: 'hold' }]
    }
    const outcome = await runHealthGate(context(fly))
    expect(outcome).toMatchObject({ judged: { verdict: { health: 'healthy' } }, lockRepaired: true })
    const order = fly.calls
      .filter((c) => c[0] === 'ssh' || (c[0] === 'machine' && c[1] !== 'list'))
      .map((c) => `${c[0]} ${c[1]}`)
    expect(order).toEqual(['machine status', 'machine start', 'ssh console', 'machine restart'])
  })

  it("on a release with the state-local lock tree: no deletion, no restart; the verdict names the owner and the guide's check", async () => {
    const fly = flyWith([{}])
    fly.logScripts = [{ lines: () => stream('2026.9.6/lock-contended.log', ID, Date.now() - 10_000), end: 'hold' }]
    const outcome = await runHealthGate({ ...context(fly), gatewayRelease: '2026.9.6' })
    expect(outcome).toMatchObject({
      judged: { verdict: { health: 'unhealthy', cause: 'gateway-lock' } },
      lockRepaired: false,
    })
    expect(fly.calls.filter((c) => c[0] === 'ssh' || (c[0] === 'machine' && c[1] !== 'list'))).toEqual([])
    expect(outcome.message).toMatch(
      /Fix: gateway release 2026\.9\.6 keeps its lock in \/data\/tmp\/openclaw-<uid> and reclaims a dead owner's lock by itself/,
    )
    expect(outcome.message).toMatch(/that no other machine or gateway process uses the volume/)
    expect(outcome.message).toMatch(/The lock tree was not deleted/)
    expect(outcome.summary.join('\n')).toMatch(/so nothing was deleted/)
  })

  it('treats a second lock failure as final, rolls back to the previous image and says which release serves', async () => {
    const fly = flyWith([{}])
    fly.logScripts = [{ lines: () => stream('2026.9.6/lock-contended.log', ID, Date.now() - 10_000), end: 'hold' }]
    fly.onRestart = () => {
      fly.logScripts = [{ lines: () => stream('2026.9.6/lock-contended.log', ID, Date.now()), end: 'hold' }]
    }
    fly.releases = [
      { ID: 'r7', Version: 7, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-07' },
      { ID: 'r6', Version: 6, Status: 'failed', ImageRef: 'registry.fly.io/my-openclaw:deployment-06' },
      { ID: 'r5', Version: 5, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-05' },
    ]
    const ctx = context(fly)
    const redeploy = ctx.redeploy
    ctx.redeploy = async (imageRef) => {
      fly.logScripts = [{ lines: () => stream('legacy/ready-2026.1.log', ID, Date.now() + 1_000), end: 'hold' }]
      return redeploy(imageRef)
    }
    const outcome = await runHealthGate(ctx)
    expect(outcome).toMatchObject({
      judged: { verdict: { health: 'unhealthy', cause: 'gateway-lock' } },
      lockRepaired: true,
      rolledBack: true,
    })
    expect(fly.calls.filter((c) => c[0] === 'ssh')).toHaveLength(1)
    expect(ctx.redeployed).toEqual(['registry.fly.io/my-openclaw:deployment-05'])
    expect(outcome.servingRelease).toEqual({
      version: 8,
      imageRef: 'registry.fly.io/my-openclaw:deployment-05',
      startedAtMs: expect.any(Number),
    })
    expect(outcome.message).toContain(
      'Rolled back: release v8 (the image of v5, registry.fly.io/my-openclaw:deployment-05) is now serving.',
    )
    expect(outcome.message).toMatch(
      /Health gate: the gateway lock is held on machine 148ed193b95389: .*another OpenClaw process owns gateway-lifecycle/,
    )
    expect(outcome.message).toContain('Last log lines of 148ed193b95389:')
  })

  it('names the rollback release as serving also when it is unhealthy too: the failed release is on no machine', async () => {
    const fly = flyWith([{}])
    fly.logScripts = [{ lines: () => stream('2026.9.6/lan-no-token.log', ID, Date.now() - 10_000), end: 'hold' }]
    fly.releases = [
      { ID: 'r7', Version: 7, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-07' },
      { ID: 'r6', Version: 6, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-06' },
    ]
    const ctx = context(fly)
    const redeploy = ctx.redeploy
    ctx.redeploy = async (imageRef) => {
      fly.logScripts = [{ lines: () => stream('2026.9.6/lan-no-token.log', ID, Date.now() + 1_000), end: 'hold' }]
      return redeploy(imageRef)
    }
    const outcome = await runHealthGate(ctx)
    expect(outcome).toMatchObject({ judged: { verdict: { health: 'unhealthy' } }, rolledBack: true })
    // docs/CONTRACT.md, "Outputs": release-version and image describe what the machines run, v8.
    expect(outcome.servingRelease).toMatchObject({ version: 8, imageRef: 'registry.fly.io/my-openclaw:deployment-06' })
    expect(outcome.message).toContain(
      'Rolled back to release v8 (the image of v6, registry.fly.io/my-openclaw:deployment-06), but it is unhealthy too',
    )
  })

  it('says a first release has nothing to roll back to', async () => {
    const fly = flyWith([{}])
    fly.logScripts = [{ lines: () => stream('2026.9.6/lan-no-token.log', ID, Date.now() - 10_000), end: 'hold' }]
    fly.releases = [{ ID: 'r1', Version: 1, Status: 'complete', ImageRef: 'registry.fly.io/my-openclaw:deployment-01' }]
    const ctx = context(fly, {}, { release: { version: 1, imageRef: 'registry.fly.io/my-openclaw:deployment-01' } })
    fly.machines[0]!.version = 1
    const outcome = await runHealthGate(ctx)
    expect(outcome).toMatchObject({
      judged: { verdict: { health: 'unhealthy', cause: 'auth-required' } },
      rolledBack: false,
      lockRepaired: false,
    })
    expect(outcome.message).toContain(
      "Not rolled back: release v1 is the app's first release: there is nothing to roll back to.",
    )
    expect(ctx.redeployed).toEqual([])
  })

  it('keeps secrets out of the message and the last lines', async () => {
    const fly = flyWith([{}])
    const leak = stream('2026.9.6/lan-no-token.log', ID, Date.now() - 10_000)
    leak.splice(1, 0, leak[0]!.replace(/\[info\].*$/, `[info]env OPENCLAW_GATEWAY_TOKEN=${SECRET}`))
    fly.logScripts = [{ lines: () => leak, end: 'hold' }]
    const outcome = await runHealthGate(context(fly, { rollback: false }))
    expect(outcome.judged.verdict.health).toBe('unhealthy')
    expect(outcome.message).not.toContain(SECRET)
    expect(outcome.judged.lastLines.join('\n')).toContain('OPENCLAW_GATEWAY_TOKEN=***')
    expect(outcome.summary.join('\n')).toContain('Rollback is off')
  })

  it('fails on health-url after a healthy log gate', async () => {
    const fly = flyWith([{}])
    fly.logScripts = [{ lines: () => stream('2026.9.6/ready-lan.log', ID, Date.now() - 10_000), end: 'hold' }]
    fly.releases = []
    const fetch500 = (async () => new Response('down', { status: 503 })) as typeof fetch
    const ctx = context(fly, { healthUrl: 'https://my-openclaw.fly.dev/healthz', rollback: false, healthTimeoutSec: 1 })
    ctx.tuning = { ...ctx.tuning, fetch: fetch500 }
    const outcome = await runHealthGate(ctx)
    expect(outcome).toMatchObject({ judged: { verdict: { health: 'unhealthy', cause: 'health-url' } } })
    expect(outcome.message).toContain('answered 503')
  })
})

describe('health-url probe', () => {
  it('retries 5xx and connection errors, and passes on any answer below 500', async () => {
    const answers: Array<number | Error> = [new Error('ECONNREFUSED'), 502, 401]
    const fakeFetch = (async () => {
      const next = answers.shift()!
      if (next instanceof Error) throw next
      return new Response('', { status: next })
    }) as typeof fetch
    const result = await probeHealthUrl('https://x.fly.dev/', Date.now() + 10_000, { fetch: fakeFetch, intervalMs: 1 })
    expect(result).toEqual({ ok: true, detail: 'https://x.fly.dev/ answered 401' })
    expect(answers).toHaveLength(0)
  })
})

describe('rollback target', () => {
  const rel = (Version: number, Status: string, ImageRef: string) => ReleaseSchema.parse({ Version, Status, ImageRef })

  it('picks the newest earlier completed release with another image', () => {
    const failed = { version: 9, imageRef: 'img:9' }
    const releases = [
      rel(9, 'complete', 'img:9'),
      rel(8, 'complete', 'img:9'),
      rel(7, 'interrupted', 'img:7'),
      rel(6, 'complete', 'img:6'),
      rel(5, 'complete', 'img:5'),
    ]
    expect(rollbackTarget(releases, failed).release?.Version).toBe(6)
  })

  it('explains when there is nothing to roll back to', () => {
    expect(rollbackTarget([rel(1, 'complete', 'img:1')], { version: 1, imageRef: 'img:1' })).toEqual({
      reason: "release v1 is the app's first release: there is nothing to roll back to",
    })
    expect(
      rollbackTarget([rel(2, 'complete', 'a'), rel(1, 'complete', 'a')], { version: 2, imageRef: 'a' }).release,
    ).toBeUndefined()
  })
})

describe('two deploys of one app', () => {
  const rel = (Version: number, Status: string, ImageRef: string) => ReleaseSchema.parse({ Version, Status, ImageRef })
  const machine = (id: string, version: number) =>
    MachineListSchema.parse([
      { id, state: 'started', config: { metadata: { fly_release_version: String(version) } } },
    ])[0]!

  it("rolls back only its own release, and only while it is the app's newest", () => {
    const releases = [rel(4, 'running', 'img:other'), rel(3, 'complete', 'img:3'), rel(2, 'complete', 'img:2')]
    expect(rollbackTarget(releases, { version: 3, imageRef: 'img:3' })).toEqual({
      reason: "release v3 is no longer the app's newest: release v4 from another deploy followed it",
    })
    // Another deploy's release that failed or was interrupted never served: it does not count.
    expect(newestAbove([rel(4, 'failed', 'x'), rel(5, 'interrupted', 'y'), rel(3, 'complete', 'z')], 3)).toBeUndefined()
    expect(newestAbove(releases, 3)?.Version).toBe(4)
  })

  it("another deploy's release on the machines after ours supersedes it", () => {
    expect(newerOnMachines([machine('aaaa1111bbbb22', 5)], 4)).toBe(5)
    expect(newerOnMachines([machine('aaaa1111bbbb22', 4)], 4)).toBeUndefined()
  })

  it("alongside a deploy, the gate judges the release of the machines its flyctl updated, never another run's", () => {
    const machines = [machine('aaaa1111bbbb22', 5)]
    const feed = { ownMachines: new Set<string>(), ownRelease: undefined, machinesAfter: undefined }
    // Another run's release v5 rolls while ours waits for the leases: not ours.
    expect(ownRelease(feed, machines, 3)).toBeUndefined()
    // Our flyctl said it updated the machine: what it runs now is ours.
    expect(ownRelease({ ...feed, ownMachines: new Set(['aaaa1111bbbb22']) }, [machine('aaaa1111bbbb22', 4)], 3)).toBe(4)
    // Once flyctl exited, the release it emitted, whatever the machines run by then.
    expect(ownRelease({ ...feed, ownRelease: 4, machinesAfter: machines }, machines, 3)).toBe(4)
  })
})

describe('stale lock command', () => {
  it('covers the lock locations of releases before the state-local tree, and never that tree', () => {
    expect(lockPatterns('/data')).toEqual(['/data/gateway.*.lock', '/tmp/openclaw-*/gateway.*.lock'])
    expect(staleLockCommand('/data')).not.toContain('/data/tmp/')
    expect(staleLockCommand('/data')).toMatch(/^sh -c '[^']*'$/)
  })

  it('refuses a state dir that would need quoting inside sh -c', () => {
    for (const bad of ["/data'; rm -rf /", '/da ta', 'relative', '/data/../etc', '/data/$HOME']) {
      expect(() => staleLockCommand(bad)).toThrow(/state-dir/)
    }
  })
})
