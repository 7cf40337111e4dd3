import { describe, expect, it } from 'vitest'
import { MachineListSchema, ReleaseListSchema } from '../../../src/fly/schemas.js'
import { flyctl, startFlyctl, TIMEOUT, writeConfig } from '../../support/rollout-e2e.ts'
import { newWorld, useWorlds } from '../../support/world.ts'

/**
 * Deploy and gate, the stand-in's side (the action's is test/e2e/rollout.test.ts): the stand-in's `fly deploy`
 * smoke-checks for 10 s and waits for health checks (superfly/flyctl v0.4.87
 * internal/machine/leasable_machine.go WaitForSmokeChecksToPass, WaitForHealthchecksToPass) and
 * leaves stopped machines stopped (internal/command/deploy/machines_launchinput.go shouldSkipLaunch).
 */
useWorlds()

describe('the stand-in waits as `fly deploy` does (flyctl v0.4.87)', () => {
  it(
    'a crash-looping machine fails the smoke check; its exit events carry restarting and restart_count; the release is failed',
    async () => {
      const w = await newWorld('fake-gateway:crash', 'e2e-rollout-')
      writeConfig(w)
      expect((await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])).code).toBe(0)
      const deploy = await flyctl(w, ['deploy', '--app', 'parity', '-y'])
      // machines_deploymachinesapp.go smokeChecksError.Error
      expect(deploy.stderr).toMatch(/Error: smoke checks for [0-9a-f]{14} failed: the app appears to be crashing/)
      expect(deploy.code).toBe(1)
      const list = MachineListSchema.parse(
        JSON.parse((await flyctl(w, ['machines', 'list', '-a', 'parity', '--json'])).stdout),
      )
      const exits = (list[0]?.events ?? []).filter((e) => e.type === 'exit') as Array<{
        request?: { exit_event?: Record<string, unknown>; restart_count?: number }
      }>
      // fly-go machine_types.go MachineRequest{exit_event{exit_code, restarting, exited_at}, restart_count}
      expect(exits[0]?.request?.exit_event).toMatchObject({ exit_code: 1, restarting: true })
      expect(exits[0]?.request?.exit_event?.exited_at).toEqual(expect.any(String))
      expect(exits[0]?.request?.restart_count).toBeGreaterThan(1)
      const releases = ReleaseListSchema.parse(
        JSON.parse((await flyctl(w, ['releases', '-a', 'parity', '--json'])).stdout),
      )
      expect(releases[0]?.Status).toBe('failed')
    },
    TIMEOUT,
  )

  it(
    'a gateway that crashes 8 s after boot passes the 10 s smoke window, and the deploy waits on its health checks',
    async () => {
      const w = await newWorld('fake-gateway:crash-late', 'e2e-rollout-')
      writeConfig(w)
      await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])
      const deploy = await flyctl(w, ['deploy', '--app', 'parity', '-y', '--wait-timeout', '25s'])
      expect(deploy.stdout).toMatch(/Checking health of machine [0-9a-f]{14}/)
      // leasable_machine.go WaitForHealthchecksToPass
      expect(deploy.stderr).toMatch(
        /timeout reached waiting for health checks to pass for machine [0-9a-f]{14}: context deadline exceeded/,
      )
    },
    TIMEOUT,
  )

  it(
    'the release reads `running` while the deploy waits and `interrupted` after Ctrl-C (exit 127); `immediate` waits for nothing',
    async () => {
      const w = await newWorld('fake-gateway:crash-late', 'e2e-rollout-')
      writeConfig(w)
      await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])
      // Inside the smoke window (the gateway crashes 8 s after boot): the deploy is still waiting.
      const pending = startFlyctl(w, ['deploy', '--app', 'parity', '-y'])
      await pending.printed('is up and running')
      const during = ReleaseListSchema.parse(
        JSON.parse((await flyctl(w, ['releases', '-a', 'parity', '--json'])).stdout),
      )
      expect(during[0]).toMatchObject({ Status: 'running', InProgress: true })
      pending.kill('SIGINT')
      expect((await pending.done).code).toBe(127)
      const after = ReleaseListSchema.parse(
        JSON.parse((await flyctl(w, ['releases', '-a', 'parity', '--json'])).stdout),
      )
      expect(after[0]).toMatchObject({ Status: 'interrupted', InProgress: false })

      const immediate = await flyctl(w, ['deploy', '--app', 'parity', '-y', '--strategy', 'immediate'])
      expect(immediate.code, immediate.stderr).toBe(0)
      expect(immediate.stdout).not.toMatch(/Checking health of machine|is up and running/)
      // Fly's docs: blue-green cannot be used with volumes.
      const bluegreen = await flyctl(w, ['deploy', '--app', 'parity', '-y', '--strategy', 'bluegreen'])
      expect(bluegreen.stderr).toMatch(/bluegreen deployment strategy is not supported when using mounted volumes/)
    },
    TIMEOUT,
  )

  it(
    'a stopped machine takes the new config but is not started (machines_launchinput.go shouldSkipLaunch)',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'e2e-rollout-')
      writeConfig(w)
      await flyctl(w, ['apps', 'create', 'parity', '--org', 'personal'])
      const first = await flyctl(w, ['deploy', '--app', 'parity', '-y'])
      expect(first.code).toBe(0)
      const [machine] = MachineListSchema.parse(
        JSON.parse((await flyctl(w, ['machines', 'list', '-a', 'parity', '--json'])).stdout),
      )
      // machines_deploymachinesapp.go spawnMachineInGroup, then plan.go updateOrCreateMachine: the
      // lines the action's gate reads machines on (src/health/rollout-feed.ts).
      expect(first.stdout).toContain(`Machine ${machine!.id} [app] was created`)
      await flyctl(w, ['machine', 'stop', machine!.id, '-a', 'parity'])
      const again = await flyctl(w, ['deploy', '--app', 'parity', '-y'])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain(`Updated machine config for ${machine!.id}`)
      const [after] = MachineListSchema.parse(
        JSON.parse((await flyctl(w, ['machines', 'list', '-a', 'parity', '--json'])).stdout),
      )
      expect(after?.state).toBe('stopped')
      expect(after?.config?.metadata?.fly_release_version).toBe('2')
    },
    TIMEOUT,
  )
})
