// Preview gateways end to end (docs/CONTRACT.md, "Previews"): dist/index.js run as a
// runner runs it on pull_request events, against the flyctl stand-in and the loopback GitHub API
// stand-in (standin/github/rest-api.ts), judged by the stand-in's journal, counters and state,
// and by the comments the GitHub stand-in holds.
//
// These cases run the fake gateway; the lifecycle (opened, synchronize, closed) also runs on the
// REAL gateway, in e2e-preview-real.test.ts (both share test/support/preview-e2e.ts).
import { describe, expect, it } from 'vitest'
import { readState } from '../../standin/platform/inspect.ts'
import type { FailureKind } from '../../standin/github/rest-api.ts'
import {
  argvOf,
  BASE,
  commentsOn,
  eventEnv,
  expectNoSecrets,
  FAKE,
  FAKE_TIMEOUT,
  gh,
  GH_TOKEN,
  inputs,
  lifecycle,
  lines,
  previewMachines,
  REPO,
  step,
  usePreviewGitHub,
} from '../support/preview-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

useWorlds()
usePreviewGitHub()

describe('a preview through opened, synchronize and closed (fake gateway)', () => {
  it(
    'deploys, redeploys with one restart, destroys with its volume; one comment updated each time',
    () => lifecycle(FAKE),
    FAKE_TIMEOUT,
  )
})

describe('refusals and cleanup (fake gateway)', () => {
  it(
    'closed refuses an app whose machines carry another marker, and destroys nothing',
    async () => {
      const world = await newWorld(FAKE, 'e2e-preview-')
      // PR 8 of another repository deployed the same name (its marker says so).
      const other = await step(world, { ...inputs(), 'github-token': '' }, eventEnv(world, 'opened', 8, 'someone/else'))
      expect(other.result.exitCode, tail(other.result)).toBe(0)
      const closed = await step(world, inputs(), eventEnv(world, 'closed', 8))
      expect(closed.result.exitCode).toBe(1)
      const error = lines(closed.result, 'error').join('\n')
      expect(error).toContain('carries OPENCLAW_DEPLOY_PREVIEW = "someone/else#8", not "openclaw/gw#8"')
      expect(error).toContain('nothing was destroyed')
      expect(argvOf(closed.calls, 'apps', 'destroy')).toEqual([])
      expect((await previewMachines(world, `${BASE}-pr-8`)).length).toBe(1)
      expect(closed.result.outputs['preview-action'] ?? '').toBe('')
    },
    FAKE_TIMEOUT,
  )

  it(
    'cleanup-previews destroys only the previews of this repository whose pull request is closed',
    async () => {
      const world = await newWorld(FAKE, 'e2e-preview-')
      const noComment = { 'github-token': '' }
      for (const [n, repo] of [
        [11, REPO],
        [12, REPO],
        [13, 'someone/else'],
      ] as const) {
        const r = await step(world, { ...inputs(), ...noComment }, eventEnv(world, 'opened', n, repo))
        expect(r.result.exitCode, tail(r.result)).toBe(0)
      }
      const base = await step(world, { ...inputs(), ...noComment, mode: 'deploy' }, { GITHUB_REPOSITORY: REPO })
      expect(base.result.exitCode, tail(base.result)).toBe(0)
      gh.pulls.set(`${REPO}#11`, 'closed')
      gh.pulls.set(`${REPO}#12`, 'open')
      gh.pulls.set(`${REPO}#13`, 'closed')
      gh.pulls.set('someone/else#13', 'closed')

      const cleanup = await step(
        world,
        { app: BASE, mode: 'cleanup-previews', 'github-token': GH_TOKEN },
        { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: gh.url },
      )
      expect(cleanup.result.exitCode, tail(cleanup.result)).toBe(0)
      expect(cleanup.result.outputs['previews-destroyed']).toBe(`${BASE}-pr-11`)
      expect(argvOf(cleanup.calls, 'apps', 'destroy')).toEqual([['apps', 'destroy', `${BASE}-pr-11`, '-y']])
      expect(Object.keys((await readState(world.state)).apps).sort()).toEqual([BASE, `${BASE}-pr-12`, `${BASE}-pr-13`])
      // Only this repository's previews were asked about; the other repository's was never touched.
      expect(
        gh.requests
          .filter((r) => r.method === 'GET' && r.path.includes('/pulls/'))
          .map((r) => r.path)
          .sort(),
      ).toEqual([`/repos/${REPO}/pulls/11`, `/repos/${REPO}/pulls/12`])
      expect(cleanup.result.summary).toContain('not this repository')
      expectNoSecrets(cleanup.result, cleanup.calls)
    },
    FAKE_TIMEOUT,
  )

  it(
    'cleanup-previews without github-token is an input error before any flyctl call',
    async () => {
      const world = await newWorld(FAKE, 'e2e-preview-')
      const r = await step(world, { app: BASE, mode: 'cleanup-previews' }, { GITHUB_REPOSITORY: REPO })
      expect(r.result.exitCode).toBe(1)
      expect(lines(r.result, 'error').join('\n')).toContain('`github-token`: `cleanup-previews` reads')
      expect(r.calls).toEqual([])
      expect(r.result.outputs.health).toBe('skipped')
    },
    FAKE_TIMEOUT,
  )

  it(
    'GitHub answering 403, 404, 500 or a rate limit only warns; the step succeeds',
    async () => {
      const world = await newWorld(FAKE, 'e2e-preview-')
      const cases: Array<[FailureKind, RegExp]> = [
        ['forbidden', /403: Resource not accessible by integration.*pull-requests: write/],
        ['not-found', /404: Not Found/],
        ['server-error', /500: Server Error\) \(after 3 attempts\)/],
        ['rate-limit-403', /rate limit was reached \(403: API rate limit exceeded.*resets at/],
        ['rate-limit-429', /rate limit was reached \(429: You have exceeded a secondary rate limit/],
      ]
      for (const [kind, says] of cases) {
        gh.clearFailures()
        gh.fail({ kind, seconds: 120 })
        // A closed pull request whose preview is gone already: the comment is all that is left to do.
        const r = await step(world, inputs(), eventEnv(world, 'closed', 21))
        expect(r.result.exitCode, `${kind}\n${tail(r.result)}`).toBe(0)
        expect(r.result.outputs['preview-action']).toBe('destroyed')
        expect(lines(r.result, 'warning').join('\n'), kind).toMatch(says)
        expectNoSecrets(r.result, r.calls)
      }
      expect(commentsOn(21)).toEqual([])
    },
    FAKE_TIMEOUT,
  )
})
