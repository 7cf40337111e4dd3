/**
 * Bad input, in-process: every case of test/support/bad-input-cases.ts runs through run() (as
 * run.test.ts runs it: @actions/core is test/support/fake-core.ts, flyctl the real runner over the
 * in-memory FakeFly, FROM digests from the scripted registry, no child process) and must be refused
 * before any call that changes Fly, with an error that names the input and says the fix, and no
 * secret value anywhere the run leaves. docs/ERRORS.md is the user-facing table of these errors; it
 * is checked against CASES here (UPDATE_ERRORS_TABLE=1 rewrites it). test/e2e/bad-inputs.test.ts
 * runs a few of the cases as the action's process, for what only the process shows (the runner's
 * stdout, the exit code, the command files). Unit tests of the parsers are in
 * test/unit/inputs/parse-inputs.test.ts.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import * as core from '../../support/fake-core.js'
import { newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { newFakeRegistry, type FakeRegistry } from '../../support/fake-registry.js'
import { inProcessDeps } from '../../support/in-process-run.js'
import {
  CASES,
  READING,
  caseInputs,
  caseTitle,
  errorsTable,
  filesUnder,
  leaks,
  writeWorkspaceFiles,
  ERRORS_MD,
} from '../../support/bad-input-cases.js'

/** Every file under RUNNER_TEMP just before the run removed its own folder (the rendered files). */
let renderedBeforeCleanup: Array<[string, string]> = []

vi.mock('@actions/core', () => core)
vi.mock('../../../src/run/run-dir.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/run/run-dir.js')>()
  return {
    ...real,
    removeRunFiles: (runDir: string, keep: string | undefined) => {
      renderedBeforeCleanup = filesUnder(process.env.RUNNER_TEMP as string)
      real.removeRunFiles(runDir, keep)
    },
  }
})
const { run } = await import('../../../src/main.js')

let root = ''
let workspace = ''
let temp = ''
let fly: FakeFly
let registry: FakeRegistry
const savedEnv = { ...process.env }

const deps = () => inProcessDeps({ fly, registry })

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-inputs-inprocess-'))
  workspace = path.join(root, 'workspace')
  fs.mkdirSync(workspace)
  // The Dockerfile the e2e world writes for the fake gateway (test/support/standin.ts writeDockerfile).
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    'FROM node:24-slim\nLABEL fly-standin.workload=fake-gateway:ready\n',
  )
  writeWorkspaceFiles(workspace)
})

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true })
})

beforeEach(() => {
  vi.clearAllMocks()
  temp = fs.mkdtempSync(path.join(root, 'temp-'))
  process.env.RUNNER_TEMP = temp
  process.env.GITHUB_WORKSPACE = workspace
  renderedBeforeCleanup = []
  fly = newFakeFly()
  registry = newFakeRegistry()
})

afterEach(() => {
  process.env = { ...savedEnv }
})

/** What @actions/core was handed beyond the fake's own records: debug lines, paths, variables. */
function otherCoreCalls(): string {
  return JSON.stringify([core.debug.mock.calls, core.addPath.mock.calls, core.notice.mock.calls])
}

describe('bad inputs are refused in-process before anything changes on Fly', () => {
  it('has at least 40 distinct cases', () => {
    expect(new Set(CASES.map((c) => `${c.input}=${c.value}=${c.shown ?? ''}`)).size).toBe(CASES.length)
    expect(new Set(CASES.map(caseTitle)).size).toBe(CASES.length)
    expect(CASES.length).toBeGreaterThanOrEqual(40)
  })

  it.each(CASES.map((c) => [caseTitle(c), c] as const))('%s', async (_title, c) => {
    core.reset(caseInputs(c))
    await run(deps())
    const calls = fly.calls.map((call) => call.line)
    // Every ::error line, as the runner's errorText reads them from stdout (setFailed's among them).
    const error = core.logs
      .filter((l) => l.startsWith('::error::'))
      .map((l) => l.slice('::error::'.length))
      .join('\n')
    // No secret value anywhere the run leaves: the failure, every log line, the outputs, the summary,
    // the other calls into @actions/core, flyctl's argv, every file rendered into RUNNER_TEMP (seen
    // just before the run removed its folder) and what stays there.
    const places: Array<[string, string]> = [
      ['failure', core.failed ?? ''],
      ['logs', core.logs.join('\n')],
      ['outputs', JSON.stringify(Object.fromEntries(core.outputs))],
      ['summary', core.summaryText],
      ['other core calls', otherCoreCalls()],
      ['flyctl argv', fly.calls.map((call) => JSON.stringify(call.args)).join('\n')],
      ...renderedBeforeCleanup.map(([file, text]): [string, string] => [`rendered ${file}`, text]),
      ...filesUnder(temp).map(([file, text]): [string, string] => [`left ${file}`, text]),
    ]
    expect(leaks(c, places), 'a secret value leaked').toEqual([])

    expect(core.failed, 'the step did not fail').toBeDefined()
    expect(error).toContain(c.names ?? `\`${c.input}\``)
    expect(error).toContain(c.says)
    expect(error).toContain(c.fix)
    expect(calls.filter((call) => !READING.test(call))).toEqual([])
    // The app was never created, so nothing can have changed on the platform.
    expect(calls.some((call) => call.startsWith('apps create'))).toBe(false)
    expect(core.summaryText).toContain('Nothing had been changed on Fly.')
  })

  it('docs/ERRORS.md carries exactly these cases', () => {
    const { found, expected } = errorsTable()
    expect(found, `${ERRORS_MD} lacks the table markers`).toBeDefined()
    expect(found).toBe(expected)
  })
})
