import { describe, expect, it } from 'vitest'
import { readCounters, readJournal, readState } from '../../standin/platform/inspect.ts'
import { flyctl, flyctlProcessesOf, TIMEOUT, TOKEN_SECRET } from '../support/rollout-e2e.ts'
import { writeDockerfile } from '../support/standin.js'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'
import { stepError } from '../support/workflow-commands.ts'

/**
 * Deploy and gate as one stage, against flyctl's real waits. The stand-in's `fly deploy`
 * smoke-checks for 10 s and waits for health checks (superfly/flyctl v0.4.87
 * internal/machine/leasable_machine.go WaitForSmokeChecksToPass, WaitForHealthchecksToPass) and
 * leaves stopped machines stopped (internal/command/deploy/machines_launchinput.go shouldSkipLaunch).
 * The fake gateway plays the broken releases; how fast verdicts come is `npm run bench`'s business.
 */
useWorlds()

describe('deploy and gate as one stage, through dist/index.js', () => {
  it(
    'a gateway that crashes 8 s after boot is unhealthy long before health-timeout: flyctl is interrupted and the push is rolled back',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-rollout-')
      const first = await w.run({ app: 'roll-late', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(first.exitCode, tail(first)).toBe(0)
      const goodImage = first.outputs.image!

      writeDockerfile(w.dirs, 'fake-gateway:crash-late')
      const second = await w.run({ app: 'roll-late', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      // Decided on the crash, not at the timeout (how fast: npm run bench, figure 2); flyctl alone
      // would have waited out its health checks for the whole 300 s.
      expect(stepError(second)).not.toMatch(/not healthy within health-timeout|timeout reached waiting/)
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({
        health: 'unhealthy',
        'rolled-back': 'true',
        image: goodImage,
        'release-version': '3',
      })
      expect(stepError(second)).toMatch(/the gateway process exited/)
      expect(stepError(second)).toMatch(/Rolled back: release v3 \(the image of v1/)
      expect(second.stdout).toMatch(/interrupting it \(SIGINT\)/)
      const releases = (await readState(w.state)).apps['roll-late']!.releases
      expect(releases.find((r) => r.Version === 2)?.Status).toBe('interrupted')
      expect(releases.find((r) => r.Version === 3)?.Status).toBe('complete')
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a failed deploy (smoke checks) is a verdict with the cause from the logs, not flyctl’s raw error, and is rolled back',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-rollout-')
      const first = await w.run({ app: 'roll-crash', secrets: TOKEN_SECRET })
      expect(first.exitCode, tail(first)).toBe(0)
      writeDockerfile(w.dirs, 'fake-gateway:oom')
      const second = await w.run({ app: 'roll-crash', secrets: TOKEN_SECRET })
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({ health: 'unhealthy', 'rolled-back': 'true', image: first.outputs.image })
      expect(stepError(second)).toMatch(/ran out of memory/)
      expect(stepError(second)).toMatch(/Fix: /)
      expect(flyctlProcessesOf(w)).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'a machine left stopped serves again after the next good push, started by the action and named in the summary',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-rollout-')
      const first = await w.run({ app: 'roll-stopped', secrets: TOKEN_SECRET })
      expect(first.exitCode, tail(first)).toBe(0)
      const id = first.outputs['machine-ids']!
      await flyctl(w, ['machine', 'stop', id, '-a', 'roll-stopped'])
      const before = await readCounters(w.state)
      // The same push again: its deploy is asked for, not left to skip-unchanged.
      const second = await w.run({ app: 'roll-stopped', secrets: TOKEN_SECRET, 'skip-unchanged': 'false' })
      expect(second.exitCode, tail(second)).toBe(0)
      expect(second.outputs.health).toBe('healthy')
      expect(second.summary).toContain(`started machine ${id}, which the deploy left stopped`)
      const journal = (await readJournal(w.state)).map((e) => e.argv.join(' '))
      expect(journal).toContain(`machine start ${id} --app roll-stopped`)
      const after = await readCounters(w.state)
      expect(after.machineStarts - before.machineStarts).toBe(1)
      expect(after.machineRestarts - before.machineRestarts).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'a healthy push costs exactly one machine restart and shows the gateway lines its verdict rests on',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-rollout-')
      const first = await w.run({ app: 'roll-push', secrets: TOKEN_SECRET })
      expect(first.exitCode, tail(first)).toBe(0)
      const before = await readCounters(w.state)
      const second = await w.run({ app: 'roll-push', secrets: `${TOKEN_SECRET}\nOPENCLAW_EXTRA=second-push-value` })
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
