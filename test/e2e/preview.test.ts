// Preview gateways end to end (docs/CONTRACT.md, "Previews"): dist/index.js run as a
// runner runs it on pull_request events, against the flyctl stand-in and the loopback GitHub API
// stand-in (standin/github/rest-api.ts), judged by the stand-in's journal, counters and state,
// and by the comments the GitHub stand-in holds.
//
// These cases run the fake gateway, in one world, in order: the lifecycle deploys production and
// takes PR 7 through opened, synchronize and closed; another repository's preview then is the app
// a `closed` refuses and cleanup-previews keeps, next to a preview of this repository that it
// destroys (run alone, the cleanup case deploys production and that preview itself). The
// lifecycle also runs on the REAL gateway, in test/gateway/preview.test.ts (both share
// test/support/preview-e2e.ts). The action's own decisions run in-process in
// test/unit/preview/preview-run.test.ts: cleanup-previews with every kind of preview side by side,
// cleanup-previews without github-token, and how each GitHub failure is worded.
import { beforeAll, describe, expect, it } from 'vitest'
import { readState } from '../../standin/platform/inspect.ts'
import {
  argvOf,
  BASE,
  commentsOn,
  deployProduction,
  eventEnv,
  expectNoSecrets,
  FAKE,
  FAKE_TIMEOUT,
  gh,
  GH_TOKEN,
  inputs,
  lifecycleIn,
  lines,
  previewMachines,
  REPO,
  step,
  usePreviewGitHub,
} from '../support/preview-e2e.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail, type StandinWorld } from '../support/standin.ts'

useWorlds()
usePreviewGitHub()

describe('previews of one production app (fake gateway), one world in order', () => {
  let world: StandinWorld
  const noComment = { 'github-token': '' }

  beforeAll(async () => {
    world = await newWorld(FAKE, 'e2e-preview-')
  })

  const deployed = async (app: string): Promise<boolean> => (await readState(world.state)).apps[app] !== undefined

  /** Production (the base app), as the lifecycle deploys it, unless an earlier case did. */
  async function baseApp(): Promise<void> {
    if (!(await deployed(BASE))) await deployProduction(world, inputs())
  }

  /** The other repository's PR 13 preview (oc-gw-pr-13), unless an earlier case deployed it. */
  async function otherRepositorysPreview(): Promise<void> {
    if (await deployed(`${BASE}-pr-13`)) return
    const other = await step(world, { ...inputs(), ...noComment }, eventEnv(world, 'opened', 13, 'someone/else'))
    expect(other.result.exitCode, tail(other.result)).toBe(0)
  }

  it(
    'deploys, redeploys with one restart, destroys with its volume; one comment updated each time',
    // Leaves production (oc-gw) deployed: the base app the cases below must leave alone.
    () => lifecycleIn(world, FAKE),
    FAKE_TIMEOUT,
  )

  it(
    'closed refuses an app whose machines carry another marker, and destroys nothing',
    async () => {
      // PR 13 of another repository deployed the same name (its marker says so).
      const other = await step(world, { ...inputs(), ...noComment }, eventEnv(world, 'opened', 13, 'someone/else'))
      expect(other.result.exitCode, tail(other.result)).toBe(0)
      const closed = await step(world, inputs(), eventEnv(world, 'closed', 13))
      expect(closed.result.exitCode).toBe(1)
      const error = lines(closed.result, 'error').join('\n')
      expect(error).toContain('carries OPENCLAW_DEPLOY_PREVIEW = "someone/else#13", not "openclaw/gw#13"')
      expect(error).toContain('nothing was destroyed')
      expect(argvOf(closed.calls, 'apps', 'destroy')).toEqual([])
      expect((await previewMachines(world, `${BASE}-pr-13`)).length).toBe(1)
      expect(closed.result.outputs['preview-action'] ?? '').toBe('')
    },
    FAKE_TIMEOUT,
  )

  it(
    'cleanup-previews destroys only the previews of this repository whose pull request is closed',
    async () => {
      // Next to production and the other repository's oc-gw-pr-13 (the cases above left them; run
      // alone, deployed here): one of this repository's. One whose pull request is still open is
      // kept: that decision runs in-process, with all three kinds side by side, in
      // test/unit/preview/preview-run.test.ts.
      await baseApp()
      await otherRepositorysPreview()
      const opened = await step(world, { ...inputs(), ...noComment }, eventEnv(world, 'opened', 11))
      expect(opened.result.exitCode, tail(opened.result)).toBe(0)
      gh.pulls.set(`${REPO}#11`, 'closed')
      gh.pulls.set(`${REPO}#13`, 'closed')
      gh.pulls.set('someone/else#13', 'closed')
      const asked = gh.requests.length

      const cleanup = await step(
        world,
        { app: BASE, mode: 'cleanup-previews', 'github-token': GH_TOKEN },
        { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: gh.url },
      )
      expect(cleanup.result.exitCode, tail(cleanup.result)).toBe(0)
      expect(cleanup.result.outputs['previews-destroyed']).toBe(`${BASE}-pr-11`)
      expect(argvOf(cleanup.calls, 'apps', 'destroy')).toEqual([['apps', 'destroy', `${BASE}-pr-11`, '-y']])
      // This repository's preview is gone; production and the other repository's are kept.
      const apps = (await readState(world.state)).apps
      expect(apps[`${BASE}-pr-11`]).toBeUndefined()
      expect(apps[BASE]?.machines.filter((m) => !m.destroyed)).toHaveLength(1)
      expect((await previewMachines(world, `${BASE}-pr-13`)).length).toBe(1)
      // Only this repository's preview was asked about; the other repository's was never touched.
      expect(
        gh.requests
          .slice(asked)
          .filter((r) => r.method === 'GET' && r.path.includes('/pulls/'))
          .map((r) => r.path)
          .sort(),
      ).toEqual([`/repos/${REPO}/pulls/11`])
      expect(cleanup.result.summary).toContain('not this repository')
      expectNoSecrets(cleanup.result, cleanup.calls)
    },
    FAKE_TIMEOUT,
  )

  it(
    'GitHub answering 500 (after its retries) only warns; the step succeeds',
    async () => {
      // One kind as a process; every kind (403, 404, the rate limits) is worded in-process in
      // test/unit/preview/preview-run.test.ts.
      gh.fail({ kind: 'server-error' })
      // A closed pull request whose preview is gone already: the comment is all that is left to do.
      const r = await step(world, inputs(), eventEnv(world, 'closed', 21))
      expect(r.result.exitCode, tail(r.result)).toBe(0)
      expect(r.result.outputs['preview-action']).toBe('destroyed')
      expect(lines(r.result, 'warning').join('\n')).toMatch(/500: Server Error\) \(after 3 attempts\)/)
      expectNoSecrets(r.result, r.calls)
      expect(commentsOn(21)).toEqual([])
    },
    FAKE_TIMEOUT,
  )
})
