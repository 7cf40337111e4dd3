// The whole pipeline end to end (issue 6): dist/index.js run as a GitHub runner runs it, against
// the flyctl stand-in (standin/README.md), judged by what the stand-in recorded: its journal
// (every flyctl call's argv and whether it read stdin), its counters (machine starts and
// restarts) and its platform state, and by looking inside the machines it runs.
//
// The action's own behaviour (which calls, in which order, what it reports) runs on the fast
// fake gateway (`fake-gateway:ready`). The last block runs the REAL gateway (openclaw 2026.9.6),
// because there the question is the gateway's: does it start with the delivered config, the
// override command and the new secret, after exactly one restart.
//
// Secret values are never printed: they are compared by SHA-256 only, so a failing assertion
// shows digests, not values.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setupStandinRuntimes } from '../scripts/standin-setup.ts'
import { PINNED_FLYCTL_VERSION } from '../src/install-core.js'
import { readCounters, readJournal, readState, type JournalEntry } from '../standin/inspect.ts'
import { execOnMachine, readRuntime } from '../standin/machine-runtime.ts'
import { commandLine, listTree } from '../standin/runtime-procs.ts'
import { REPO_ROOT, type ActionResult } from '../standin/runner.ts'
import { DEFAULT_OPENCLAW_VERSION } from '../standin/runtime-install.ts'
import { API_TOKEN, GATEWAY_TOKEN, startStandinWorld, writeDockerfile, type StandinWorld } from './helpers/standin.ts'

const APP = 'e2e-pipeline'
const FAKE = 'fake-gateway:ready'
// Bounds, not speeds (test files run two at a time, on a machine that may be busy with other work);
// `npm run bench` measures speed. The real gateway's runs get health-timeout 300, as in e2e-health.
const REAL_TIMEOUT = 900_000
const FAKE_TIMEOUT = 300_000
const REAL_HEALTH_TIMEOUT = { 'health-timeout': '300' }

const ANTHROPIC_V1 = 'sk-ant-e2e-v1-3c9d1f0a7b'
const ANTHROPIC_V2 = 'sk-ant-e2e-v2-84e2b6d5c1'
const OPENAI_KEY = 'sk-openai-e2e-5a7c0e9d22'

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

// --- the world ----------------------------------------------------------------------------

const worlds: StandinWorld[] = []

async function newWorld(workload: string): Promise<StandinWorld> {
  const world = await startStandinWorld('e2e-pipeline-')
  worlds.push(world)
  writeDockerfile(world.dirs, workload)
  return world
}

async function stopWorld(world: StandinWorld): Promise<void> {
  await world.stop()
  fs.rmSync(world.state, { recursive: true, force: true })
  fs.rmSync(world.dirs.root, { recursive: true, force: true })
}

async function stopWorlds(): Promise<void> {
  for (const world of worlds.splice(0)) await stopWorld(world)
}

/** The inputs every run here starts from: the gateway token is required for the lan bind. */
function baseInputs(secrets: Record<string, string> = {}): Record<string, string> {
  return {
    app: APP,
    'secrets-json': JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN, ...secrets, github_token: 'ghs_never_synced_e2e' }),
    'health-timeout': '120',
  }
}

/** Runs the action and returns its result plus the journal lines of this run only. */
async function runStep(world: StandinWorld, inputs: Record<string, string>, env?: NodeJS.ProcessEnv): Promise<{ result: ActionResult; calls: JournalEntry[] }> {
  const before = (await readJournal(world.state)).length
  const result = await world.run(inputs, env ? { env } : {})
  const calls = (await readJournal(world.state)).slice(before)
  return { result, calls }
}

/** A failed run's last output, without any secret (the action scrubs its own log). */
function tail(result: ActionResult): string {
  return `exit ${result.exitCode}\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-2000)}`
}

function expectSuccess(result: ActionResult): void {
  expect(result.exitCode, tail(result)).toBe(0)
  expect(result.outputs.health, tail(result)).toBe('healthy')
}

// --- the journal --------------------------------------------------------------------------

/** The command path of a call: `machines list`, `deploy`, `secrets import`, ... (flags dropped). */
function commandOf(entry: JournalEntry): string {
  const words: string[] = []
  for (const word of entry.argv) {
    if (word.startsWith('-') || words.length === 2) break
    words.push(word)
  }
  const [first, second] = words
  const grouped = ['apps', 'app', 'secrets', 'secret', 'volumes', 'volume', 'vol', 'ips', 'ip', 'machines', 'machine', 'm']
  return first && second && grouped.includes(first) ? `${first} ${second}` : (first ?? '')
}

