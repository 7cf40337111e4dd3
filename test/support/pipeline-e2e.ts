// Shared by the pipeline's files: test/e2e/pipeline.test.ts and pipeline-fake.test.ts (fake gateway)
// and test/gateway/pipeline.test.ts (real gateway).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { expect } from 'vitest'
import { readJournal, readState, type JournalEntry } from '../../standin/platform/inspect.ts'
import { readRuntime } from '../../standin/machines/runtime.ts'
import { commandLine, listTree } from '../../standin/machines/procs.ts'
import { REPO_ROOT, type ActionResult } from '../../standin/runner/runner.ts'
import { API_TOKEN, GATEWAY_TOKEN, tail, type StandinWorld } from './standin.ts'

export const APP = 'e2e-pipeline'
export const FAKE = 'fake-gateway:ready'
// Bounds, not speeds (e2e files run side by side, on a machine that may be busy with other work);
// `npm run bench` measures speed. The real gateway's runs get health-timeout 300, as in e2e-health.
export const REAL_TIMEOUT = 900_000
export const FAKE_TIMEOUT = 300_000
export const REAL_HEALTH_TIMEOUT = { 'health-timeout': '300' }

export const ANTHROPIC_V1 = 'sk-ant-e2e-v1-3c9d1f0a7b'
export const ANTHROPIC_V2 = 'sk-ant-e2e-v2-84e2b6d5c1'
export const OPENAI_KEY = 'sk-openai-e2e-5a7c0e9d22'

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

// --- the runs -----------------------------------------------------------------------------

/** The inputs every run here starts from: the gateway token is required for the lan bind. */
export function baseInputs(secrets: Record<string, string> = {}): Record<string, string> {
  return {
    app: APP,
    'secrets-json': JSON.stringify({
      OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
      ...secrets,
      github_token: 'ghs_never_synced_e2e',
    }),
    'health-timeout': '120',
  }
}

/** Runs the action and returns its result plus the journal lines of this run only. */
export async function runStep(
  world: StandinWorld,
  inputs: Record<string, string>,
  env?: NodeJS.ProcessEnv,
): Promise<{ result: ActionResult; calls: JournalEntry[] }> {
  const before = (await readJournal(world.state)).length
  const result = await world.run(inputs, env ? { env } : {})
  const calls = (await readJournal(world.state)).slice(before)
  return { result, calls }
}

export function expectSuccess(result: ActionResult): void {
  expect(result.exitCode, tail(result)).toBe(0)
  expect(result.outputs.health, tail(result)).toBe('healthy')
}

// --- the journal --------------------------------------------------------------------------

/** The command path of a call: `machines list`, `deploy`, `secrets import`, ... (flags dropped). */
export function commandOf(entry: JournalEntry): string {
  const words: string[] = []
  for (const word of entry.argv) {
    if (word.startsWith('-') || words.length === 2) break
    words.push(word)
  }
  const [first, second] = words
  const grouped = [
    'apps',
    'app',
    'secrets',
    'secret',
    'volumes',
    'volume',
    'vol',
    'ips',
    'ip',
    'machines',
    'machine',
    'm',
  ]
  return first && second && grouped.includes(first) ? `${first} ${second}` : (first ?? '')
}

// Calls that only read (flyctl internal/command/*: none of them changes the platform).
export const READING = new Set([
  'version',
  'status',
  'apps list',
  'secrets list',
  'volumes list',
  'ips list',
  'machines list',
  'machine list',
  'machine status',
  'releases',
  'logs',
  'platform',
])

export const calls = (entries: JournalEntry[], command: string): JournalEntry[] =>
  entries.filter((e) => commandOf(e) === command)
export const mutating = (entries: JournalEntry[]): string[] =>
  entries.filter((e) => !READING.has(commandOf(e))).map((e) => e.argv.join(' '))

/** No call carried a secret value in its argv, and the action's own output holds none. */
export function expectNoValues(entries: JournalEntry[], result: ActionResult, values: string[]): void {
  const argvText = entries.map((e) => e.argv.join(' ')).join('\n')
  // `::add-mask::<value>` is how the action hands a value to the runner's masker (the runner
  // consumes that command and never shows it); every other line is what the job log shows.
  const log = (text: string): string =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')
  const printed = [log(result.stdout), log(result.stderr), result.summary, ...Object.values(result.commandFiles)].join(
    '\n',
  )
  for (const value of values) {
    for (const piece of value.split('\n').filter((l) => l.trim().length >= 8)) {
      expect(
        argvText.includes(piece),
        `a secret value (sha256 ${sha256(piece).slice(0, 12)}) is in a flyctl argv`,
      ).toBe(false)
      expect(
        printed.includes(piece),
        `a secret value (sha256 ${sha256(piece).slice(0, 12)}) is in the action's output`,
      ).toBe(false)
    }
  }
}

// --- the machines -------------------------------------------------------------------------

export interface GatewayProcess {
  pid: number
  argv: string[]
  env: Map<string, string>
}

/**
 * The gateway process running on a machine, found from the machine's process tree on the host
 * (both isolation modes): its argv and the environment it really started with (/proc/<pid>/environ).
 */
export function gatewayProcess(world: StandinWorld, machineId: string): GatewayProcess {
  const root = readRuntime(world.state, APP, machineId).pid
  expect(root, `machine ${machineId} has no running process`).toBeDefined()
  for (const entry of listTree(root as number)) {
    const argv = commandLine(entry.pid)
    if (argv[0]?.endsWith('node') && argv[1] === 'dist/index.js' && argv[2] === 'gateway') {
      const env = new Map<string, string>()
      for (const pair of fs.readFileSync(`/proc/${entry.pid}/environ`, 'utf8').split('\0')) {
        const eq = pair.indexOf('=')
        if (eq > 0) env.set(pair.slice(0, eq), pair.slice(eq + 1))
      }
      return { pid: entry.pid, argv, env }
    }
  }
  throw new Error(`no gateway process on machine ${machineId}`)
}

/** The app's machines that are not destroyed, from the platform state. */
export async function liveMachines(world: StandinWorld): Promise<string[]> {
  const app = (await readState(world.state)).apps[APP]
  return (app?.machines ?? []).filter((m) => !m.destroyed).map((m) => m.id)
}

/** The stand-in's own flyctl, as a user would run it against the platform afterwards. */
export function flyctl(world: StandinWorld, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(path.join(REPO_ROOT, 'standin/bin/flyctl'), args, {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FLYCTL_STANDIN_STATE: world.state,
      FLY_API_TOKEN: API_TOKEN,
    },
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A summary table row `| **Name** | value |`. */
export function summaryRow(summary: string, name: string): string | undefined {
  return summary.split('\n').find((l) => l.startsWith(`| **${name}** |`))
}

// --- 1-2: a fresh public deploy, then the same push again ------------------------------------
