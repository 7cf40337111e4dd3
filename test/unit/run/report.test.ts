import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MachineListSchema } from '../../../src/fly/schemas.js'
import {
  buildOutputs,
  buildSummary,
  formatMs,
  machineRows,
  newRunRecord,
  writeReport,
  type RunRecord,
} from '../../../src/run/report.js'
import { StageRunner } from '../../../src/run/stage-runner.js'

function deployedRun(): RunRecord {
  const run = newRunRecord({ app: 'my-openclaw', private: false })
  return {
    ...run,
    url: 'https://my-openclaw.fly.dev/',
    release: 7,
    image: 'registry.fly.io/my-openclaw:deployment-01J',
    machines: [
      {
        id: '148ed193b95389',
        region: 'iad',
        state: 'started',
        memoryMb: 2048,
        command: 'node dist/index.js gateway --port 3000 --bind lan',
      },
    ],
    secretsSynced: ['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'],
    overrides: [{ machineId: '148ed193b95389', memoryMb: 2048 }],
    health: { verdict: 'healthy', message: 'gateway ready on 0.0.0.0:3000' },
    flyctlVersion: '0.4.87',
    flyConfig: '/tmp/runner/fly-deploy/fly.toml',
    released: true,
    stages: [
      { name: 'install', ms: 850, status: 'ok' },
      { name: 'deploy', ms: 95_400, status: 'ok', note: 'release v7' },
    ],
  }
}

describe('buildOutputs', () => {
  it('sets every output of docs/CONTRACT.md', () => {
    expect(buildOutputs(deployedRun())).toEqual({
      'app-name': 'my-openclaw',
      'app-url': 'https://my-openclaw.fly.dev/',
      'release-version': '7',
      image: 'registry.fly.io/my-openclaw:deployment-01J',
      'machine-ids': '148ed193b95389',
      'flyctl-version': '0.4.87',
      'fly-config': '/tmp/runner/fly-deploy/fly.toml',
      'secrets-synced': 'ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN',
      health: 'healthy',
      'rolled-back': 'false',
      released: 'true',
      'snapshot-id': '',
      'gateway-release': '',
    })
  })
  it('released: false for a run that made no release, true after a rollback', () => {
    expect(buildOutputs({ ...deployedRun(), released: false }).released).toBe('false')
    expect(buildOutputs({ ...deployedRun(), released: undefined, rolledBack: true }).released).toBe('true')
  })
  it('reports the serving release after a rollback, no URL when private, and a dry run as skipped', () => {
    expect(
      buildOutputs({ ...deployedRun(), rolledBack: true, servingRelease: 8, health: { verdict: 'unhealthy' } }),
    ).toMatchObject({
      'release-version': '8',
      'rolled-back': 'true',
      health: 'unhealthy',
    })
    expect(buildOutputs({ ...deployedRun(), private: true })['app-url']).toBe('')
    const dry = buildOutputs({
      ...newRunRecord({ app: 'a-b', private: false }),
      dryRunPlan: emptyPlan(),
      secretsSynced: ['X'],
    })
    expect(dry).toMatchObject({ health: 'skipped', 'secrets-synced': '', 'release-version': '' })
  })
})

function emptyPlan() {
  return {
    create: [],
    secretsAdd: [],
    secretsUpdate: [],
    secretsPrune: [],
    deployCommand: '',
    overrides: [],
    ipChanges: [],
  }
}

