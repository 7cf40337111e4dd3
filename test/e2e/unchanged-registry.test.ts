// Runs that change nothing make no release (`skip-unchanged`, output `released`): the action runs
// as a process against the flyctl stand-in on the fake gateway, its base image in the loopback
// registry stand-in (test/support/unchanged.ts). This file: a registry that fails, is private or cannot be reached.
import { describe, expect, it } from 'vitest'
import { baseInputs, FAKE_TIMEOUT } from '../support/pipeline-e2e.ts'
import { expectOneRelease, REPO, setup, step, useUnchangedWorlds } from '../support/unchanged.ts'

useUnchangedWorlds()

describe('skip-unchanged', () => {
  it(
    'a failing, private or unreachable registry deploys, with a notice that says why',
    async () => {
      const { world, registry } = await setup()
      const inputs = baseInputs()
      expectOneRelease(await step(world, inputs))

      registry.fault('error')
      const failing = await step(world, inputs)
      expectOneRelease(failing)
      expect(failing.result.stdout).toMatch(
        /::notice .*deploying, because the base image .* could not be resolved: .*answered 500/,
      )

      registry.fault('none')
      registry.setPrivate(REPO)
      const privateRepo = await step(world, inputs)
      expectOneRelease(privateRepo)
      expect(privateRepo.result.stdout).toMatch(/::notice .*needs credentials/)

      await registry.close()
      const unreachable = await step(world, inputs)
      expectOneRelease(unreachable)
      expect(unreachable.result.stdout).toMatch(/::notice .*could not be reached/)
    },
    FAKE_TIMEOUT * 2,
  )
})
