// Two runs deploying one app at once (two workflows without a `concurrency` group): real action
// processes (the dist bundle, through the runner helper) on one flyctl stand-in app, whose `fly
// deploy` takes the machines' leases as flyctl does. No run may report a release it did not make
// or roll back another's; the app ends on a healthy release; a run that lost says which release
// superseded its own, and how to keep it from happening.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStandinWorld, type StandinWorld } from '../support/standin.ts'
import { judgeTwoRuns, raceTwoDeploys } from '../support/two-runs.ts'

let world: StandinWorld
beforeAll(async () => {
  world = await startStandinWorld('e2e-two-runs-')
})
afterAll(() => world.stop())

describe('two runs on one app, started together', () => {
  it('each reports only its own release, none rolls back, the app ends healthy, the one that lost says superseded', async () => {
    const race = await raceTwoDeploys(world)
    const { verdicts, violations } = judgeTwoRuns(race)
    expect(violations, JSON.stringify({ verdicts, newest: race.newest }, null, 1)).toEqual([])
    // Machines take 10 s to start: the later run's release is on the app before the earlier's
    // verdict, so the earlier run is superseded (and says so), and the later one serves.
    const loser = race.runs.find((r) => r.made !== race.newest.version)
    expect(loser && verdicts[loser.name]).toBe('superseded')
    expect(Object.values(verdicts).sort()).toEqual(['superseded', 'won'])
  }, 600_000)
})
