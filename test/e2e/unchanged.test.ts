// Runs that change nothing make no release (`skip-unchanged`, output `released`): the action runs
// as a process against the flyctl stand-in on the fake gateway, its base image in the loopback
// registry stand-in (test/support/unchanged.ts). This file: nothing changed, then each kind of change.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ANTHROPIC_V1, ANTHROPIC_V2, baseInputs, expectNoValues, FAKE_TIMEOUT } from '../support/pipeline-e2e.ts'
import { GATEWAY_TOKEN } from '../support/standin.ts'
import { expectNoRelease, expectOneRelease, REPO, setup, step, useUnchangedWorlds } from '../support/unchanged.ts'

useUnchangedWorlds()

describe('skip-unchanged', () => {
  it(
    'a second run with nothing changed makes no release; each change makes exactly one; an ignored file none',
    async () => {
      const { world, registry } = await setup()
      const inputs = baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 })
      const first = await step(world, inputs)
      expectOneRelease(first)
      const release = first.result.outputs['release-version']

      const same = await step(world, inputs)
      expectNoRelease(same)
      expect(same.result.outputs).toMatchObject({
        'release-version': release,
        health: 'healthy',
        'rolled-back': 'false',
      })
      expect(same.result.outputs['machine-ids']).toBe(first.result.outputs['machine-ids'])
      expect(same.result.outputs['secrets-synced']).toBe(first.result.outputs['secrets-synced'])
      expect(same.result.summary).toContain('Nothing changed')
      expect(same.result.summary).toContain(`${registry.host}/${REPO}:24 = sha256:`)

      // A file the ignore file leaves out is not part of the build context.
      fs.writeFileSync(path.join(world.dirs.workspace, 'notes', 'todo.md'), 'two\n')
      fs.writeFileSync(path.join(world.dirs.workspace, 'debug.log'), 'x\n')
      expectNoRelease(await step(world, inputs))

      fs.writeFileSync(path.join(world.dirs.workspace, 'app.js'), 'console.log(2)\n')
      const contextChanged = await step(world, inputs)
      expectOneRelease(contextChanged)
      expect(contextChanged.result.summary).toContain('changed since the serving release: image')

      registry.push(REPO, '24')
      expectOneRelease(await step(world, inputs))

      const secretChanged = await step(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V2 }))
      expectOneRelease(secretChanged)
      expect(secretChanged.result.summary).toContain('changed since the serving release: secrets')
      expectNoRelease(await step(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V2 })))

      const all = [first, same, contextChanged, secretChanged]
      expectNoValues(
        all.flatMap((s) => s.calls),
        secretChanged.result,
        [ANTHROPIC_V1, ANTHROPIC_V2, GATEWAY_TOKEN],
      )
      for (const s of all) expectNoValues(s.calls, s.result, [ANTHROPIC_V1, ANTHROPIC_V2, GATEWAY_TOKEN])
    },
    FAKE_TIMEOUT * 2,
  )
})