// Calls that only read (flyctl internal/command/*: none of them changes the platform).
const READING = new Set([
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

const calls = (entries: JournalEntry[], command: string): JournalEntry[] => entries.filter((e) => commandOf(e) === command)
const mutating = (entries: JournalEntry[]): string[] => entries.filter((e) => !READING.has(commandOf(e))).map((e) => e.argv.join(' '))

/** No call carried a secret value in its argv, and the action's own output holds none. */
function expectNoValues(entries: JournalEntry[], result: ActionResult, values: string[]): void {
  const argvText = entries.map((e) => e.argv.join(' ')).join('\n')
  // `::add-mask::<value>` is how the action hands a value to the runner's masker (the runner
  // consumes that command and never shows it); every other line is what the job log shows.
  const log = (text: string): string =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')
  const printed = [log(result.stdout), log(result.stderr), result.summary, ...Object.values(result.commandFiles)].join('\n')
  for (const value of values) {
    for (const piece of value.split('\n').filter((l) => l.trim().length >= 8)) {
      expect(argvText.includes(piece), `a secret value (sha256 ${sha256(piece).slice(0, 12)}) is in a flyctl argv`).toBe(false)
      expect(printed.includes(piece), `a secret value (sha256 ${sha256(piece).slice(0, 12)}) is in the action's output`).toBe(false)
    }
  }
}

// --- the machines -------------------------------------------------------------------------

interface GatewayProcess {
  pid: number
  argv: string[]
  env: Map<string, string>
}

/**
 * The gateway process running on a machine, found from the machine's process tree on the host
 * (both isolation modes): its argv and the environment it really started with (/proc/<pid>/environ).
 */
function gatewayProcess(world: StandinWorld, machineId: string): GatewayProcess {
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
async function liveMachines(world: StandinWorld): Promise<string[]> {
  const app = (await readState(world.state)).apps[APP]
  return (app?.machines ?? []).filter((m) => !m.destroyed).map((m) => m.id)
}

/** The stand-in's own flyctl, as a user would run it against the platform afterwards. */
function flyctl(world: StandinWorld, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(path.join(REPO_ROOT, 'standin/bin/flyctl'), args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, FLYCTL_STANDIN_STATE: world.state, FLY_API_TOKEN: API_TOKEN },
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A summary table row `| **Name** | value |`. */
function summaryRow(summary: string, name: string): string | undefined {
  return summary.split('\n').find((l) => l.startsWith(`| **${name}** |`))
}

// --- 1-2: a fresh public deploy, then the same push again ------------------------------------

describe('a fresh public deploy, then the same push again (fake gateway)', () => {
  let world: StandinWorld
  let firstMachine = ''
  const inputs = baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 })

  beforeAll(async () => {
    world = await newWorld(FAKE)
  })
  afterAll(stopWorlds)

  it(
    'creates the app and the volume, stages the secrets on stdin, deploys once and reports it',
    async () => {
      const { result, calls: journal } = await runStep(world, inputs)
      expectSuccess(result)

      // Created, each once, as the guide does by hand.
      expect(calls(journal, 'apps create').map((e) => e.argv)).toEqual([['apps', 'create', APP, '--org', 'personal']])
      expect(calls(journal, 'volumes create').map((e) => e.argv)).toEqual([
        ['volumes', 'create', 'openclaw_data', '--size', '1', '--region', 'iad', '--app', APP, '-y'],
      ])
      const state = (await readState(world.state)).apps[APP]
      expect(state?.volumes.map((v) => [v.name, v.region, v.size_gb])).toEqual([['openclaw_data', 'iad', 1]])

      // Secrets: one staged import, values on stdin only; github_token never reaches Fly.
      const imports = calls(journal, 'secrets import')
      expect(imports).toHaveLength(1)
      expect(imports[0]?.argv).toContain('--stage')
      expect(imports[0]?.stdin).toBe(true)
      expect(Object.keys(state?.secrets ?? {}).sort()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expectNoValues(journal, result, [GATEWAY_TOKEN, ANTHROPIC_V1, API_TOKEN, 'ghs_never_synced_e2e'])

      // One deploy; created before it, secrets staged before it.
      const deploys = calls(journal, 'deploy')
      expect(deploys).toHaveLength(1)
      const order = journal.map(commandOf)
      expect(order.indexOf('apps create')).toBeLessThan(order.indexOf('secrets import'))
      expect(order.indexOf('secrets import')).toBeLessThan(order.indexOf('deploy'))
      expect(mutating(journal).filter((c) => !/^(apps create|volumes create|secrets import|deploy) /.test(c))).toEqual([])

      // Outputs, checked against the platform.
      const machines = await liveMachines(world)
      expect(machines).toHaveLength(1)
      firstMachine = machines[0] as string
      const release = state?.releases.at(-1)
      expect(result.outputs['app-name']).toBe(APP)
      expect(result.outputs['app-url']).toBe(`https://${APP}.fly.dev/`)
      expect(result.outputs['release-version']).toBe(String(release?.Version))
      expect(result.outputs['release-version']).toBe('1')
      expect(result.outputs.image).toBe(release?.ImageRef)
      expect(result.outputs.image).not.toBe('')
      expect(result.outputs['machine-ids']).toBe(firstMachine)
      expect(result.outputs['secrets-synced']).toBe('ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN')
      expect(result.outputs['rolled-back']).toBe('false')
      expect(result.outputs['flyctl-version']).toBe(PINNED_FLYCTL_VERSION)
      expect(fs.existsSync(result.outputs['fly-config'] ?? '')).toBe(true)
      expect(await readCounters(world.state)).toEqual({ machineStarts: 1, machineRestarts: 0, crashRestarts: 0 })

      // The job summary: app, URL, release, image, machines and a time for every stage.
      const summary = result.summary
      expect(summary).toContain(`## ✅ Deployed <code>${APP}</code>`)
      expect(summaryRow(summary, 'URL')).toContain(`https://${APP}.fly.dev/`)
      expect(summaryRow(summary, 'Release')).toContain('v1')
      expect(summaryRow(summary, 'Image')).toContain(release?.ImageRef)
      expect(summaryRow(summary, 'Health')).toMatch(/healthy/)
      expect(summary).toMatch(new RegExp(`\\| <code>${firstMachine}</code> \\| iad \\| started \\| 2048 MB \\|`))
      for (const stage of ['install', 'render', 'validate', 'ensure', 'secrets', 'deploy', 'overrides', 'health']) {
        expect(summary, `stage ${stage}`).toMatch(new RegExp(`^\\| ${stage} \\| ok \\| \\d+(\\.\\d)? (ms|s) \\|`, 'm'))
      }
      expect(summary).toMatch(/^\| harden \| skipped \|/m)
      expect(summary).toContain('<code>ANTHROPIC_API_KEY</code>, <code>OPENCLAW_GATEWAY_TOKEN</code>')
    },
    FAKE_TIMEOUT,
  )

  it(
    'the same push again creates nothing and rolls the one machine exactly once',
    async () => {
      expect(firstMachine, 'the first deploy ran').not.toBe('')
      const before = await readCounters(world.state)
      const { result, calls: journal } = await runStep(world, inputs)
      expectSuccess(result)

      expect(calls(journal, 'apps create')).toEqual([])
      expect(calls(journal, 'volumes create')).toEqual([])
      expect(calls(journal, 'deploy')).toHaveLength(1)
      // Issue 17: a redeploy that changes nothing makes 8 flyctl calls or fewer, each read once:
      // status (app and machines), secrets list, secrets import, releases, deploy, logs, and the
      // machines list when flyctl says the machine took the config and once it has exited.
      expect(journal.map(commandOf).sort()).toEqual(
        ['deploy', 'logs', 'machines list', 'machines list', 'releases', 'secrets import', 'secrets list', 'status'].sort(),
      )
      // Nothing restarts a machine besides the deploy: no unstaged secret change, no machine update.
      expect(mutating(journal).filter((c) => !/^(secrets import --stage|deploy) /.test(c))).toEqual([])

      const after = await readCounters(world.state)
      expect(after.machineRestarts - before.machineRestarts).toBe(1)
      expect(after.machineStarts).toBe(before.machineStarts)
      expect(after.crashRestarts).toBe(0)

      expect(result.outputs['machine-ids']).toBe(firstMachine)
      expect(await liveMachines(world)).toEqual([firstMachine])
      expect(result.outputs['release-version']).toBe('2')
      expect((await readState(world.state)).apps[APP]?.volumes).toHaveLength(1)
      expect(result.summary).toMatch(/^\| ensure \| ok \| .* \| app and volume exist \|$/m)
    },
    FAKE_TIMEOUT,
  )
})

// --- 3-7: one world each (fake gateway) ----------------------------------------------------

describe('the pipeline on the fake gateway', () => {
  afterEach(stopWorlds)

  it(
    'a private deployment deploys without public IPs, releases the public ones and keeps a private v6',
    async () => {
      const world = await newWorld(FAKE)
      const publicRun = await runStep(world, baseInputs())
      expectSuccess(publicRun.result)
      const publicIps = (await readState(world.state)).apps[APP]?.ips ?? []
      // The stand-in's first public deploy allocates a dedicated v6 and a shared v4, as flyctl does.
      expect(publicIps.map((ip) => ip.Type).sort()).toEqual(['shared_v4', 'v6'])

      const { result, calls: journal } = await runStep(world, { ...baseInputs(), private: 'true' })
      expectSuccess(result)

      const deploys = calls(journal, 'deploy')
      expect(deploys).toHaveLength(1)
      expect(deploys[0]?.argv).toContain('--no-public-ips')
      // Every public address released, by address; then one private v6.
      expect(
        calls(journal, 'ips release')
          .map((e) => e.argv[2])
          .sort(),
      ).toEqual(publicIps.map((ip) => ip.Address).sort())
      expect(calls(journal, 'ips allocate-v6').map((e) => e.argv)).toEqual([['ips', 'allocate-v6', '--private', '--app', APP]])
      const order = journal.map(commandOf)
      expect(order.indexOf('deploy')).toBeLessThan(order.indexOf('ips release'))

      // What a user sees afterwards with `fly ips list`.
      const listed = flyctl(world, ['ips', 'list', '--app', APP, '--json'])
      expect(listed.status, listed.stderr).toBe(0)
      const ips = JSON.parse(listed.stdout) as Array<{ Type: string; Address: string }>
      expect(ips.length).toBeGreaterThan(0)
      expect(ips.map((ip) => ip.Type)).toEqual(ips.map(() => 'private_v6'))

      expect(result.outputs['app-url']).toBe('')
      expect(summaryRow(result.summary, 'URL')).toContain('none (private deployment')
      // List items escape markdown: shared_v4 reads shared\_v4.
      for (const ip of publicIps) expect(result.summary).toContain(`released ${ip.Type.replace('_', '\\_')} <code>${ip.Address}</code>`)
      expect(result.summary).toMatch(/- allocated private\\_v6 <code>[0-9a-f:]+<\/code>/)
    },
    FAKE_TIMEOUT,
  )

  it(
    'a multi-line secret named in `secrets` reaches the gateway process intact, from the step env',
    async () => {
      const world = await newWorld(FAKE)
      // An SSH key shape: quotes, # and = inside, an indented line, a trailing newline.
      const key = [
        '-----BEGIN OPENSSH PRIVATE KEY-----',
        'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
        `  indented "quoted" line with a # hash, 'single' quotes and k=v`,
        'QyNTUxOQAAACDe2Rz0Vb1yH3nq9u2Uu1s7Qf3gA2oQmSx0m7k1zB2cAAAAJh4p1sOeKdb',
        '-----END OPENSSH PRIVATE KEY-----',
        '',
      ].join('\n')
      const inputs = { ...baseInputs(), secrets: 'DEPLOY_SSH_KEY\nOPENCLAW_CUSTOM_NOTE=plain value' }
      const { result, calls: journal } = await runStep(world, inputs, { DEPLOY_SSH_KEY: key })
      expectSuccess(result)
      expect(result.outputs['secrets-synced']).toBe('DEPLOY_SSH_KEY,OPENCLAW_CUSTOM_NOTE,OPENCLAW_GATEWAY_TOKEN')
      expect(calls(journal, 'secrets import')[0]?.stdin).toBe(true)
      expectNoValues(journal, result, [key, GATEWAY_TOKEN])

      const [machine] = await liveMachines(world)
      const gateway = gatewayProcess(world, machine as string)
      expect(gateway.env.has('DEPLOY_SSH_KEY')).toBe(true)
      expect(sha256(gateway.env.get('DEPLOY_SSH_KEY') ?? '')).toBe(sha256(key))
      expect(sha256(gateway.env.get('OPENCLAW_CUSTOM_NOTE') ?? '')).toBe(sha256('plain value'))
      expect(sha256(gateway.env.get('OPENCLAW_GATEWAY_TOKEN') ?? '')).toBe(sha256(GATEWAY_TOKEN))
    },
    FAKE_TIMEOUT,
  )

  it(
    'prune-secrets: true unsets (staged) a name outside the synced set; without it nothing is unset',
    async () => {
      const world = await newWorld(FAKE)
      const seeded = await runStep(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1, OPENAI_API_KEY: OPENAI_KEY }))
      expectSuccess(seeded.result)
      const names = async (): Promise<string[]> => Object.keys((await readState(world.state)).apps[APP]?.secrets ?? {}).sort()
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])

      // OPENAI_API_KEY left out of the repository's secrets, prune-secrets off: it stays.
      const kept = await runStep(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }))
      expectSuccess(kept.result)
      expect(calls(kept.calls, 'secrets unset')).toEqual([])
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expect(kept.result.summary).not.toContain('Pruned:')

      // prune-secrets on: that one name is unset, staged, before the deploy that applies it.
      const pruned = await runStep(world, { ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }), 'prune-secrets': 'true' })
      expectSuccess(pruned.result)
      expect(calls(pruned.calls, 'secrets unset').map((e) => e.argv)).toEqual([['secrets', 'unset', '--stage', '--app', APP, 'OPENAI_API_KEY']])
      const order = pruned.calls.map(commandOf)
      expect(order.indexOf('secrets unset')).toBeLessThan(order.indexOf('deploy'))
      expect(await names()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expect(pruned.result.outputs['secrets-synced']).toBe('ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN')
      expect(pruned.result.summary).toContain('Pruned: <code>OPENAI_API_KEY</code>')

      // The deploy's rollout applied the removal: the gateway no longer has it.
      const [machine] = await liveMachines(world)
      const gateway = gatewayProcess(world, machine as string)
      expect(gateway.env.has('OPENAI_API_KEY')).toBe(false)
      expect(gateway.env.has('ANTHROPIC_API_KEY')).toBe(true)
    },
    FAKE_TIMEOUT,
  )

  it(
    'create: false with a missing app fails, names the app and `fly apps create`, and changes nothing',
    async () => {
      const world = await newWorld(FAKE)
      const { result, calls: journal } = await runStep(world, { ...baseInputs(), create: 'false' })
      expect(result.exitCode, tail(result)).toBe(1)
      const error = result.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? ''
      expect(error).toContain(`the app ${APP} does not exist`)
      expect(error).toContain(`fly apps create ${APP} --org personal`)
      expect(error).toContain('create')

      expect(journal.length).toBeGreaterThan(0)
      expect(mutating(journal)).toEqual([])
      expect((await readState(world.state)).apps[APP]).toBeUndefined()
      expect(await readCounters(world.state)).toEqual({ machineStarts: 0, machineRestarts: 0, crashRestarts: 0 })
      expect(result.summary).toContain(`## ❌ Deploy of <code>${APP}</code> failed`)
      expect(result.summary).toContain('In the <code>ensure</code> stage.')
      expect(result.summary).toContain('Nothing had been changed on Fly.')
    },
    FAKE_TIMEOUT,
  )

  it(
    'a dry run only reads, before and after the app exists, and shows the plan in the summary',
    async () => {
      const world = await newWorld(FAKE)

      // Before the app exists: the plan says what would be created.
      const fresh = await runStep(world, { ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }), 'dry-run': 'true' })
      expect(fresh.result.exitCode, tail(fresh.result)).toBe(0)
      expect(mutating(fresh.calls)).toEqual([])
      expect((await readState(world.state)).apps[APP]).toBeUndefined()
      expect(fresh.result.summary).toContain('🧪 Dry run for')
      expect(fresh.result.summary).toContain('### Plan')
      expect(fresh.result.summary).toMatch(new RegExp(`^\\| Create \\| app ${APP} in org personal, volume openclaw\\\\_data \\(1 GB, iad\\) \\|$`, 'm'))
      expect(fresh.result.summary).toMatch(/^\| Secrets to add \| <code>ANTHROPIC_API_KEY<\/code>, <code>OPENCLAW_GATEWAY_TOKEN<\/code> \|$/m)
      expect(fresh.result.summary).toMatch(new RegExp(`^\\| Deploy \\| <code>flyctl deploy .*--app ${APP} .*</code> \\|$`, 'm'))
      expect(fresh.result.outputs.health).toBe('skipped')
      expect(fresh.result.outputs['secrets-synced']).toBe('')

      // After a deploy: a dry run of a push with changes plans them and changes nothing.
      const deployed = await runStep(world, baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }))
      expectSuccess(deployed.result)
      const countersBefore = await readCounters(world.state)
      const stateBefore = (await readState(world.state)).apps[APP]
      const override = 'node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan --verbose'
      const dry = await runStep(world, {
        ...baseInputs({ OPENAI_API_KEY: OPENAI_KEY }),
        'prune-secrets': 'true',
        'machine-command': override,
        private: 'true',
        'dry-run': 'true',
      })
      expect(dry.result.exitCode, tail(dry.result)).toBe(0)
      expect(mutating(dry.calls)).toEqual([])
      // The volume needs no `volumes list`: the app's machine mounts it (status --json shows it).
      expect(dry.calls.map(commandOf)).toEqual(expect.arrayContaining(['status', 'secrets list', 'ips list']))
      expect(dry.calls.map(commandOf)).not.toContain('volumes list')
      expect(await readCounters(world.state)).toEqual(countersBefore)
      const stateAfter = (await readState(world.state)).apps[APP]
      expect(stateAfter?.releases.length).toBe(stateBefore?.releases.length)
      expect(Object.keys(stateAfter?.secrets ?? {}).sort()).toEqual(Object.keys(stateBefore?.secrets ?? {}).sort())
      expect(stateAfter?.ips).toEqual(stateBefore?.ips)

      const summary = dry.result.summary
      expect(summary).toMatch(/^\| Create \| none \|$/m)
      expect(summary).toMatch(/^\| Secrets to add \| <code>OPENAI_API_KEY<\/code> \|$/m)
      expect(summary).toMatch(/^\| Secrets to re-import \| <code>OPENCLAW_GATEWAY_TOKEN<\/code> \|$/m)
      expect(summary).toMatch(/^\| Secrets to prune \| <code>ANTHROPIC_API_KEY<\/code> \|$/m)
      expect(summary).toMatch(/^\| Deploy \| <code>flyctl deploy .*--no-public-ips.*<\/code> \|$/m)
      expect(summary).toContain(`| Overrides | command: ${override} |`)
      // Table cells escape markdown: shared_v4 reads shared\_v4.
      for (const ip of stateBefore?.ips ?? []) expect(summary).toContain(`released ${ip.Type.replace('_', '\\_')} ${ip.Address}`)
      expect(summary).toContain('allocated private\\_v6 (new)')
      expect(dry.result.outputs['release-version']).toBe('')
    },
    FAKE_TIMEOUT,
  )
})

