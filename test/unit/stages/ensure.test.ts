import { describe, expect, it } from 'vitest'
import { VolumeListSchema } from '../../../src/fly/schemas.js'
import {
  appCreateArgs,
  isAppNotFound,
  MissingResourceError,
  planEnsure,
  volumeCreateArgs,
  type EnsureWants,
} from '../../../src/stages/ensure.js'

const wants: EnsureWants = {
  app: 'my-openclaw',
  org: 'personal',
  create: true,
  region: 'iad',
  volume: 'openclaw_data',
  volumeSizeGb: 1,
}
const volumes = (...v: Array<{ name: string; region: string; state?: string }>) =>
  VolumeListSchema.parse(v.map((x, i) => ({ id: `vol_${i}`, state: 'created', ...x })))

describe('planEnsure', () => {
  it('creates app and volume when the app is missing', () => {
    expect(planEnsure(false, undefined, wants)).toEqual({ createApp: true, createVolume: true, elsewhere: [] })
  })

  it('creates nothing on a second run (idempotent)', () => {
    expect(planEnsure(true, volumes({ name: 'openclaw_data', region: 'iad' }), wants)).toEqual({
      createApp: false,
      createVolume: false,
      elsewhere: [],
    })
  })

  it('creates the volume in the region when it exists only elsewhere, and names the other region', () => {
    const plan = planEnsure(true, volumes({ name: 'openclaw_data', region: 'lhr' }), wants)
    expect(plan.createVolume).toBe(true)
    expect(plan.elsewhere.map((v) => v.region)).toEqual(['lhr'])
  })

  it('ignores destroyed volumes and volumes of other names', () => {
    const plan = planEnsure(
      true,
      volumes({ name: 'openclaw_data', region: 'iad', state: 'destroyed' }, { name: 'other', region: 'iad' }),
      wants,
    )
    expect(plan.createVolume).toBe(true)
  })

  it('needs no volume when the config mounts none', () => {
    expect(planEnsure(true, undefined, { ...wants, volume: undefined }).createVolume).toBe(false)
  })

  it('with create: false, a missing app is an error that says which and how to create it', () => {
    const run = () => planEnsure(false, undefined, { ...wants, create: false })
    expect(run).toThrow(MissingResourceError)
    expect(run).toThrow(/app my-openclaw does not exist.*fly apps create my-openclaw --org personal/)
    expect(run).toThrow(/fly volumes create openclaw_data --size 1 --region iad -a my-openclaw -y/)
    expect(run).toThrow(/set create: true/)
  })

  it('with create: false, a missing volume alone is an error naming only the volume', () => {
    let message = ''
    try {
      planEnsure(true, volumes(), { ...wants, create: false })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toMatch(/volume openclaw_data does not exist in region iad/)
    expect(message).not.toMatch(/apps create/)
  })

  it('with create: false and everything present, passes', () => {
    expect(
      planEnsure(true, volumes({ name: 'openclaw_data', region: 'iad' }), { ...wants, create: false }).createApp,
    ).toBe(false)
  })
})

describe('create argv', () => {
  it('matches the guide with -y for the volume (flyctl asks to confirm otherwise)', () => {
    expect(appCreateArgs(wants)).toEqual(['apps', 'create', 'my-openclaw', '--org', 'personal'])
    expect(volumeCreateArgs({ ...wants, volume: 'openclaw_data', volumeSizeGb: 3 })).toEqual([
      'volumes',
      'create',
      'openclaw_data',
      '--size',
      '3',
      '--region',
      'iad',
      '--app',
      'my-openclaw',
      '-y',
    ])
  })
})

describe('isAppNotFound', () => {
  it('recognises the API answer for a missing app', () => {
    expect(isAppNotFound('failed to get app: Could not find App "my-openclaw"')).toBe(true)
    expect(isAppNotFound('app not found: "my-openclaw"')).toBe(true)
    expect(isAppNotFound('You must be authenticated to view this.')).toBe(false)
  })
})
