// Figure 7 of `npm run bench`: two runs of dist/index.js deploying one app, started together (two
// workflows without a `concurrency` group), each sample on a fresh stand-in world whose `fly deploy`
// takes machine leases as flyctl does (test/support/two-runs.ts). Per sample: which run won, which
// was superseded, and whether every promise held (no run reports a release it did not make or
// rolls back another's; the app ends on a healthy release; the loser says "superseded by vN").
import { startStandinWorld } from '../test/support/standin.ts'
import { judgeTwoRuns, raceTwoDeploys } from '../test/support/two-runs.ts'
import { log } from './lib.ts'

export interface TwoRunsSample {
  wallMs: number
  /** Run name to `won` or `superseded`. */
  verdicts: Record<string, string>
  violations: string[]
}

export async function twoRunsOnOneApp(samples: number): Promise<TwoRunsSample[]> {
  const out: TwoRunsSample[] = []
  for (let i = 0; i < samples; i++) {
    const world = await startStandinWorld('bench-two-runs-')
    try {
      const began = Date.now()
      const race = await raceTwoDeploys(world)
      const { verdicts, violations } = judgeTwoRuns(race)
      out.push({ wallMs: Date.now() - began, verdicts, violations })
      log(
        `  two runs ${i + 1}/${samples}: ${Object.entries(verdicts)
          .map(([n, v]) => `${n} ${v}`)
          .join(', ')}${violations.length ? `; BROKEN: ${violations.join('; ')}` : ''}`,
      )
    } finally {
      await world.stop()
    }
  }
  return out
}
