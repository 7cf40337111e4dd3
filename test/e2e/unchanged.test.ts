// Runs that change nothing make no release (`skip-unchanged`, output `released`): the action runs
// as a process against the flyctl stand-in on the fake gateway, its base image in the loopback
// registry stand-in (test/support/unchanged.ts). One app, run after run: nothing changed, an
// ignored file, one push that changes every part the fingerprint holds (and no longer syncs a
// secret, which prune-secrets off leaves on the app), and a registry that cannot be reached. Each
// kind of change alone, a moved tag, `skip-unchanged: false` and the registry's other failures are
// played in-process (test/unit/run/unchanged-run.test.ts), where a run costs no processes.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { RegistryStandin } from '../../standin/registry/registry.ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { readState } from '../../standin/platform/inspect.ts'
import {
  ANTHROPIC_V1,
  ANTHROPIC_V2,
  APP,
  baseInputs,
  calls,
  expectNoValues,
  FAKE_TIMEOUT,
  OPENAI_KEY,
} from '../support/pipeline-e2e.ts'
import { GATEWAY_TOKEN, type StandinWorld } from '../support/standin.ts'
import {
  expectNoRelease,
  expectOneRelease,
  REPO,
  setup,
  step,
  useUnchangedWorlds,
  type Step,
} from '../support/unchanged.ts'

useUnchangedWorlds()

describe('skip-unchanged, run after run on one app', () => {
  let world: StandinWorld
  let registry: RegistryStandin
  /** Every step so far, for the secret-value check at the end. */
  const steps: Step[] = []
  const run = async (inputs: Record<string, string>): Promise<Step> => {
    const s = await step(world, inputs)
    steps.push(s)
    return s
  }
  const v1 = baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1, OPENAI_API_KEY: OPENAI_KEY })
  // A new ANTHROPIC_API_KEY value, OPENAI_API_KEY no longer synced, a config entry and the memory.
  const changed = {
    ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V2 }),
    env: 'OPENCLAW_LOG_LEVEL=debug',
    'machine-memory': '4096mb',
  }

  beforeAll(async () => {
    ;({ world, registry } = await setup())
  })

  it(
    'a second run with nothing changed makes no release, and reports the release that serves',
    async () => {
      const first = await run(v1)
      expectOneRelease(first)
      const release = first.result.outputs['release-version']

      const same = await run(v1)
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
    },
    FAKE_TIMEOUT,
  )

  it(
    'a file the ignore file leaves out makes no release',
    async () => {
      expect(steps.length, 'the first deploy ran').toBeGreaterThan(0)
      // Not part of the build context: .dockerignore leaves out notes/ and *.log.
      fs.writeFileSync(path.join(world.dirs.workspace, 'notes', 'todo.md'), 'two\n')
      fs.writeFileSync(path.join(world.dirs.workspace, 'debug.log'), 'x\n')
      expectNoRelease(await run(v1))
    },
    FAKE_TIMEOUT,
  )

  it(
    'a push that changes a file of the context, the secrets, the config and the memory makes exactly one release, naming each; the same run again none',
    async () => {
      expect(steps.length, 'the first deploy ran').toBeGreaterThan(0)
      fs.writeFileSync(path.join(world.dirs.workspace, 'app.js'), 'console.log(2)\n')
      const push = await run(changed)
      // One release, one machine boot: the staged secret, the config and the memory all go out in
      // the deploy's one rollout (expectOneRelease counts the boots).
      expectOneRelease(push)
      expect(push.result.summary).toContain('changed since the serving release: config, secrets, overrides, image')
      // prune-secrets is off: the name this run no longer syncs stays on the app, and nothing is unset.
      expect(calls(push.calls, 'secrets unset')).toEqual([])
      expect(Object.keys((await readState(world.state)).apps[APP]?.secrets ?? {}).sort()).toEqual([
        'ANTHROPIC_API_KEY',
        'OPENAI_API_KEY',
        'OPENCLAW_GATEWAY_TOKEN',
      ])
      expect(push.result.summary).not.toContain('Pruned:')

      // The new secret reads Deployed, the machine carries the new fingerprint and the memory, and
      // the name left on the app (not synced, not pruned) is none of this run's business: nothing to do.
      expectNoRelease(await run(changed))
    },
    FAKE_TIMEOUT * 2,
  )

  it(
    'a registry that cannot be reached deploys with nothing else changed, with a notice that says why',
    async () => {
      expect(steps.length, 'the first deploy ran').toBeGreaterThan(0)
      await registry.close()
      const unreachable = await run(changed)
      expectOneRelease(unreachable)
      expect(unreachable.result.stdout).toMatch(
        /::notice .*deploying, because the base image .* could not be resolved: .*could not be reached/,
      )
    },
    FAKE_TIMEOUT,
  )

  it('no step printed or passed a secret value', () => {
    expect(steps.length).toBeGreaterThan(0)
    const values = [ANTHROPIC_V1, ANTHROPIC_V2, OPENAI_KEY, GATEWAY_TOKEN]
    const last = steps.at(-1) as Step
    expectNoValues(
      steps.flatMap((s) => s.calls),
      last.result,
      values,
    )
    for (const s of steps) expectNoValues(s.calls, s.result, values)
  })
})
