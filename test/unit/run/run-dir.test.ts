import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { flyctlEnv } from '../../../src/fly/flyctl.js'
import { renderDirFor } from '../../../src/config/render.js'
import { claimRunDirs, flyctlConfigDirIn, runDirPrefix } from '../../../src/run/run-dir.js'

// Each run's own folder under RUNNER_TEMP (docs/CONTRACT.md, "Fleets": runs that share RUNNER_TEMP never share
// a rendered file), and flyctl's config folder inside it, given to flyctl alone.
describe('the run folder', () => {
  it('is claimed under RUNNER_TEMP/fly-deploy with a name no other run gets, even for the same app', () => {
    const temp = mkdtempSync(join(tmpdir(), 'run-dir-'))
    try {
      const claimed = Array.from({ length: 20 }, () => claimRunDirs(temp, 'my-claw'))
      expect(new Set(claimed.map((c) => c.runDir)).size).toBe(20)
      for (const c of claimed) {
        expect(c.runDir.startsWith(runDirPrefix(temp, 'my-claw'))).toBe(true)
        expect(dirname(c.runDir)).toBe(join(temp, 'fly-deploy'))
        expect(statSync(c.runDir).isDirectory()).toBe(true)
        expect(c.flyctlConfigDir).toBe(flyctlConfigDirIn(c.runDir))
      }
    } finally {
      rmSync(temp, { recursive: true, force: true })
    }
  })

  it('names RUNNER_TEMP when it cannot be made', () => {
    const temp = mkdtempSync(join(tmpdir(), 'run-dir-'))
    try {
      // RUNNER_TEMP that is a file: ENOTDIR.
      writeFileSync(join(temp, 'file'), '')
      expect(() => claimRunDirs(join(temp, 'file'), 'my-claw')).toThrow(/cannot create this run's folder .*RUNNER_TEMP/)
    } finally {
      rmSync(temp, { recursive: true, force: true })
    }
  })

  it('is where rendering writes; without one, RUNNER_TEMP/fly-deploy/<app> as before', () => {
    expect(renderDirFor({ runnerTemp: '/t', app: 'a1', runDir: '/t/fly-deploy/a1-XyZ' })).toBe('/t/fly-deploy/a1-XyZ')
    expect(renderDirFor({ runnerTemp: '/t', app: 'a1' })).toBe('/t/fly-deploy/a1')
  })
})

describe('FLY_CONFIG_DIR', () => {
  it("is set in flyctl's environment when the run has a folder for it, and overrides an inherited one", () => {
    expect(
      flyctlEnv({ HOME: '/home/runner', FLY_CONFIG_DIR: '/shared' }, 't', '/t/fly-deploy/a1-XyZ/flyctl').FLY_CONFIG_DIR,
    ).toBe('/t/fly-deploy/a1-XyZ/flyctl')
    expect(flyctlEnv({ HOME: '/home/runner' }, 't').FLY_CONFIG_DIR).toBeUndefined()
  })
})
