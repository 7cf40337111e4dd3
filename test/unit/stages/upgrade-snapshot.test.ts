// Which gateway release serves and which one deploys, whether a deploy snapshots the volume first,
// how each deploy records its release, and how the summary and outputs show the upgrade.
import { describe, expect, it } from 'vitest'
import { MachineSchema, type Machine } from '../../../src/fly/schemas.js'
import { decideSnapshot, describeUpgrade, RELEASE_ENV, servingRelease } from '../../../src/stages/upgrade-snapshot.js'
import { buildDeployArgs } from '../../../src/stages/deploy.js'
import { describeChange } from '../../../src/run/change-journal.js'
import {
  buildOutputs,
  buildSummary,
  gatewayReleaseOutput,
  newRunRecord,
  type RunRecord,
} from '../../../src/run/report.js'
import { makePlan } from '../../support/plan.js'

function machine(id: string, image: string, env: Record<string, string> = {}, volume = 'vol_migrated'): Machine {
  return MachineSchema.parse({
    id,
    state: 'started',
    region: 'iad',
    config: {
      image,
      env,
      metadata: { fly_process_group: 'app' },
      mounts: [{ volume, path: '/data', name: 'openclaw_data' }],
    },
  })
}

const built = 'registry.fly.io/my-openclaw:deployment-01J'
const deploying = { version: '2026.9.6', source: 'Dockerfile:1 (FROM ghcr.io/openclaw/openclaw:2026.9.6)' }

describe('servingRelease', () => {
  it('reads the openclaw image tag, else the release the last deploy recorded', () => {
    expect(servingRelease([machine('m1', 'ghcr.io/openclaw/openclaw:2026.4.29')])?.version).toBe('2026.4.29')
    expect(servingRelease([machine('m1', built, { [RELEASE_ENV]: '2026.4.29' })])).toEqual({
      version: '2026.4.29',
      source: `${RELEASE_ENV} recorded by the last deploy`,
    })
  })
  it('is unknown for a built image without a record, machines that disagree, or no machine', () => {
    expect(servingRelease([machine('m1', built)])).toBeUndefined()
    expect(servingRelease([machine('m1', built, { [RELEASE_ENV]: 'latest' })])).toBeUndefined()
    expect(
      servingRelease([
        machine('m1', 'ghcr.io/openclaw/openclaw:2026.4.29'),
        machine('m2', 'ghcr.io/openclaw/openclaw:2026.9.6'),
      ]),
    ).toBeUndefined()
    expect(servingRelease([])).toBeUndefined()
  })
})

describe('decideSnapshot', () => {
  const serving = { version: '2026.4.29', source: 'image' }
  const base = {
    enabled: true,
    machines: [machine('m1', built, { [RELEASE_ENV]: '2026.4.29' })],
    volume: 'openclaw_data',
    serving,
    deploying,
  }

  it('snapshots the volume the app machine mounts when the release changes', () => {
    expect(decideSnapshot(base)).toEqual({
      take: true,
      target: { volumeId: 'vol_migrated', volumeName: 'openclaw_data', path: '/data', region: 'iad', machineId: 'm1' },
    })
    expect(describeUpgrade(serving, deploying)).toBe('2026.4.29 -> 2026.9.6')
  })
  it('takes none for the same release, upgrade-snapshot: false, a first deploy or no volume, without a notice', () => {
    for (const inputs of [
      { ...base, deploying: { version: '2026.4.29', source: 'x' } },
      { ...base, enabled: false },
      { ...base, machines: [] },
      { ...base, volume: undefined },
    ]) {
      expect(decideSnapshot(inputs)).toMatchObject({ take: false, notice: false })
    }
  })
  it('takes none with a notice when either release is unknown', () => {
    const unknownServing = decideSnapshot({ ...base, serving: undefined })
    expect(unknownServing).toMatchObject({ take: false, notice: true })
    expect(unknownServing.take === false && unknownServing.reason).toContain('unknown -> 2026.9.6')
    expect(decideSnapshot({ ...base, deploying: undefined })).toMatchObject({ take: false, notice: true })
  })
})

describe('the release each deploy records, and the journal of the restore', () => {
  it('passes the gateway release as a --env entry of fly deploy', () => {
    const args = buildDeployArgs(makePlan(), { path: '/r/fly.toml' }, { gatewayRelease: '2026.9.6' })
    expect(args.slice(args.indexOf('--env'), args.indexOf('--env') + 2)).toEqual(['--env', `${RELEASE_ENV}=2026.9.6`])
    expect(buildDeployArgs(makePlan(), { path: '/r/fly.toml' })).not.toContain('--env')
  })
  it('journals a snapshot and a clone as changes', () => {
    expect(describeChange(['volumes', 'snapshots', 'create', 'vol_1', '--app', 'a'])).toBe(
      'took a snapshot of volume vol_1',
    )
    expect(describeChange(['volumes', 'snapshots', 'list', 'vol_1', '--app', 'a', '--json'])).toBeUndefined()
    expect(describeChange(['machine', 'clone', 'm1', '--attach-volume', 'vol_2:/data'])).toBe('cloned machine m1')
  })
})

describe('gateway-release, snapshot-id and the summary', () => {
  const run = (extra: Partial<RunRecord>): RunRecord => ({
    ...newRunRecord({ app: 'my-openclaw', private: false }),
    ...extra,
  })
  const upgrade = { from: '2026.4.29', to: '2026.9.6', notes: [] as string[] }

  it('names what serves at the end', () => {
    expect(gatewayReleaseOutput(run({ upgrade: { ...upgrade, servesAtEnd: '2026.4.29' } }))).toBe('2026.4.29')
    expect(gatewayReleaseOutput(run({ upgrade: { ...upgrade, servesAtEnd: null } }))).toBe('')
    expect(gatewayReleaseOutput(run({ upgrade, release: 7 }))).toBe('2026.9.6') // deployed, gate not run
    expect(gatewayReleaseOutput(run({ upgrade }))).toBe('2026.4.29') // stopped before the deploy
    expect(gatewayReleaseOutput(run({}))).toBe('')
  })
  it('outputs the snapshot id and shows the upgrade with its commands as code', () => {
    const notes = ['The migrated volume vol_m is kept. Once you are sure: `fly volumes destroy vol_m -a my-openclaw`.']
    const record = run({ upgrade: { ...upgrade, snapshotId: 'vs_1', notes } })
    expect(buildOutputs(record)['snapshot-id']).toBe('vs_1')
    const summary = buildSummary(record)
    expect(summary).toContain('### Gateway upgrade 2026.4.29 -&gt; 2026.9.6')
    expect(summary).toContain('<code>fly volumes destroy vol_m -a my-openclaw</code>')
  })
})
