import { beforeAll, describe, expect, it } from 'vitest'
import { readJournal } from '../../standin/platform/inspect.ts'
import {
  READING,
  caseInputs,
  caseTitle,
  caseTitled,
  filesUnder,
  leaks,
  writeWorkspaceFiles,
} from '../support/bad-input-cases.ts'
import type { StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { errorText, interpretStdout } from '../support/workflow-commands.ts'

/**
 * Bad input as a process: a few cases of test/support/bad-input-cases.ts run dist/index.js against
 * the flyctl stand-in and must be refused before any call that changes Fly: exit code 1, the error
 * as a `::error::` annotation on the runner's stdout naming the input and saying the fix, and no
 * secret value in stdout (bar the runner's `::add-mask::` lines), stderr, the command files,
 * flyctl's argv or any file left under RUNNER_TEMP. Every case, these included, runs in-process in
 * test/unit/run/bad-inputs.test.ts, which also checks docs/ERRORS.md against the cases; this file
 * proves the process path end to end for one case of each kind.
 */
/**
 * The cases run here, by title (test/support/bad-input-cases.ts caseTitle). `reads`: a reading call
 * the refusal needs; `annotates`: the properties (file, line) of an error annotation it prints.
 */
const E2E_CASES: Array<{ title: string; reads?: string; annotates?: Record<string, string> }> = [
  // A value the input parser refuses, before any flyctl call.
  { title: 'app: My_App' },
  // A rule across inputs: a public app whose gateway binds loopback (the health gate's own refusal).
  { title: 'bind: loopback (public app)' },
  // A preflight refusal that needs a reading call to the stand-in.
  { title: 'region: mrs', reads: 'platform regions' },
  // A file that does not parse, named by its path and line in the text and in the annotation.
  { title: 'config: bad.toml (unterminated string)', annotates: { file: 'bad.toml', line: '1' } },
  // Cases about leaking a secret: the value must reach neither the runner's stdout, the command
  // files nor the stand-in's argv through the real process.
  { title: 'deploy-args: `-t<token>`' },
  { title: 'secrets-json: `{"openclaw_gateway_token": ...}` (lower case)' },
  { title: 'build-args: `NPM_TOKEN=<the gateway token>`' },
  { title: 'secrets: a value holding `"""`' },
  { title: 'env: ANTHROPIC_API_KEY=sk-ant-env-secret-61' },
]

useWorlds()

describe('bad inputs are refused by the action process before anything changes on Fly', () => {
  let world: StandinWorld

  beforeAll(async () => {
    world = await newWorld('fake-gateway:ready', 'bad-inputs-')
    writeWorkspaceFiles(world.dirs.workspace)
  })

  const cases = E2E_CASES.map((e) => {
    const c = caseTitled(e.title)
    return [caseTitle(c), c, e] as const
  })

  it.each(cases)(
    '%s',
    async (_title, c, { reads, annotates }) => {
      const before = (await readJournal(world.state)).length
      const result = await world.run(caseInputs(c))
      const calls = (await readJournal(world.state)).slice(before).map((e) => e.argv.join(' '))
      const error = errorText(result.stdout)
      // No secret value anywhere the run leaves: stdout (bar the runner's ::add-mask:: lines), stderr,
      // outputs, summary, the runner's files, flyctl's argv, and every file left in RUNNER_TEMP.
      const places: Array<[string, string]> = [
        [
          'stdout',
          result.stdout
            .split('\n')
            .filter((l) => !l.startsWith('::add-mask::'))
            .join('\n'),
        ],
        ['stderr', result.stderr],
        ['outputs', JSON.stringify(result.outputs)],
        ['summary', result.summary],
        ...Object.entries(result.commandFiles),
        ['flyctl argv', calls.join('\n')],
        ...filesUnder(world.dirs.temp),
      ]
      expect(leaks(c, places), 'a secret value leaked').toEqual([])

      expect(result.exitCode).toBe(1)
      // The failure is setFailed's annotation on the runner's stdout, which the runner shows.
      expect(result.stdout.split('\n').some((l) => l.startsWith('::error::'))).toBe(true)
      expect(error).toContain(c.names ?? `\`${c.input}\``)
      expect(error).toContain(c.says)
      expect(error).toContain(c.fix)
      expect(calls.filter((call) => !READING.test(call))).toEqual([])
      // The app was never created, so nothing can have changed on the platform.
      expect(calls.some((call) => call.startsWith('apps create'))).toBe(false)
      // A refusal that needs Fly's answer made that reading call.
      if (reads) expect(calls.filter((call) => call.startsWith(reads))).not.toEqual([])
      // The runner reads the annotation's file and line, which put the error on the file's line.
      if (annotates)
        expect(interpretStdout(result.stdout).annotations).toContainEqual(
          expect.objectContaining({ level: 'error', properties: expect.objectContaining(annotates) }),
        )
    },
    120_000,
  )
})
