import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { stopMachine } from '../../standin/machines/runtime.ts'
import { readJournal, readState, writeFaults } from '../../standin/platform/inspect.ts'
import { API_TOKEN, type StandinWorld, writeDockerfile } from '../support/standin.ts'
import { command, expectDecidedByFatalLine, TOKEN_SECRET } from '../support/health-e2e.ts'
import { interpretStdout, type RunnerView } from '../support/workflow-commands.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'
import { stepError } from '../support/workflow-commands.ts'

/**
 * Text the action did not write never steers the runner: the hostile lines come from the
 * stand-in, as a Dockerfile's `RUN echo` in the build log of `fly deploy` and as a gateway
 * command's shell preamble in the machine's log, and the runner's reading of stdout is played by
 * test/support/workflow-commands.ts. Fake gateway: what matters is the text, not the gateway.
 * One world for the file. The app the build case deploys is healthy after it; the cases of
 * health-timeout and of a killed `fly deploy` redeploy it (a deploy of a fresh app each saved), in
 * that order, each from the release that serves it (servingApp: deployed first when a case runs
 * alone). The killed `fly deploy` case is the last on that app: it leaves the app's last release
 * interrupted (never closed, still `running`). No test leaves a fault behind.
 */
useWorlds()

let w: StandinWorld
/** The app of the build case, redeployed by the later cases. */
const APP = 'untrusted-app'

beforeAll(async () => {
  w = await newWorld('fake-gateway:ready', 'e2e-health-')
})

// A test's faults are its own: none is left for the next test's run.
afterEach(async () => {
  await writeFaults(w.state, {})
})

async function newestRelease(app: string): Promise<number> {
  const releases = (await readState(w.state)).apps[app]?.releases ?? []
  return Math.max(...releases.map((r) => r.Version))
}

/**
 * The version of the release that serves APP (its newest, complete): a first good release is
 * deployed here when the app has none (a case run alone), else it is the one the case before left.
 */
async function servingApp(): Promise<number> {
  if (!(await readState(w.state)).apps[APP]?.releases.some((r) => r.Status === 'complete')) {
    writeDockerfile(w.dirs, 'fake-gateway:ready')
    const first = await w.run({ app: APP, secrets: TOKEN_SECRET })
    expect(first.exitCode, tail(first)).toBe(0)
  }
  const newest = await newestRelease(APP)
  const release = (await readState(w.state)).apps[APP]!.releases.find((r) => r.Version === newest)
  expect(release?.Status).toBe('complete')
  return newest
}

const TIMEOUT = 300_000
/** Each a workflow command the runner would act on, printed where a builder or a gateway would. */
const HOSTILE = [
  '::add-mask::fly-deploy',
  '::set-output name=health::injected',
  '::error file=action.yml,line=1::injected error',
  '  ::add-path::/tmp/injected',
  'step ##[set-env name=INJECTED;]yes',
  '::set-env name=LD_PRELOAD::/tmp/injected.so',
]
const STOP = '::stop-commands::injected'

function expectNothingInjected(view: RunnerView): void {
  expect(view.stopped).toBe(false)
  expect(view.outputs).toEqual({})
  expect(view.env).toEqual({})
  expect(view.paths).toEqual([])
  expect(view.masks).not.toContain('fly-deploy')
  // An annotation made by the action may quote the lines (escaped); none is made by them.
  expect(view.annotations.filter((a) => a.message === 'injected error' || a.properties.file === 'action.yml')).toEqual(
    [],
  )
  // The action's own commands after the hostile lines: every group it opened was closed.
  expect(view.openGroups).toBe(0)
  // The action's own masks: the API token was registered, and never shows.
  expect(view.masks).toContain(API_TOKEN)
}

