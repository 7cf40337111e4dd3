// A leaner run: each reading call made once and shared, nothing read that the run does
// not use. The pieces, in-process; the whole run's calls are counted in test/e2e/pipeline.test.ts and
// `npm run bench -- --only=redeploy,fleet`.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { releaseFromEmitted } from '../../../src/stages/deploy.js'
import { volumeMountedInRegion } from '../../../src/stages/ensure.js'
import { MachineListSchema, ReleaseListSchema, type Machine } from '../../../src/fly/schemas.js'
import { gateRelease } from '../../../src/health/gate.js'
import { RolloutFeed } from '../../../src/health/rollout-feed.js'
import { callsTo, inProcessFlyctl, newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'

describe('RolloutFeed: what fly deploy says to the gate', () => {
  it.each([
    ['[1/1] Updated machine config for 148ed193b95389', true],
    ['✔ Updated machine config for 148ed193b95389', true],
    ['Machine 148ed193b95389 [app] was created', true],
    ['Machine 148ed193b95389 was created', true],
    ['Updating machine config for 148ed193b95389', false],
    ['Updating existing machines in my-app with rolling strategy', false],
    ['Checking health of machine 148ed193b95389', false],
  ])('%s: took the config %s', (line, took) => {
    const feed = new RolloutFeed()
    feed.line(line)
    expect(feed.count).toBe(took ? 1 : 0)
  })

  it('next() wakes on the next event, or after its time, and at once for an event already past', async () => {
    const feed = new RolloutFeed()
    const never = new AbortController().signal
    const woken = feed.next(0, 60_000, never)
    feed.line('Updated machine config for 148ed193b95389')
    await woken // would time the test out if the event did not wake it
    await feed.next(0, 60_000, never) // count 1 > seen 0: returns at once
    const started = Date.now()
    await feed.next(1, 20, never)
    expect(Date.now() - started).toBeGreaterThanOrEqual(15)
    feed.end([])
    expect(feed.machinesAfter).toEqual([])
    expect(feed.count).toBe(2)
  })
})

describe('releaseFromEmitted: the release a deploy made, without reading releases again', () => {
  const before = ReleaseListSchema.parse([
    { Version: 3, Status: 'failed', ImageRef: 'registry.fly.io/a:3' },
    { Version: 2, Status: 'complete', ImageRef: 'registry.fly.io/a:2' },
  ])

  it('takes version and image from the JSON line, and the last good earlier release as the rollback target', () => {
    const stdout =
      'Watch your deployment\n{"id":"rel4","version":4,"image_ref":"registry.fly.io/a:4"}\nVisit your newly deployed app\n'
    expect(releaseFromEmitted(stdout, before)).toEqual({
      version: 4,
      imageRef: 'registry.fly.io/a:4',
      previousImageRef: 'registry.fly.io/a:2',
      previousVersion: 2,
    })
  })

  it('is undefined without an emitted image, so the caller reads the releases', () => {
    expect(releaseFromEmitted('{"id":"rel4","version":4}\n', before)).toBeUndefined()
    expect(releaseFromEmitted('Visit your newly deployed app\n', before)).toBeUndefined()
  })
})

describe('volumeMountedInRegion: a mounted volume exists, so ensure need not list volumes', () => {
  const machine = (region: string, state: string, name?: string): Machine =>
    MachineListSchema.parse([
      { id: 'm1', state, region, config: { mounts: name ? [{ volume: 'vol_1', path: '/data', name }] : [] } },
    ])[0] as Machine

  it.each([
    [[machine('iad', 'started', 'openclaw_data')], true],
    [[machine('iad', 'stopped', 'openclaw_data')], true],
    [[machine('ams', 'started', 'openclaw_data')], false],
    [[machine('iad', 'started', 'other')], false],
    [[machine('iad', 'started')], false],
    [[machine('iad', 'destroyed', 'openclaw_data')], false],
    [[], false],
  ])('%#', (machines, mounted) => {
    expect(volumeMountedInRegion(machines, 'openclaw_data', 'iad')).toBe(mounted)
  })
})

/** The in-process Fly, its `machines list` answering `machines` and every other call exiting 0 silently. */
function countedFly(machines = '[]'): FakeFly {
  const fake = newFakeFly()
  fake.answers.set('', () => ({}))
  fake.answers.set('machines list', () => ({ stdout: machines }))
  return fake
}

describe('Flyctl json({ reuse }): one read shared until something changes', () => {
  it('answers a reuse from the last identical read, however it was spelled', async () => {
    const fake = countedFly('[{"id":"m1","state":"started"}]')
    const fly = inProcessFlyctl(fake)
    await fly.json(['machines', 'list', '-a', 'app', '--json'], MachineListSchema)
    const shared = await fly.json(['machines', 'list', '--app', 'app'], MachineListSchema, { reuse: true })
    expect(shared.map((m) => m.id)).toEqual(['m1'])
    expect(fake.calls.map((c) => c.line)).toEqual(['machines list -a app --json'])
  })

  it('reads again after a mutating call, and without reuse', async () => {
    const fake = countedFly()
    const fly = inProcessFlyctl(fake)
    await fly.json(['machines', 'list', '--app', 'app'], MachineListSchema)
    await fly.run(['machine', 'start', 'm1', '--app', 'app'], { retry: { safe: 'idempotent', why: 'test' } })
    await fly.json(['machines', 'list', '--app', 'app'], MachineListSchema, { reuse: true })
    await fly.json(['machines', 'list', '--app', 'app'], MachineListSchema, { reuse: true })
    await fly.json(['machines', 'list', '--app', 'app'], MachineListSchema)
    expect(callsTo(fake, 'machines list')).toHaveLength(3)
  })

  it('never reuses a read taken while a mutating call ran', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const fake = countedFly()
    fake.answers.set('deploy', async () => (await gate, {}))
    const slow = inProcessFlyctl(fake)
    const deploying = slow.run(['deploy', '--app', 'app'], { retry: { safe: 'once', why: 'test' } })
    await slow.json(['machines', 'list', '--app', 'app'], MachineListSchema)
    release()
    await deploying
    await slow.json(['machines', 'list', '--app', 'app'], MachineListSchema, { reuse: true })
    expect(callsTo(fake, 'machines list')).toHaveLength(2)
  })
})

