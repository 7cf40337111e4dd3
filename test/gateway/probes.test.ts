import * as fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { REAL, TIMEOUT, TOKEN_SECRET } from '../support/health-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

/**
 * The gateway's own probes, the release that serves, and locks per release, through dist/index.js
 * on the stand-in: its machines run Fly's configured checks against the workload (real gateway
 * where the behaviour is the gateway's; the fake plays a startup that never finishes and a held
 * lock, with the release named by the Dockerfile's ARG OPENCLAW_VERSION as the action reads it).
 */
useWorlds()

describe('release-aware checks, end to end', () => {
  it(
    "2026.9.6 deploys healthy with the guide's /startupz check, and the summary names the check that passed",
    async () => {
      const w = await newWorld(REAL, 'e2e-health-')
      const result = await w.run({ app: 'probe-startupz', secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs.health).toBe('healthy')
      const rendered = fs.readFileSync(result.outputs['fly-config']!, 'utf8')
      expect(rendered).toMatch(
        /\[\[http_service\.checks\]\]\ngrace_period = "2m"\ninterval = "15s"\nmethod = "GET"\ntimeout = "5s"\npath = "\/startupz"/,
      )
      expect(result.summary).toMatch(/Fly's check servicecheck-00-http-3000 \(GET \/startupz\) passing/)
    },
    TIMEOUT,
  )
})
