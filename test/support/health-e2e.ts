// Shared by the health gate's files: test/e2e/health.test.ts, probes.test.ts and untrusted-text.test.ts
// (fake gateway) and test/gateway/health.test.ts, health-fatal.test.ts and probes.test.ts (real gateway).
import * as fs from 'node:fs'
import * as path from 'node:path'
import { expect } from 'vitest'
import type { JournalEntry } from '../../standin/platform/inspect.ts'
import type { ActionResult } from '../../standin/runner/runner.ts'
import { GATEWAY_TOKEN, tail } from './standin.js'
import { stepError } from './workflow-commands.ts'

export const REAL = 'openclaw@2026.9.6'
export const LEGACY = 'openclaw@2026.3.13'
// A bound, not a speed (each case waits on up to three gates of health-timeout 300 on a machine
// that may be busy); `npm run bench` measures speed.
export const TIMEOUT = 1_200_000
export const TOKEN_SECRET = `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`

export function command(entry: JournalEntry): string {
  return entry.argv.join(' ')
}

export function expectDecidedByFatalLine(result: ActionResult, title: RegExp): string {
  const error = stepError(result)
  expect(result.exitCode, tail(result)).toBe(1)
  expect(result.outputs.health).toBe('unhealthy')
  expect(error).toMatch(title)
  expect(error).not.toMatch(/not healthy within health-timeout|before health-timeout/)
  return error
}

/**
 * A fake workload whose Dockerfile names a gateway release (the stand-in runs the LABEL's workload;
 * the action reads the release from ARG OPENCLAW_VERSION).
 */
export function fakeWithRelease(workspace: string, scenario: string, release: string): void {
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    `FROM node:24-slim\nARG OPENCLAW_VERSION=${release}\nLABEL fly-standin.workload=fake-gateway:${scenario}\n`,
  )
}
