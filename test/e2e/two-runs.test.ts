// Two runs deploying one app at once (two workflows without a `concurrency` group): real action
// processes (the dist bundle, through the runner helper) on one flyctl stand-in app, whose `fly
// deploy` takes the machines' leases as flyctl does. No run may report a release it did not make
// or roll back another's; the app ends on a healthy release; a run that lost says which release
// superseded its own, and how to keep it from happening.
import { beforeAll, describe, expect, it } from 'vitest'
import type { StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { judgeTwoRuns, raceTwoDeploys } from '../support/two-runs.ts'

useWorlds()
let world: StandinWorld
beforeAll(async () => {
  world = await newWorld(undefined, 'e2e-two-runs-')
})

describe('two runs on one app, started together', () => {
  it('each reports only its own release, none rolls back, the app ends healthy, the one that lost says superseded', async () => {
    const race = await raceTwoDeploys(world)
    const { verdicts, violations } = judgeTwoRuns(race)
    expect(violations, JSON.stringify({ verdicts, newest: race.newest }, null, 1)).toEqual([])
    // Either both won (the later release reached the machines only after the earlier run's verdict)
    // or one was superseded and said so; judgeTwoRuns holds each run to its promise.
    expect(Object.values(verdicts)).toContain('won')
  }, 600_000)
})