describe('no workflow command from others’ text', () => {
  it(
    'a Dockerfile that echoes workflow commands in the build: none acts, the step ends healthy with its own outputs',
    async () => {
      const dockerfile = path.join(w.dirs.workspace, 'Dockerfile')
      const runs = [...HOSTILE, STOP].map((l) => `RUN echo '${l}'`).join('\n')
      fs.appendFileSync(dockerfile, `${runs}\n`)
      const result = await w.run({ app: APP, secrets: TOKEN_SECRET, 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(0)
      // The lines reached the log (inside a stop-commands block), so a user still sees them.
      for (const line of HOSTILE) expect(result.stdout).toContain(line)
      expectNothingInjected(interpretStdout(result.stdout))
      expect(result.outputs.health).toBe('healthy')
    },
    TIMEOUT,
  )

  it(
    'a crash loop whose gateway command echoes workflow commands into the machine log: none acts, the action’s own error annotation does; the verdict is machine-exited within seconds, not "machine state is starting" at the timeout',
    async () => {
      writeDockerfile(w.dirs, 'fake-gateway:crash')
      const preamble = [...HOSTILE, STOP].map((l) => `echo '${l}'`).join('; ')
      const command = `sh -c "${preamble}; exec node dist/index.js gateway --port 3000 --bind lan"`
      const result = await w.run({ app: 'untrusted-crash', secrets: TOKEN_SECRET, command, 'health-timeout': '300' })
      // In the file's world the machine would go on crash-looping (flyd's 10 retries): stopped now.
      for (const m of (await readState(w.state)).apps['untrusted-crash']?.machines ?? [])
        await stopMachine(w.state, 'untrusted-crash', m.id)
      // The machine exits 1 at each start. With health-timeout 300, a verdict that names the exit
      // (never "not healthy within health-timeout") shows the gate decided on it, not at the timeout.
      // Regression: the gate passed exitGraceMs/bindWarningGraceMs through as undefined, which the
      // engine's defaults did not survive, so no grace ever elapsed (src/health/verdict.ts).
      const crash = expectDecidedByFatalLine(result, /the gateway process exited/)
      expect(crash).toMatch(/the gateway process exited \(exit code 1\)/)
      // The crash's own line quoted in the verdict: health.test.ts's crash loop (this one's log is the echoes).
      expect(crash).not.toMatch(/machine state is/)
      const view = interpretStdout(result.stdout)
      expectNothingInjected(view)
      const errors = view.annotations.filter((a) => a.level === 'error')
      expect(errors).toHaveLength(1)
      expect(errors[0]?.message).toMatch(/Health gate: /)
      expect(stepError(result)).toContain('::stop-commands::injected')
    },
    TIMEOUT,
  )
})

describe('health-timeout', () => {
  it(
    'the smallest accepted value deploys a healthy redeploy: the deadline counts from the first machine of the release starting',
    async () => {
      // The build case's healthy app (or a first one), redeployed: a plain Dockerfile again, and a
      // changed env.
      writeDockerfile(w.dirs, 'fake-gateway:ready')
      const own = (await servingApp()) + 1
      // A slow build (3 s longer than the whole health-timeout) never eats the gate's time.
      await writeFaults(w.state, { latencyMs: { deploy: 33_000 } })
      const result = await w.run({ app: APP, secrets: TOKEN_SECRET, env: 'RELEASE=slow', 'health-timeout': '30' })
      await writeFaults(w.state, {})
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs.health).toBe('healthy')
      expect(result.outputs['rolled-back']).toBe('false')
      expect(result.outputs['release-version']).toBe(String(own))
    },
    TIMEOUT,
  )
})

describe('flyctl ended from outside', () => {
  it(
    'a `fly deploy` killed by SIGKILL is reported as killed, never as the gateway, and the release the gate found healthy is not rolled back',
    async () => {
      // The healthy app the cases above left (the build case's, redeployed by the health-timeout
      // case), or a first one when this case runs alone, redeployed: a changed env makes this run
      // deploy. Either way a good release serves, which a rollback would go back to.
      writeDockerfile(w.dirs, 'fake-gateway:ready')
      const own = (await servingApp()) + 1
      const callsBefore = (await readJournal(w.state)).length
      // Cleared after the test (afterEach), whatever its outcome.
      await writeFaults(w.state, { killDeployAfterRollout: 'SIGKILL' })

      const result = await w.run({ app: APP, secrets: TOKEN_SECRET, env: 'RELEASE=killed', 'health-timeout': '300' })
      expect(result.exitCode, tail(result)).toBe(1)
      const error = stepError(result)
      expect(error).toMatch(/`flyctl deploy .*` failed \(exit 137\): killed by SIGKILL\. fly-deploy did not end it/)
      expect(error).toMatch(new RegExp(`took release v${own}, and the health gate had found it healthy, so it stays`))
      expect(error).not.toMatch(/Health gate|gateway process|the lines below/)
      expect(result.outputs['rolled-back']).toBe('false')
      expect(result.outputs.health).not.toBe('unhealthy')
      // No rollback deploy after it (the killed call itself never reached the stand-in's journal).
      const deploys = (await readJournal(w.state))
        .slice(callsBefore)
        .map(command)
        .filter((c) => /^deploy\b/.test(c))
      expect(deploys).toEqual([])
      expect(await newestRelease(APP)).toBe(own)
    },
    TIMEOUT,
  )
})

describe('a tool cache the job cannot write', () => {
  it(
    'fails naming RUNNER_TOOL_CACHE and the fix, not with a bare errno',
    async () => {
      // Root writes anywhere, so the cache is made unwritable by being under a file (ENOTDIR), as
      // a read-only or foreign folder is for the runner's user (EROFS, EACCES: the same message).
      const file = path.join(w.dirs.root, 'not-a-folder')
      fs.writeFileSync(file, '')
      const toolCache = path.join(file, 'tool-cache')
      const result = await w.run(
        { app: 'untrusted-tool-cache', secrets: TOKEN_SECRET },
        { env: { RUNNER_TOOL_CACHE: toolCache } },
      )
      expect(result.exitCode, tail(result)).toBe(1)
      const error = stepError(result)
      expect(error).toContain(`could not put flyctl 0.4.87 into the tool cache (RUNNER_TOOL_CACHE=${toolCache})`)
      expect(error).toMatch(/this job cannot write there \(ENOTDIR: .*\)\. Fix: .*RUNNER_TOOL_CACHE/)
      expect(error).not.toMatch(/^ENOTDIR/m)
    },
    TIMEOUT,
  )
})
