// Runs that change nothing make no release (`skip-unchanged`, output `released`): the action runs
// as a process against the flyctl stand-in on the fake gateway, its base image in the loopback
// registry stand-in (test/support/unchanged.ts). This file: a changed config or override, and skip-unchanged false.
import { describe, expect, it } from 'vitest'
import { baseInputs, FAKE_TIMEOUT } from '../support/pipeline-e2e.ts'
import { expectNoRelease, expectOneRelease, setup, step, useUnchangedWorlds } from '../support/unchanged.ts'

useUnchangedWorlds()

describe('skip-unchanged', () => {
  it(
    'a changed config or override makes one release; skip-unchanged false always deploys',
    async () => {
      const { world } = await setup()
      const inputs = baseInputs()
      expectOneRelease(await step(world, inputs))
      const withEnv = { ...inputs, env: 'OPENCLAW_LOG_LEVEL=debug' }
      const configChanged = await step(world, withEnv)
      expectOneRelease(configChanged)
      expect(configChanged.result.summary).toContain('changed since the serving release: config')
      const withMemory = { ...withEnv, 'machine-memory': '4096mb' }
      expectOneRelease(await step(world, withMemory))
      expectNoRelease(await step(world, withMemory))
      const forced = await step(world, { ...withMemory, 'skip-unchanged': 'false' })
      expectOneRelease(forced)
      expect(forced.result.summary).toContain('skip-unchanged is false')
    },
    FAKE_TIMEOUT * 2,
  )
})