// --- 8: the key one, on the real gateway ----------------------------------------------------

describe('one push that changes secrets, the gateway config and the machine command (real gateway)', () => {
  afterEach(stopWorlds)
  beforeAll(async () => {
    await setupStandinRuntimes([DEFAULT_OPENCLAW_VERSION], () => {})
  }, 600_000)

  const configV1 = '// delivered with the release\n{ gateway: { mode: "local", controlUi: { allowedOrigins: ["https://e2e-pipeline.fly.dev"] } } }\n'
  // The Control UI switched off: the gateway then answers its root path with 404, which shows the
  // running gateway (not only the file) took the new config.
  const configV2 = '{ gateway: { mode: "local", controlUi: { enabled: false, allowedOrigins: ["https://e2e-pipeline.fly.dev"] } } }\n'
  const defaultCommand = ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']
  const overrideCommand = [...defaultCommand, '--ws-log', 'compact']

  /** GET the gateway's own port from inside the machine (its network namespace). */
  async function status(world: StandinWorld, machineId: string, urlPath: string): Promise<number> {
    const script = `const r = await fetch('http://127.0.0.1:3000${urlPath}'); process.stdout.write(String(r.status))`
    const result = await execOnMachine(world.state, APP, machineId, ['node', '--input-type=module', '-e', script], null)
    expect(result.exitCode, result.stderr.toString()).toBe(0)
    return Number(result.stdout.toString())
  }

  async function readOnMachine(world: StandinWorld, machineId: string, guestPath: string): Promise<string> {
    const result = await execOnMachine(world.state, APP, machineId, ['cat', guestPath], null)
    expect(result.exitCode, result.stderr.toString()).toBe(0)
    return result.stdout.toString()
  }

  it(
    'restarts the machine exactly once, and it then runs the override command, the new config and secret',
    async () => {
      const world = await newWorld(`openclaw@${DEFAULT_OPENCLAW_VERSION}`)
      const configFile = path.join(world.dirs.workspace, 'openclaw.json')
      fs.writeFileSync(configFile, configV1)

      // A fresh deploy of the real gateway (issue item 1 on the real gateway).
      const first = await runStep(world, { ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V1 }), ...REAL_HEALTH_TIMEOUT, 'gateway-config': 'openclaw.json' })
      expectSuccess(first.result)
      expect(first.result.outputs['app-url']).toBe(`https://${APP}.fly.dev/`)
      expect(first.result.outputs['release-version']).toBe('1')
      const machines = await liveMachines(world)
      expect(machines).toHaveLength(1)
      const machine = machines[0] as string
      expect(first.result.outputs['machine-ids']).toBe(machine)
      const before = gatewayProcess(world, machine)
      expect(before.argv).toEqual(defaultCommand)
      expect(before.env.get('OPENCLAW_CONFIG_PATH')).toBe('/etc/openclaw/openclaw.json')
      expect(await readOnMachine(world, machine, '/etc/openclaw/openclaw.json')).toBe(configV1)
      expect(await status(world, machine, '/healthz')).toBe(200)
      expect(await status(world, machine, '/')).not.toBe(404)
      expect(sha256(before.env.get('ANTHROPIC_API_KEY') ?? '')).toBe(sha256(ANTHROPIC_V1))
      const counters = await readCounters(world.state)

      // The push: a rotated secret, a changed openclaw.json and a machine-command override.
      fs.writeFileSync(configFile, configV2)
      const { result, calls: journal } = await runStep(world, {
        ...baseInputs({ ANTHROPIC_API_KEY: ANTHROPIC_V2 }),
        ...REAL_HEALTH_TIMEOUT,
        'gateway-config': 'openclaw.json',
        'machine-command': overrideCommand.join(' '),
      })
      expectSuccess(result)
      expectNoValues(journal, result, [GATEWAY_TOKEN, ANTHROPIC_V2, API_TOKEN])

      // One rollout: the deploy; the secret staged, the command and config carried by the release.
      const after = await readCounters(world.state)
      expect(after.machineRestarts - counters.machineRestarts).toBe(1)
      expect(after.machineStarts).toBe(counters.machineStarts)
      expect(after.crashRestarts).toBe(0)
      expect(calls(journal, 'deploy')).toHaveLength(1)
      expect(mutating(journal).filter((c) => !/^(secrets import --stage|deploy) /.test(c))).toEqual([])
      expect(calls(journal, 'machine update')).toEqual([])
      expect(result.outputs['machine-ids']).toBe(machine)
      expect(result.outputs['release-version']).toBe('2')

      // The same machine now runs a new gateway process with the override, the new secret and config.
      const gateway = gatewayProcess(world, machine)
      expect(gateway.pid).not.toBe(before.pid)
      expect(gateway.argv).toEqual(overrideCommand)
      expect(sha256(gateway.env.get('ANTHROPIC_API_KEY') ?? '')).toBe(sha256(ANTHROPIC_V2))
      expect(await readOnMachine(world, machine, gateway.env.get('OPENCLAW_CONFIG_PATH') ?? '/etc/openclaw/openclaw.json')).toBe(configV2)
      expect(await status(world, machine, '/healthz')).toBe(200)
      expect(await status(world, machine, '/')).toBe(404)

      expect(result.summary).toContain(`<code>${overrideCommand.join(' ')}</code>`)
      // The deploy's own config carried the override, so no machine needed `machine update`.
      expect(result.summary).toMatch(/command: .*applied by the deploy's config; no machine had drifted afterwards/)
    },
    REAL_TIMEOUT,
  )
})