describe('the gate alongside fly deploy reads machines on flyctl lines, not on a timer', () => {
  /** Machines stay on release v1; `logs` holds until the gate stops; every other call is counted. */
  function listCounting(): { fake: FakeFly; lists: () => number } {
    const machine = {
      id: '148ed193b95389',
      state: 'started',
      config: { metadata: { fly_release_version: '1', fly_process_group: 'app' } },
    }
    const fake = newFakeFly()
    fake.answers.set('', () => ({ stdout: JSON.stringify([machine]) }))
    fake.answers.set(
      'logs',
      (_args, opts) =>
        new Promise((resolve) => opts.signal?.addEventListener('abort', () => resolve({}), { once: true })),
    )
    return { fake, lists: () => fake.calls.filter((c) => c.args[0] !== 'logs').length }
  }

  afterEach(() => {
    vi.useRealTimers()
  })

  it('a long build costs one read per 30 s; a line of flyctl one read and at most 3 more, 1 s apart', async () => {
    vi.useFakeTimers()
    const { fake, lists } = listCounting()
    const feed = new RolloutFeed()
    const stop = new AbortController()
    const gate = gateRelease({
      flyctl: inProcessFlyctl(fake),
      app: 'a',
      releaseVersion: { after: 1 },
      port: 3000,
      channels: [],
      timeoutMs: 600_000,
      signal: stop.signal,
      rollout: feed,
    })
    gate.catch(() => {})
    await vi.advanceTimersByTimeAsync(29_000)
    expect(lists()).toBe(0)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(lists()).toBe(1) // the 30 s read during the build
    await vi.advanceTimersByTimeAsync(20_000)
    expect(lists()).toBe(1) // a miss after a timed read brings no 1 s polling
    feed.line('Updated machine config for 148ed193b95389')
    await vi.advanceTimersByTimeAsync(0)
    expect(lists()).toBe(2)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(lists()).toBe(5) // then 3 quick reads, and back to waiting
    stop.abort()
    await vi.advanceTimersByTimeAsync(0)
  })
})
