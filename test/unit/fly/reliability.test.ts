import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { judgeInterruptedDeploy } from '../../../src/stages/deploy.js'
import { FlyctlError } from '../../../src/fly/flyctl.js'

/**
 * Reliability under faults: the parts that need no process (the verdict on
 * an interrupted deploy, FlyctlError's text, the example workflows). The runs against the stand-in
 * are in test/e2e/reliability.test.ts.
 */
const REPO = path.resolve(import.meta.dirname, '../../..')

describe('transient failures', () => {
  it('judges an interrupted deploy from the releases Fly recorded', () => {
    const rel = (Version: number, Status: string) => ({
      Version,
      Status,
      Description: '',
      Reason: '',
      ImageRef: `img:${Version}`,
    })
    expect(judgeInterruptedDeploy([rel(3, 'complete')], 3)).toEqual({ action: 'repeat' })
    expect(judgeInterruptedDeploy([], 0)).toEqual({ action: 'repeat' })
    expect(judgeInterruptedDeploy([rel(4, 'complete'), rel(3, 'complete')], 3)).toEqual({ action: 'done', version: 4 })
    expect(judgeInterruptedDeploy([rel(4, 'failed'), rel(3, 'complete')], 3)).toEqual({
      action: 'failed',
      version: 4,
      status: 'failed',
    })
  })

  it("a FlyctlError names the command, flyctl's text, and why it was not repeated", () => {
    const e = new FlyctlError(
      'flyctl apps create x',
      1,
      'connection reset by peer',
      '',
      'Not repeated automatically: because',
    )
    expect(e.transient).toBe(true)
    expect(e.message).toBe(
      '`flyctl apps create x` failed (exit 1): connection reset by peer. Not repeated automatically: because',
    )
  })
})

describe('concurrent runs of one app', () => {
  it('the example workflows serialize runs per app with a concurrency group', () => {
    const dir = path.join(REPO, 'examples')
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yml'))
    expect(files.length).toBeGreaterThan(0)
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8')
      // At the workflow's top, or per job where one job fans out to many apps (fleet.yml's matrix).
      expect(text, f).toMatch(/^\s*concurrency:\n\s+group: .*\n\s+cancel-in-progress: false/m)
    }
  })
})
