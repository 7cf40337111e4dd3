import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { Plan } from '../../src/inputs/plan.js'
import { makePlan as basePlan } from './plan.js'

/** Shared by render*.test.ts and validate*.test.ts: a plan with every input left empty. */
export const WORKSPACE = '/home/runner/work/claw/claw'
export const RUNNER_TEMP = '/home/runner/work/_temp'

export function makePlan(overrides: Partial<Plan> = {}): Plan {
  return basePlan({
    app: 'my-claw',
    apiToken: 'fo1_test',
    dockerfile: join(WORKSPACE, 'Dockerfile'),
    workingDirectory: WORKSPACE,
    runnerTemp: RUNNER_TEMP,
    ...overrides,
  })
}

const FIXTURES = join(import.meta.dirname, '../fixtures')

export function fixture(...parts: string[]): string {
  return readFileSync(join(FIXTURES, ...parts), 'utf8')
}

/** A user's fly.toml as if checked out at WORKSPACE/<name>. */
export function userToml(name: string, at = join(WORKSPACE, 'fly.toml')): { path: string; text: string } {
  return { path: at, text: fixture('flytoml', name) }
}

/** Compares with test/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead. */
export function expectGolden(name: string, actual: string): void {
  const file = join(import.meta.dirname, '../golden', name)
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, actual)
    return
  }
  expect(actual).toBe(readFileSync(file, 'utf8'))
}
