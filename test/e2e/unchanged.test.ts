// Runs that change nothing make no release (`skip-unchanged`, output `released`): the action runs
// as a process against the flyctl stand-in on the fake gateway, building a Dockerfile whose base
// image lives in the loopback registry stand-in (standin/registry/registry.ts), so that a moved
// tag, a registry error and an unreachable registry can each be played.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readCounters, type JournalEntry } from '../../standin/platform/inspect.ts'
import { startRegistry, type RegistryStandin } from '../../standin/registry/registry.ts'
import type { ActionResult } from '../../standin/runner/runner.ts'
import {
  ANTHROPIC_V1,
  ANTHROPIC_V2,
  baseInputs,
  calls,
  expectNoValues,
  expectSuccess,
  FAKE_TIMEOUT,
  runStep,
} from '../support/pipeline-e2e.ts'
import { GATEWAY_TOKEN, type StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

useWorlds()

const REPO = 'openclaw/base'
const registries: RegistryStandin[] = []

afterEach(async () => {
  for (const r of registries.splice(0)) await r.close()
})

async function setup(): Promise<{ world: StandinWorld; registry: RegistryStandin }> {
  const registry = await startRegistry()
  registries.push(registry)
  registry.push(REPO, '24')
  const world = await newWorld('fake-gateway:ready', 'e2e-pipeline-')
  fs.writeFileSync(
    path.join(world.dirs.workspace, 'Dockerfile'),
    `ARG BASE_TAG=24\nFROM ${registry.host}/${REPO}:\${BASE_TAG} AS base\nFROM base\nLABEL fly-standin.workload=fake-gateway:ready\nCOPY . /app\n`,
  )
  fs.writeFileSync(path.join(world.dirs.workspace, '.dockerignore'), 'notes/\n*.log\n')
  fs.mkdirSync(path.join(world.dirs.workspace, 'notes'))
  fs.writeFileSync(path.join(world.dirs.workspace, 'notes', 'todo.md'), 'one\n')
  fs.writeFileSync(path.join(world.dirs.workspace, 'app.js'), 'console.log(1)\n')
  return { world, registry }
}

interface Step {
  result: ActionResult
  calls: JournalEntry[]
  /** Machine starts and restarts during the run. */
  boots: number
}

async function step(world: StandinWorld, inputs: Record<string, string>): Promise<Step> {
  const before = await readCounters(world.state)
  const { result, calls: journal } = await runStep(world, inputs)
  const after = await readCounters(world.state)
  return {
    result,
    calls: journal,
    boots: after.machineStarts + after.machineRestarts - before.machineStarts - before.machineRestarts,
  }
}

function expectNoRelease(s: Step): void {
  expectSuccess(s.result)
  expect(s.result.outputs.released, tail(s.result)).toBe('false')
  expect(calls(s.calls, 'deploy')).toHaveLength(0)
  expect(calls(s.calls, 'secrets import')).toHaveLength(0)
  expect(s.boots).toBe(0)
  expect(s.calls.length, s.calls.map((c) => c.argv.join(' ')).join('\n')).toBeLessThanOrEqual(5)
}

function expectOneRelease(s: Step): void {
  expectSuccess(s.result)
  expect(s.result.outputs.released, tail(s.result)).toBe('true')
  expect(calls(s.calls, 'deploy')).toHaveLength(1)
  expect(s.boots).toBe(1)
}

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
