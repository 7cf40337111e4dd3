import { beforeAll, describe, expect, it } from 'vitest'
import { readCounters, readJournal, readState } from '../../standin/platform/inspect.ts'
import { flyctl, flyctlProcessesOf, TIMEOUT, TOKEN_SECRET } from '../support/rollout-e2e.ts'
import { writeDockerfile, type StandinWorld } from '../support/standin.js'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'
import { stepError } from '../support/workflow-commands.ts'

/**
 * Deploy and gate as one stage, against flyctl's real waits. The stand-in's `fly deploy`
 * smoke-checks for 10 s and waits for health checks (superfly/flyctl v0.4.87
 * internal/machine/leasable_machine.go WaitForSmokeChecksToPass, WaitForHealthchecksToPass) and
 * leaves stopped machines stopped (internal/command/deploy/machines_launchinput.go shouldSkipLaunch).
 * The fake gateway plays the broken releases; how fast verdicts come is `npm run bench`'s business.
 *
 * One world for the file, one app: each test starts from an app that serves a good release
 * (serving(): the first test deploys it), pushes what it is about, and leaves the app serving a
 * good release again (a rolled-back push serves the previous image). Versions and images are read
 * from the app as each test finds it. What a failed release's run says without rollback is checked
 * in-process (test/unit/run/reliability-run.test.ts).
 */
useWorlds()

const APP = 'roll-app'
let w: StandinWorld

beforeAll(async () => {
  w = await newWorld('fake-gateway:ready', 'e2e-rollout-')
})

/** The release that serves APP (its newest, complete), after a first good push when there is none yet. */
async function serving(): Promise<{ version: number; image: string }> {
  if (!(await readState(w.state)).apps[APP]?.releases.length) {
    writeDockerfile(w.dirs, 'fake-gateway:ready')
    const first = await w.run({ app: APP, secrets: TOKEN_SECRET })
    expect(first.exitCode, tail(first)).toBe(0)
  }
  const releases = (await readState(w.state)).apps[APP]!.releases
  const newest = [...releases].sort((a, b) => b.Version - a.Version)[0]!
  expect(newest.Status).toBe('complete')
  return { version: newest.Version, image: newest.ImageRef }
}

describe('deploy and gate as one stage, through dist/index.js', () => {
  it(
    'a gateway that crashes 8 s after boot is unhealthy long before health-timeout: flyctl is interrupted and the push is rolled back',
    async () => {
      const good = await serving()
      writeDockerfile(w.dirs, 'fake-gateway:crash-late')
      const second = await w.run({ app: APP, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      // Decided on the crash, not at the timeout (how fast: npm run bench, figure 2); flyctl alone
      // would have waited out its health checks for the whole 300 s.
      expect(stepError(second)).not.toMatch(/not healthy within health-timeout|timeout reached waiting/)
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({
        health: 'unhealthy',
        'rolled-back': 'true',
        image: good.image,
        'release-version': String(good.version + 2),
      })
      expect(stepError(second)).toMatch(/the gateway process exited/)
      expect(stepError(second)).toContain(`Rolled back: release v${good.version + 2} (the image of v${good.version}`)
      expect(second.stdout).toMatch(/interrupting it \(SIGINT\)/)
      const releases = (await readState(w.state)).apps[APP]!.releases
      expect(releases.find((r) => r.Version === good.version + 1)?.Status).toBe('interrupted')
      expect(releases.find((r) => r.Version === good.version + 2)?.Status).toBe('complete')
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a failed deploy (smoke checks) is a verdict with the cause from the logs, not flyctl’s raw error, and is rolled back',
    async () => {
      const good = await serving()
      writeDockerfile(w.dirs, 'fake-gateway:oom')
      const second = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true', image: good.image })
      expect(stepError(second)).toMatch(/ran out of memory/)
      expect(stepError(second)).toMatch(/Fix: /)
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a machine left stopped serves again after the next good push, started by the action and named in the summary',
    async () => {
      await serving()
      writeDockerfile(w.dirs, 'fake-gateway:ready')
      const machines = (await readState(w.state)).apps[APP]!.machines.filter((m) => !m.destroyed)
      expect(machines).toHaveLength(1)
      const id = machines[0]!.id
      await flyctl(w, ['machine', 'stop', id, '-a', APP])
      const before = await readCounters(w.state)
      // The journal is the world's: only this run's entries (from here on) are read.
      const from = (await readJournal(w.state)).length
      // The same push again: its deploy is asked for, not left to skip-unchanged.
      const second = await w.run({ app: APP, secrets: TOKEN_SECRET, 'skip-unchanged': 'false' })
      expect(second.exitCode, tail(second)).toBe(0)
      expect(second.outputs.health).toBe('healthy')
      expect(second.summary).toContain(`started machine ${id}, which the deploy left stopped`)
      const journal = (await readJournal(w.state)).slice(from).map((e) => e.argv.join(' '))
      expect(journal).toContain(`machine start ${id} --app ${APP}`)
      const after = await readCounters(w.state)
      expect(after.machineStarts - before.machineStarts).toBe(1)
      expect(after.machineRestarts - before.machineRestarts).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'a healthy push costs exactly one machine restart and shows the gateway lines its verdict rests on',
    async () => {
      await serving()
      writeDockerfile(w.dirs, 'fake-gateway:ready')
      const before = await readCounters(w.state)
      const second = await w.run({ app: APP, secrets: `${TOKEN_SECRET}\nOPENCLAW_EXTRA=second-push-value` })
      expect(second.exitCode, tail(second)).toBe(0)
      const after = await readCounters(w.state)
      expect(after.machineRestarts - before.machineRestarts).toBe(1)
      expect(after.crashRestarts - before.crashRestarts).toBe(0)
      const evidence =
        second.stdout.split("health: the gateway's own lines this verdict rests on:\n")[1]?.split('\n') ?? []
      expect(
        evidence.some((l) => /^ {2}[0-9a-f]{14} \S+Z .*\[gateway\] ready/.test(l)),
        second.stdout,
      ).toBe(true)
      expect(second.summary).toMatch(/The gateway's own lines this verdict rests on:/)
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )
})
