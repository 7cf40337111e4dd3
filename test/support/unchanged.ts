/**
 * The world of the skip-unchanged e2e file (test/e2e/unchanged.test.ts): the fake gateway behind a
 * Dockerfile whose base image lives in the loopback registry stand-in (standin/registry/registry.ts),
 * so that a registry that cannot be reached can be played; and one step of the action with what it
 * released and how many machines it booted. Each kind of change alone, a moved tag, `skip-unchanged:
 * false` and the other ways a base image fails to resolve are played in-process
 * (test/unit/run/unchanged-run.test.ts).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, expect } from 'vitest'
import { readCounters, type JournalEntry } from '../../standin/platform/inspect.ts'
import { startRegistry, type RegistryStandin } from '../../standin/registry/registry.ts'
import type { ActionResult } from '../../standin/runner/runner.ts'
import { calls, expectSuccess, runStep } from './pipeline-e2e.ts'
import { tail, type StandinWorld } from './standin.ts'
import { newWorld, useWorlds } from './world.ts'

export const REPO = 'openclaw/base'
const registries: RegistryStandin[] = []

/** Call once at the top of the file: the worlds' cleanup, and the registries' after the file. */
export function useUnchangedWorlds(): void {
  useWorlds()
  afterAll(async () => {
    for (const r of registries.splice(0)) await r.close()
  })
}

/** A world and a registry for the file's tests (call it in a `beforeAll`): both live until the file ends. */
export async function setup(): Promise<{ world: StandinWorld; registry: RegistryStandin }> {
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

export interface Step {
  result: ActionResult
  calls: JournalEntry[]
  /** Machine starts and restarts during the run. */
  boots: number
}

export async function step(world: StandinWorld, inputs: Record<string, string>): Promise<Step> {
  const before = await readCounters(world.state)
  const { result, calls: journal } = await runStep(world, inputs)
  const after = await readCounters(world.state)
  return {
    result,
    calls: journal,
    boots: after.machineStarts + after.machineRestarts - before.machineStarts - before.machineRestarts,
  }
}

export function expectNoRelease(s: Step): void {
  expectSuccess(s.result)
  expect(s.result.outputs.released, tail(s.result)).toBe('false')
  expect(calls(s.calls, 'deploy')).toHaveLength(0)
  expect(calls(s.calls, 'secrets import')).toHaveLength(0)
  expect(s.boots).toBe(0)
  expect(s.calls.length, s.calls.map((c) => c.argv.join(' ')).join('\n')).toBeLessThanOrEqual(5)
}

export function expectOneRelease(s: Step): void {
  expectSuccess(s.result)
  expect(s.result.outputs.released, tail(s.result)).toBe('true')
  expect(calls(s.calls, 'deploy')).toHaveLength(1)
  expect(s.boots).toBe(1)
}