describe('buildSummary', () => {
  it('shows app, URL, release, image, machines, secret names, overrides, health and stage times', () => {
    const md = buildSummary(deployedRun())
    expect(md).toMatch(/^## ✅ Deployed <code>my-openclaw<\/code>/)
    expect(md).toContain('| **Release** | v7 |')
    expect(md).toContain('https://my-openclaw.fly.dev/')
    expect(md).toContain('<code>registry.fly.io/my-openclaw:deployment-01J</code>')
    expect(md).toContain(
      '| <code>148ed193b95389</code> | iad | started | 2048 MB | <code>node dist/index.js gateway --port 3000 --bind lan</code> |',
    )
    expect(md).toContain('<code>ANTHROPIC_API_KEY</code>, <code>OPENCLAW_GATEWAY_TOKEN</code>')
    expect(md).toContain('healthy: gateway ready on 0.0.0.0:3000')
    expect(md).toContain('| deploy | ok | 1 min 35 s | release v7 |')
    expect(md).toContain('| install | ok | 850 ms |')
  })

  it('shows a failed run with its error, what ran, and a rollback', () => {
    const run: RunRecord = {
      ...deployedRun(),
      error: 'gateway unhealthy: out of memory (SIGABRT)\nfix: memory = "2048mb"',
      rolledBack: true,
      servingRelease: 6,
      health: { verdict: 'unhealthy', message: 'out of memory' },
    }
    run.stages.push({ name: 'health', ms: 30_000, status: 'failed', note: 'out of memory' })
    const md = buildSummary(run)
    expect(md).toMatch(/^## ❌ Deploy of <code>my-openclaw<\/code> failed/)
    expect(md).toContain('> gateway unhealthy: out of memory (SIGABRT)')
    expect(md).toContain('> fix: memory = "2048mb"')
    expect(md).toContain('v7, rolled back: v6 serves')
    expect(md).toContain('| health | failed | 30.0 s | out of memory |')
  })

  it("shows a dry run's plan: creations, secret names, the deploy command, overrides, IP changes", () => {
    const md = buildSummary({
      ...newRunRecord({ app: 'my-openclaw', private: true }),
      dryRunPlan: {
        create: ['app my-openclaw in org personal', 'volume openclaw_data (1 GB, iad)'],
        secretsAdd: ['ANTHROPIC_API_KEY'],
        secretsUpdate: ['OPENCLAW_GATEWAY_TOKEN'],
        secretsPrune: ['OLD_KEY'],
        deployCommand: 'flyctl deploy /ws --config /tmp/fly.toml --app my-openclaw --no-public-ips -y',
        overrides: ['memory: 2048 MB'],
        ipChanges: ['released v4 137.66.1.1'],
      },
    })
    expect(md).toMatch(/^## 🧪 Dry run/)
    expect(md).toContain('| Create | app my-openclaw in org personal, volume openclaw\\_data (1 GB, iad) |')
    expect(md).toContain('| Secrets to prune | <code>OLD_KEY</code> |')
    expect(md).toContain('<code>flyctl deploy /ws --config /tmp/fly.toml --app my-openclaw --no-public-ips -y</code>')
    expect(md).toContain('none (private deployment: no public IPs)')
    expect(md).not.toContain('### Secrets synced')
  })

  it('keeps table cells intact whatever the text holds', () => {
    const run = deployedRun()
    run.machines[0]!.command = 'sh -c "a | b"\nsecond `line`'
    run.stages.push({ name: 'render', ms: 1, status: 'failed', note: 'bad | pipe <b>' })
    const md = buildSummary(run)
    const machineRow = md.split('\n').find((l) => l.includes('148ed193b95389') && l.includes('sh -c'))!
    expect(machineRow.split(' | ')).toHaveLength(5)
    expect(md).toContain('bad &#124; pipe &lt;b&gt;')
  })
})

describe('stage records', () => {
  it('records a stage that succeeds, one that throws (rethrown), one skipped and one whose result fails the step', async () => {
    const run = newRunRecord({ app: 'a-b', private: false })
    const stages = new StageRunner(run, new AbortController().signal)
    await expect(
      stages.run({
        name: 'ensure',
        run: async () => 3,
        note: (n: number) => `created ${n}`,
        record: (n, r) => (r.release = n),
      }),
    ).resolves.toBe(3)
    await expect(
      stages.run({
        name: 'deploy',
        run: async () => {
          throw new Error('boom\ndetails')
        },
      }),
    ).rejects.toThrow('boom')
    await expect(stages.run({ name: 'harden', skip: 'public deployment', run: async () => 1 })).resolves.toBeUndefined()
    await expect(
      stages.run({
        name: 'health',
        run: async () => 'unhealthy',
        record: (h, r) => (r.health = { verdict: 'unhealthy', message: h }),
        failure: (h) => `release ${h}`,
      }),
    ).rejects.toThrow('release unhealthy')
    expect(run.release).toBe(3)
    expect(run.health.verdict).toBe('unhealthy')
    expect(run.stages.map(({ name, status, note }) => ({ name, status, note }))).toEqual([
      { name: 'ensure', status: 'ok', note: 'created 3' },
      { name: 'deploy', status: 'failed', note: 'boom' },
      { name: 'harden', status: 'skipped', note: 'public deployment' },
      { name: 'health', status: 'failed', note: undefined },
    ])
    expect(run.stages.every((s) => s.ms >= 0)).toBe(true)
  })
  it('checks for cancellation before each stage', async () => {
    const cancel = new AbortController()
    const stages = new StageRunner(newRunRecord({ app: 'a-b', private: false }), cancel.signal)
    cancel.abort(new Error('cancelled'))
    const ran = vi.fn(async () => 1)
    await expect(stages.run({ name: 'deploy', run: ran })).rejects.toThrow('cancelled')
    expect(ran).not.toHaveBeenCalled()
  })
  it('formats durations', () => {
    expect([formatMs(0), formatMs(999), formatMs(1500), formatMs(61_000)]).toEqual([
      '0 ms',
      '999 ms',
      '1.5 s',
      '1 min 1 s',
    ])
  })
})

describe('machineRows', () => {
  it('reads id, region, state, memory and command, leaving destroyed machines out', () => {
    const list = MachineListSchema.parse([
      {
        id: 'm1',
        state: 'started',
        region: 'iad',
        config: { init: { cmd: ['node', 'a.js'] }, guest: { memory_mb: 2048 } },
      },
      { id: 'm2', state: 'destroyed', region: 'iad' },
    ])
    expect(machineRows(list)).toEqual([
      { id: 'm1', region: 'iad', state: 'started', memoryMb: 2048, command: 'node a.js' },
    ])
  })
})

describe('writeReport', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })
  it('writes every output and the scrubbed summary through the runner files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-'))
    const outputFile = join(dir, 'output')
    const summaryFile = join(dir, 'summary')
    writeFileSync(outputFile, '')
    writeFileSync(summaryFile, '')
    vi.stubEnv('GITHUB_OUTPUT', outputFile)
    vi.stubEnv('GITHUB_STEP_SUMMARY', summaryFile)
    const run = { ...deployedRun(), error: 'flyctl said: token hunter2-secret rejected' }
    const outputs = await writeReport(run, (t) => t.replaceAll('hunter2-secret', '***'))
    const written = readFileSync(outputFile, 'utf8')
    for (const [name, value] of Object.entries(outputs))
      expect(written).toMatch(
        new RegExp(`^${name}<<(\\S+)\\n${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n\\1$`, 'm'),
      )
    const summary = readFileSync(summaryFile, 'utf8')
    expect(summary).toContain('token *** rejected')
    expect(summary).not.toContain('hunter2-secret')
  })
})
