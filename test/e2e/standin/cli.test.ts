// The flyctl stand-in's command line, run as a process (standin/bin/flyctl) over a temp state
// root. Machines run in a small runtime double (below, through FLYCTL_STANDIN_RUNTIME) that keeps
// runtime.json, log.jsonl and counters.json like standin/machines/runtime.ts but runs nothing;
// the last test runs the real runtime with the fake gateway.
// Texts and shapes are checked against superfly/flyctl (cited per test).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  MachineListSchema,
  ReleaseListSchema,
  SecretListSchema,
  VolumeListSchema,
  IpListSchema,
} from '../../../src/fly/schemas.js'
import * as runtime from '../../../standin/machines/runtime.ts'
import {
  readCounters,
  readJournal,
  readState,
  seedApp,
  writeFaults,
  type Platform,
} from '../../../standin/platform/inspect.ts'
import { waitFor } from '../../support/machines.ts'

const FLYCTL = path.resolve('standin/bin/flyctl')
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-cli-'))
const doubleFile = path.join(scratch, 'runtime-double.mjs')

// Runs nothing: states, events, logs and counters as files, in the formats the real runtime uses.
const DOUBLE = `
import fs from 'node:fs'
import path from 'node:path'
const dir = (s, a, m) => path.join(s, 'apps', a, 'machines', m)
function lock(file, fn) {
  for (;;) { try { fs.mkdirSync(file + '.lock'); break } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3) } }
  try { return fn() } finally { fs.rmSync(file + '.lock', { recursive: true, force: true }) }
}
function bump(stateDir, key) {
  const file = path.join(stateDir, 'counters.json')
  lock(file, () => {
    let c = { machineStarts: 0, machineRestarts: 0, crashRestarts: 0 }
    try { c = { ...c, ...JSON.parse(fs.readFileSync(file, 'utf8')) } } catch {}
    c[key] += 1
    fs.writeFileSync(file, JSON.stringify(c))
  })
}
function record(d) { try { return JSON.parse(fs.readFileSync(path.join(d, 'runtime.json'), 'utf8')) } catch { return { state: 'created', events: [] } } }
function save(d, r) { fs.mkdirSync(d, { recursive: true }); fs.writeFileSync(path.join(d, 'runtime.json'), JSON.stringify(r)) }
function log(d, message) { fs.appendFileSync(path.join(d, 'log.jsonl'), JSON.stringify({ timestamp: new Date().toISOString(), message, level: 'info', stream: 'stdout' }) + '\\n') }
function neverStarts(stateDir) { try { return JSON.parse(fs.readFileSync(path.join(stateDir, 'faults.json'), 'utf8')).machineNeverStarts === true } catch { return false } }
function run(launch, type) {
  const d = dir(launch.stateDir, launch.app, launch.machineId)
  const r = record(d)
  const crash = launch.workload === 'fake-gateway:crash'
  r.events.push({ type, status: type === 'launch' ? 'created' : 'starting', source: 'user', timestamp: Date.now() })
  r.state = neverStarts(launch.stateDir) ? 'starting' : crash ? 'failed' : 'started'
  // Back-dated past flyctl's 10 s smoke window: the double has nothing to watch boot, so a deploy's
  // smoke check (standin/machines/cli-side.ts smokeCheck) passes at once; the smoke-check tests script events.
  if (r.state === 'started') r.events.push({ type: 'start', status: 'started', source: 'flyd', timestamp: Date.now() - 11_000 })
  if (crash) r.events.push({ type: 'exit', status: 'stopped', source: 'flyd', timestamp: Date.now(), exitCode: 1 })
  r.checks = [{ name: 'servicecheck-00-tcp-3000', status: 'passing', output: 'Success' }]
  save(d, r)
  fs.writeFileSync(path.join(d, 'double-env.json'), JSON.stringify(launch.env), { mode: 0o600 })
  log(d, '\\u001b[36m[gateway]\\u001b[39m ready (' + launch.workload + ')')
}
export async function startMachine(launch) {
  bump(launch.stateDir, 'machineStarts')
  run(launch, record(dir(launch.stateDir, launch.app, launch.machineId)).events.length ? 'start' : 'launch')
}
export async function restartMachine(launch) { bump(launch.stateDir, 'machineRestarts'); run(launch, 'restart') }
export async function stopMachine(stateDir, app, id) { const d = dir(stateDir, app, id); const r = record(d); r.state = 'stopped'; save(d, r) }
export async function execOnMachine(stateDir, app, id, argv, stdin) {
  const [cmd, ...rest] = argv
  if (cmd === 'cat') return { exitCode: 0, stdout: stdin ?? Buffer.alloc(0), stderr: Buffer.alloc(0) }
  if (cmd === 'echo') return { exitCode: 0, stdout: Buffer.from(rest.join(' ') + '\\n'), stderr: Buffer.alloc(0) }
  return { exitCode: Number(rest[0] ?? 1), stdout: Buffer.alloc(0), stderr: Buffer.from('exited\\n') }
}
export function readRuntime(stateDir, app, id) { return record(dir(stateDir, app, id)) }
export function logPath(stateDir, app, id) { return path.join(dir(stateDir, app, id), 'log.jsonl') }
export async function stopAll() {}
`

interface Result {
  code: number
  stdout: string
  stderr: string
}

let stateDir = ''
let workDir = ''

function flyctl(
  args: string[],
  options: { stdin?: string; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      // The real runtime finds its Node 24 and openclaw installs under HOME's cache.
      HOME: process.env.HOME,
      FLY_STANDIN_CACHE: process.env.FLY_STANDIN_CACHE,
      FLYCTL_STANDIN_STATE: stateDir,
      FLYCTL_STANDIN_RUNTIME: doubleFile,
      FLY_API_TOKEN: 'test-token',
      ...options.env,
    }
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key]
    const child = spawn(FLYCTL, args, {
      cwd: options.cwd ?? workDir,
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(options.stdin ?? '')
  })
}

const FLY_TOML = `app = "demo"
primary_region = "iad"

[build]
  dockerfile = "Dockerfile"

[env]
  OPENCLAW_STATE_DIR = "/data"

[processes]
  app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = false
  processes = ["app"]

[[vm]]
  size = "shared-cpu-2x"
  memory = "2048mb"

[mounts]
  source = "openclaw_data"
  destination = "/data"
`

beforeAll(() => {
  fs.writeFileSync(doubleFile, DOUBLE)
})

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true })
})

/** A fresh state root and working folder with the app's fly.toml and a Dockerfile of the fake gateway. */
function freshDirs(): { stateDir: string; workDir: string } {
  const dirs = {
    stateDir: fs.mkdtempSync(path.join(scratch, 'state-')),
    workDir: fs.mkdtempSync(path.join(scratch, 'work-')),
  }
  fs.writeFileSync(path.join(dirs.workDir, 'fly.toml'), FLY_TOML)
  fs.writeFileSync(
    path.join(dirs.workDir, 'Dockerfile'),
    'FROM node:24-bookworm\nLABEL fly-standin.workload=fake-gateway:ready\n',
  )
  return dirs
}

beforeEach(() => {
  ;({ stateDir, workDir } = freshDirs())
})

/** Deploys app demo into the current state root: its machine's id, and what `fly deploy` printed. */
async function deploy(): Promise<{ id: string; output: Result }> {
  await seedApp(stateDir, 'demo')
  const output = await flyctl(['deploy', '--ha=false', '--remote-only', '-y'])
  expect(output.stderr).not.toMatch(/Error/)
  expect(output.code).toBe(0)
  return { id: machineId(await readState(stateDir)), output }
}

async function deployedApp(): Promise<string> {
  return (await deploy()).id
}

/** Demo's machine, read from the state root (no flyctl call: where the id is all a test needs). */
function machineId(state: Platform): string {
  const id = state.apps.demo?.machines.find((m) => !m.destroyed)?.id
  if (!id) throw new Error('app demo has no machine')
  return id
}

async function machineIds(): Promise<string[]> {
  const r = await flyctl(['machines', 'list', '--json', '-a', 'demo'])
  return MachineListSchema.parse(JSON.parse(r.stdout)).map((m) => m.id)
}

interface SharedApp {
  stateDir: string
  workDir: string
  id: string
  output: Result
}
let shared: SharedApp | undefined

/**
 * One deployed app shared by the tests that read it or change it only in ways the later ones allow,
 * instead of a deploy each: the first caller deploys it; with `use`, flyctl() then runs against it
 * for the rest of the test. Its users run in file order: the state and log reads first (one
 * release, one log line), then restarts, then the machine update, then faults.
 */
async function sharedApp(use = true): Promise<SharedApp> {
  if (!shared) {
    const own = { stateDir, workDir }
    ;({ stateDir, workDir } = freshDirs())
    try {
      shared = { stateDir, workDir, ...(await deploy()) }
    } finally {
      ;({ stateDir, workDir } = own)
    }
  }
  if (use) ({ stateDir, workDir } = shared)
  return shared
}

describe('refusals', () => {
  it('unknown flag: cobra prints the usage on stdout, flyctl the error on stderr (internal/cli/cli.go printError)', async () => {
    const r = await flyctl(['status', '--foo'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('Error: unknown flag: --foo\n')
    expect(r.stdout).toMatch(/^Usage:\n {2}flyctl status \[flags\]\n/)
  })

  it('unknown shorthand and missing flag values use pflag texts', async () => {
    expect((await flyctl(['status', '-x'])).stderr).toBe("Error: unknown shorthand flag: 'x' in -x\n")
    expect((await flyctl(['status', '--app'])).stderr).toBe('Error: flag needs an argument: --app\n')
    const bad = await flyctl(['deploy', '--ha=maybe'])
    expect(bad.stderr).toBe(
      'Error: invalid argument "maybe" for "--ha" flag: strconv.ParseBool: parsing "maybe": invalid syntax\n',
    )
  })

  it('unknown command: error with suggestion, then "Run \'flyctl --help\' for usage." on stdout', async () => {
    const r = await flyctl(['statu'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('Error: unknown command "statu" for "flyctl"\n\nDid you mean this?\n\tstatus\n\n')
    expect(r.stdout).toBe("Run 'flyctl --help' for usage.\n\n")
  })

  it('argument counts use cobra texts', async () => {
    const r = await flyctl(['volumes', 'create', '-a', 'demo'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('Error: accepts 1 arg(s), received 0\n')
  })

  it('no token: fly-go ErrNoAuthToken; an empty FLY_ACCESS_TOKEN hides FLY_API_TOKEN (internal/env env.First)', async () => {
    const message = "Error: no access token available. Please login with 'flyctl auth login'\n"
    expect((await flyctl(['apps', 'list'], { env: { FLY_API_TOKEN: undefined } })).stderr).toBe(message)
    const hidden = await flyctl(['apps', 'list'], { env: { FLY_ACCESS_TOKEN: '' } })
    expect(hidden.code).toBe(1)
    expect(hidden.stderr).toBe(message)
    expect((await flyctl(['apps', 'list'], { env: { FLY_API_TOKEN: undefined, FLY_ACCESS_TOKEN: 'x' } })).code).toBe(0)
  })

  it('app name: -a, then FLY_APP, then fly.toml; none is command.go ErrRequireAppName', async () => {
    await seedApp(stateDir, 'demo')
    await seedApp(stateDir, 'other')
    await flyctl(['secrets', 'set', '--stage', 'A=1', '-a', 'other'])
    const fromFlag = await flyctl(['secrets', 'list', '--json', '-a', 'other'], { env: { FLY_APP: 'demo' } })
    expect(SecretListSchema.parse(JSON.parse(fromFlag.stdout)).map((s) => s.name)).toEqual(['A'])
    const fromEnv = await flyctl(['secrets', 'list', '--json'], { env: { FLY_APP: 'other' } })
    expect(JSON.parse(fromEnv.stdout)).toHaveLength(1)
    const fromToml = await flyctl(['secrets', 'list', '--json'])
    expect(JSON.parse(fromToml.stdout)).toEqual([])
    fs.rmSync(path.join(workDir, 'fly.toml'))
    const none = await flyctl(['secrets', 'list'])
    expect(none.stderr).toBe(
      'Error: the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag\n',
    )
  })

  it('apps create: taken names get the API text and flaps_error.go suggestion', async () => {
    expect((await flyctl(['apps', 'create', 'demo', '--org', 'personal'])).stdout).toBe('New app created: demo\n')
    const again = await flyctl(['apps', 'create', 'demo', '--org', 'personal'])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(
      /^Error: Validation failed: Name has already been taken\nApp names are unique across all of Fly\.io/,
    )
    expect((await flyctl(['apps', 'create', 'x1', '--org', 'nope'])).stderr).toBe(
      'Error: organization nope not found\n',
    )
  })

  it('deploy of an app that does not exist (deploy.go)', async () => {
    const r = await flyctl(['deploy', '-y'])
    expect(r.stderr).toBe(
      'Error: the app name demo could not be found, did you create the app or misspell it in the fly.toml file or via -a?\n',
    )
  })
})

describe('state and JSON shapes', () => {
  it('version prints buildinfo.go Info.String and follows FLYCTL_STANDIN_VERSION', async () => {
    expect((await flyctl(['version'])).stdout).toMatch(/^flyctl v0\.4\.87 linux\/amd64 Commit: \S+ BuildDate: \S+\n$/)
    const other = await flyctl(['version'], { env: { FLYCTL_STANDIN_VERSION: '0.3.200' } })
    expect(other.stdout).toMatch(/^flyctl v0\.3\.200 linux\/amd64 /)
  })

  it('volumes create needs -y when not interactive (volumes/create.go confirmVolumeCreate), then lists', async () => {
    await seedApp(stateDir, 'demo')
    const refused = await flyctl(['volumes', 'create', 'openclaw_data', '--size', '1', '--region', 'iad'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/Error: yes flag must be specified when not running interactively\n$/)
    const made = await flyctl(['volumes', 'create', 'openclaw_data', '--size', '1', '--region', 'iad', '-y'])
    expect(made.code).toBe(0)
    expect(made.stdout).toMatch(/^ {18}ID: vol_\w+\n {16}Name: openclaw_data\n/)
    const listed = (await flyctl(['volumes', 'list', '--json'])).stdout
    const list = VolumeListSchema.parse(JSON.parse(listed))
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ name: 'openclaw_data', size_gb: 1, region: 'iad', attached_machine_id: null })
    expect(Object.keys(JSON.parse(listed)[0])).toEqual([
      'id',
      'name',
      'state',
      'size_gb',
      'region',
      'zone',
      'encrypted',
      'attached_machine_id',
      'attached_alloc_id',
      'created_at',
      'host_dedication_id',
      'snapshot_retention',
      'auto_backup_enabled',
    ])
  })

  it('deploy: release, volume, IPs and one machine with the fields flyctl prints, JSON in render.JSON form', async () => {
    const { id } = await sharedApp()
    const raw = (await flyctl(['machines', 'list', '--json'])).stdout
    expect(raw.split('\n')[1]).toBe('    {') // 4-space indent (internal/render/render.go)
    const [machine] = JSON.parse(raw) as Array<Record<string, any>>
    expect(Object.keys(machine as object)).toEqual([
      'id',
      'name',
      'state',
      'region',
      'image_ref',
      'instance_id',
      'private_ip',
      'created_at',
      'updated_at',
      'config',
      'events',
      'checks',
      'host_status',
      'cordoned',
    ])
    expect(machine).toMatchObject({
      id,
      state: 'started',
      region: 'iad',
      image_ref: { registry: 'registry.fly.io', repository: 'demo' },
    })
    expect(machine?.image_ref.tag).toMatch(/^deployment-[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(machine?.config.init.cmd).toEqual([
      'node',
      'dist/index.js',
      'gateway',
      '--allow-unconfigured',
      '--port',
      '3000',
      '--bind',
      'lan',
    ])
    expect(machine?.config.guest).toEqual({ cpu_kind: 'shared', cpus: 2, memory_mb: 2048 })
    expect(machine?.config.metadata).toMatchObject({
      fly_process_group: 'app',
      fly_release_version: '1',
      fly_platform_version: 'v2',
      fly_flyctl_version: '0.4.87',
    })
    expect(machine?.config.mounts[0]).toMatchObject({ path: '/data', name: 'openclaw_data' })
    expect(machine?.config.env).toEqual({
      FLY_PROCESS_GROUP: 'app',
      OPENCLAW_STATE_DIR: '/data',
      PRIMARY_REGION: 'iad',
    })
    expect(machine?.events[0].timestamp).toBeGreaterThan(1e12) // milliseconds

    const releases = ReleaseListSchema.parse(JSON.parse((await flyctl(['releases', '--json'])).stdout))
    expect(releases[0]).toMatchObject({
      Version: 1,
      Status: 'complete',
      Stable: true,
      InProgress: false,
      ImageRef: machine?.config.image,
    })
    const ips = IpListSchema.parse(JSON.parse((await flyctl(['ips', 'list', '--json'])).stdout))
    expect(ips.map((ip) => ip.Type).sort()).toEqual(['shared_v4', 'v6'])
    const volumes = VolumeListSchema.parse(JSON.parse((await flyctl(['volumes', 'list', '--json'])).stdout))
    expect(volumes[0]?.attached_machine_id).toBe(id)

    const status = JSON.parse((await flyctl(['status', '--json'])).stdout) as Record<string, unknown>
    expect(Object.keys(status)).toEqual([
      'AppURL',
      'Deployed',
      'Hostname',
      'ID',
      'Machines',
      'Name',
      'Organization',
      'PlatformVersion',
      'Status',
      'Version',
    ])
    expect(status).toMatchObject({ Name: 'demo', Deployed: true, Version: 1 })
  })

  it('deploy output ends like deploy.go, and --no-public-ips allocates nothing', async () => {
    const { output } = await sharedApp(false)
    expect(output.stdout.endsWith('Visit your newly deployed app at https://demo.fly.dev/\n\n')).toBe(true)
    await seedApp(stateDir, 'quiet')
    const p = await flyctl(['deploy', '-a', 'quiet', '--ha=false', '--no-public-ips', '-y'])
    expect(p.code).toBe(0)
    expect(p.stdout).toMatch(/Your app is deployed but does not have a public or private IP address\n$/)
    expect((await readState(stateDir)).apps.quiet?.ips).toEqual([])
  })

  it('a later deploy without the volume fails like machines_launchinput.go', async () => {
    await seedApp(stateDir, 'demo')
    await flyctl(['deploy', '--ha=false', '-y'])
    const id = machineId(await readState(stateDir))
    // Destroy the machine and the volume behind flyctl's back: the next deploy must launch anew.
    await seedApp(stateDir, 'demo', { dropMachines: true, dropVolumes: true })
    const r = await flyctl(['deploy', '--ha=false', '-y'])
    expect(id).toBeTruthy()
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      "Error: New machine in group 'app' needs an unattached volume named 'openclaw_data' in region 'iad'\n",
    )
    const releases = ReleaseListSchema.parse(JSON.parse((await flyctl(['releases', '--json'])).stdout))
    // machines_deploymachinesapp.go creates the release before it plans the machines: a refused plan
    // leaves it failed, and nothing changed on the machines.
    expect(releases.map((x) => [x.Version, x.Status])).toEqual([
      [2, 'failed'],
      [1, 'complete'],
    ])
  })

  it('--image: openclaw releases, the fake gateway, and an earlier ImageRef (rollback) keep their workload', async () => {
    await seedApp(stateDir, 'demo')
    await flyctl(['deploy', '--ha=false', '-y'])
    const first = ReleaseListSchema.parse(JSON.parse((await flyctl(['releases', '--json'])).stdout))[0]
      ?.ImageRef as string
    expect((await flyctl(['deploy', '--ha=false', '-y', '--image', 'ghcr.io/openclaw/openclaw:2026.9.6'])).code).toBe(0)
    expect((await readState(stateDir)).apps.demo?.machines[0]?.workload).toBe('openclaw@2026.9.6')
    expect((await flyctl(['deploy', '--ha=false', '-y', '--image', first])).code).toBe(0)
    const state = await readState(stateDir)
    expect(state.apps.demo?.machines[0]?.workload).toBe('fake-gateway:ready')
    const releases = ReleaseListSchema.parse(JSON.parse((await flyctl(['releases', '--json'])).stdout))
    expect(releases.map((r) => r.Version)).toEqual([3, 2, 1]) // newest first
  })

  it('the workload of a build comes from ARG OPENCLAW_VERSION, overridden by --build-arg', async () => {
    await seedApp(stateDir, 'demo')
    fs.writeFileSync(
      path.join(workDir, 'Dockerfile'),
      'ARG OPENCLAW_VERSION=2026.4.29\nFROM ghcr.io/openclaw/openclaw:${OPENCLAW_VERSION}\n',
    )
    await flyctl(['deploy', '--ha=false', '-y'])
    expect((await readState(stateDir)).apps.demo?.machines[0]?.workload).toBe('openclaw@2026.4.29')
    await flyctl(['deploy', '--ha=false', '-y', '--build-arg', 'OPENCLAW_VERSION=2026.9.6'])
    expect((await readState(stateDir)).apps.demo?.machines[0]?.workload).toBe('openclaw@2026.9.6')
  })
})

it('deploy [WORKING_DIRECTORY] with a config elsewhere: --dockerfile is used when [build] has none (deploy_build.go)', async () => {
  await seedApp(stateDir, 'demo')
  const rendered = fs.mkdtempSync(path.join(scratch, 'rendered-'))
  fs.writeFileSync(path.join(rendered, 'fly.toml'), FLY_TOML.replace('[build]\n  dockerfile = "Dockerfile"\n', ''))
  fs.writeFileSync(path.join(workDir, 'Dockerfile.gw'), 'FROM ghcr.io/openclaw/openclaw:2026.9.6\n')
  const r = await flyctl(
    [
      'deploy',
      workDir,
      '-c',
      path.join(rendered, 'fly.toml'),
      '--dockerfile',
      path.join(workDir, 'Dockerfile.gw'),
      '--ha=false',
      '-y',
    ],
    {
      cwd: scratch,
    },
  )
  expect(r.stderr).not.toMatch(/Error/)
  expect((await readState(stateDir)).apps.demo?.machines[0]?.workload).toBe('openclaw@2026.9.6')
  // [build] dockerfile is joined to the config's directory, even when absolute.
  fs.writeFileSync(
    path.join(rendered, 'fly.toml'),
    FLY_TOML.replace('dockerfile = "Dockerfile"', `dockerfile = "${path.join(workDir, 'Dockerfile')}"`),
  )
  const joined = await flyctl(['deploy', workDir, '-c', path.join(rendered, 'fly.toml'), '-y'], { cwd: scratch })
  expect(joined.stderr).toBe(
    `Error: failed to fetch an image or build from source: dockerfile '${path.join(rendered, workDir, 'Dockerfile')}' not found\n`,
  )
})

describe('secrets', () => {
  it('import: parser.go rules (comments, quotes, multi-line), digests, staged then deployed', async () => {
    await seedApp(stateDir, 'demo')
    const input = '# comment\n\nPLAIN=one\nQUOTED="two"\nSINGLE=\'three\'\nMULTI="""line1\nline2"""\n'
    const r = await flyctl(['secrets', 'import', '--stage'], { stdin: input })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      'Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n',
    )
    const listed = SecretListSchema.parse(JSON.parse((await flyctl(['secrets', 'list', '--json'])).stdout))
    expect(listed.map((s) => [s.name, s.status])).toEqual([
      ['MULTI', 'Staged'],
      ['PLAIN', 'Staged'],
      ['QUOTED', 'Staged'],
      ['SINGLE', 'Staged'],
    ])
    expect(listed.every((s) => /^[0-9a-f]{16}$/.test(s.digest))).toBe(true)

    await flyctl(['deploy', '--ha=false', '-y'])
    const id = machineId(await readState(stateDir))
    const env = JSON.parse(fs.readFileSync(path.join(stateDir, 'apps/demo/machines', id, 'double-env.json'), 'utf8'))
    expect(env).toMatchObject({ PLAIN: 'one', QUOTED: 'two', SINGLE: 'three', MULTI: 'line1\nline2' })
    const after = SecretListSchema.parse(JSON.parse((await flyctl(['secrets', 'list', '--json'])).stdout))
    expect(after.every((s) => s.status === 'Deployed')).toBe(true)
    // Values live only in the secret files, never in platform.json or the journal.
    const platform = fs.readFileSync(path.join(stateDir, 'platform.json'), 'utf8')
    const journal = fs.readFileSync(path.join(stateDir, 'journal.jsonl'), 'utf8')
    for (const value of ['line1', 'three']) {
      expect(platform).not.toContain(value)
      expect(journal).not.toContain(value)
    }
  })

  it('older FLYCTL_STANDIN_VERSIONs print the older secrets list shapes', async () => {
    await seedApp(stateDir, 'demo')
    await flyctl(['secrets', 'set', '--stage', 'A=1'])
    const mid = JSON.parse(
      (await flyctl(['secrets', 'list', '--json'], { env: { FLYCTL_STANDIN_VERSION: '0.3.200' } })).stdout,
    )
    expect(Object.keys(mid[0])).toEqual(['name', 'digest', 'created_at', 'updated_at'])
    const old = JSON.parse(
      (await flyctl(['secrets', 'list', '--json'], { env: { FLYCTL_STANDIN_VERSION: '0.2.120' } })).stdout,
    )
    expect(Object.keys(old[0])).toEqual(['Name', 'Digest', 'CreatedAt'])
    expect(SecretListSchema.parse(old).map((s) => s.name)).toEqual(['A'])
  })

  it('staged secrets then deploy restart each machine once; an unchanged value stays Deployed', async () => {
    const id = await deployedApp()
    const before = await readCounters(stateDir)
    await flyctl(['secrets', 'import', '--stage'], { stdin: 'OPENCLAW_GATEWAY_TOKEN=abc\nANTHROPIC_API_KEY=sk\n' })
    expect(
      SecretListSchema.parse(JSON.parse((await flyctl(['secrets', 'list', '--json'])).stdout)).map((s) => s.status),
    ).toEqual(['Staged', 'Staged'])
    expect((await flyctl(['deploy', '--ha=false', '-y'])).code).toBe(0)
    const after = await readCounters(stateDir)
    expect(after.machineRestarts - before.machineRestarts).toBe(1)
    expect(after.machineStarts).toBe(before.machineStarts)
    expect(await machineIds()).toEqual([id])
    await flyctl(['secrets', 'import', '--stage'], { stdin: 'OPENCLAW_GATEWAY_TOKEN=abc\n' })
    const listed = SecretListSchema.parse(JSON.parse((await flyctl(['secrets', 'list', '--json'])).stdout))
    expect(listed.find((s) => s.name === 'OPENCLAW_GATEWAY_TOKEN')?.status).toBe('Deployed')
  })

  it('set without --stage restarts the machines; before the first deploy it only stages (secrets.go DeploySecrets)', async () => {
    await seedApp(stateDir, 'demo')
    expect((await flyctl(['secrets', 'set', 'A=1'])).stdout).toBe('Secrets are staged for the first deployment\n')
    await flyctl(['deploy', '--ha=false', '-y'])
    const before = await readCounters(stateDir)
    const r = await flyctl(['secrets', 'set', 'B=2'])
    expect(r.code).toBe(0)
    expect((await readCounters(stateDir)).machineRestarts - before.machineRestarts).toBe(1)
    await flyctl(['secrets', 'unset', 'A', '--stage'])
    expect(
      SecretListSchema.parse(JSON.parse((await flyctl(['secrets', 'list', '--json'])).stdout)).map((s) => s.name),
    ).toEqual(['B'])
  })
})

// The tests on the shared app (sharedApp) run in this order: the log reads while it has one line,
// then ssh, the restarts, and the machine update last.
describe('machines, ssh, logs', () => {
  it('logs: text lines as render.LogEntry prints them, --json objects pretty-printed, colours kept', async () => {
    const { id } = await sharedApp()
    const text = await flyctl(['logs', '--no-tail'])
    expect(text.stdout).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ app\\[${id}\\] iad \\[info\\]\\u001b\\[36m\\[gateway\\]\\u001b\\[39m ready`,
      ),
    )
    const json = await flyctl(['logs', '--no-tail', '--json', '-i', id])
    const entry = JSON.parse(json.stdout) as Record<string, unknown>
    expect(Object.keys(entry)).toEqual(['level', 'instance', 'message', 'region', 'timestamp', 'meta'])
    expect(entry).toMatchObject({ instance: id, region: 'iad', level: 'info' })
    expect(json.stdout.startsWith('{\n    "level"')).toBe(true)
    expect((await flyctl(['logs', '--no-tail', '-m', 'other'])).stdout).toBe('')
  })

  it('ssh console: argv without a shell, stdin copied, remote failure is exit 1 (ssh/console.go)', async () => {
    await sharedApp()
    const cat = await flyctl(['ssh', 'console', '-C', 'cat'], { stdin: 'piped text' })
    expect(cat.code).toBe(0)
    expect(cat.stdout).toBe('piped text')
    const fail = await flyctl(['ssh', 'console', '-q', '-C', 'exit 3'])
    expect(fail.code).toBe(1)
    expect(fail.stderr).toBe('exited\nError: ssh shell: Process exited with status 3\n')
    const journal = await readJournal(stateDir)
    expect(journal.find((e) => e.argv.join(' ') === 'ssh console -C cat')).toMatchObject({ stdin: true, exit: 0 })
  })

  it('ssh console without a started machine', async () => {
    await seedApp(stateDir, 'demo')
    const r = await flyctl(['ssh', 'console', '-C', 'true'])
    expect(r.stderr).toBe(
      'Error: app demo has no started VMs.\nIt may be unhealthy or not have been deployed yet.\nTry the following command to verify:\n\nfly status\n',
    )
  })

  it('machine restart counts one restart; unknown machines are refused', async () => {
    const { id } = await sharedApp()
    const before = await readCounters(stateDir)
    const r = await flyctl(['machine', 'restart', id])
    expect(r.stdout).toBe(`Restarting machine ${id}\nMachine ${id} restarted successfully!\n`)
    expect((await readCounters(stateDir)).machineRestarts - before.machineRestarts).toBe(1)
    expect((await flyctl(['machine', 'restart', 'nope'])).stderr).toBe(
      'Error: could not get machine nope: machine not found\n',
    )
  })

  it('logs follows until killed, then exits 127 like a cancelled flyctl and is journaled', async () => {
    const { id } = await sharedApp()
    // The lines the machine has logged so far: `fly logs` prints them first, then follows.
    const logged = fs
      .readFileSync(path.join(stateDir, 'apps/demo/machines', id, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean).length
    const child = spawn(FLYCTL, ['logs'], {
      cwd: workDir,
      env: {
        PATH: process.env.PATH,
        FLYCTL_STANDIN_STATE: stateDir,
        FLYCTL_STANDIN_RUNTIME: doubleFile,
        FLY_API_TOKEN: 't',
      },
    })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    const seen = (n: number) =>
      new Promise<void>((resolve) => {
        const tick = () => (stdout.split('\n').filter(Boolean).length >= n ? resolve() : setTimeout(tick, 50))
        tick()
      })
    await seen(logged)
    await flyctl(['machine', 'restart', id])
    await seen(logged + 1)
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code).toBe(127)
    expect((await readJournal(stateDir)).find((e) => e.argv.join(' ') === 'logs')).toMatchObject({
      exit: 127,
      stdin: false,
    })
  })

  it('machine update: no changes, -y required, memory multiple of 256, then applies (internal/machine/config.go, update.go)', async () => {
    const { id } = await sharedApp()
    expect((await flyctl(['machine', 'update', id, '--vm-memory', '2048'])).stderr).toBe(
      'Error: no config changes found\n',
    )
    const noYes = await flyctl(['m', 'update', id, '--vm-memory', '4096'])
    expect(noYes.stderr).toBe('Error: yes flag must be specified when not running interactively\n')
    const bad = await flyctl(['machines', 'update', id, '--vm-memory', '3000', '-y'])
    expect(bad.stderr).toBe(
      'Error: invalid memory size\n3000MiB of memory is not valid\n\nMemory size must be in a 256 MiB increment (2816MiB would work)\n\n',
    )
    const ok = await flyctl([
      'machines',
      'update',
      id,
      '--vm-memory',
      '4096',
      '--command',
      'node dist/index.js gateway --port 3000 --bind lan',
      '-y',
    ])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(`Machine ${id} updated successfully!`)
    const [m] = MachineListSchema.parse(JSON.parse((await flyctl(['machines', 'list', '--json'])).stdout))
    expect(m?.config.guest?.memory_mb).toBe(4096)
    expect(m?.config.init?.cmd).toEqual(['node', 'dist/index.js', 'gateway', '--port', '3000', '--bind', 'lan'])
  })
})

describe('journal, concurrency, faults', () => {
  it('journal: one line per call with argv, stdin flag and exit; secrets set values masked', async () => {
    await seedApp(stateDir, 'demo')
    await flyctl(['secrets', 'import', '--stage'], { stdin: 'A=secret-value\n' })
    await flyctl(['secrets', 'set', '--stage', 'B=other-value'])
    await flyctl(['status', '--bogus'])
    const journal = await readJournal(stateDir)
    expect(journal.map((e) => [e.argv, e.stdin, e.exit])).toEqual([
      [['secrets', 'import', '--stage'], true, 0],
      [['secrets', 'set', '--stage', 'B=<redacted>'], false, 0],
      [['status', '--bogus'], false, 1],
    ])
    expect(fs.readFileSync(path.join(stateDir, 'journal.jsonl'), 'utf8')).not.toMatch(/secret-value|other-value/)
  })

  it('parallel calls keep the state consistent', async () => {
    await seedApp(stateDir, 'demo')
    const names = Array.from({ length: 8 }, (_, i) => `S${i}`)
    const results = await Promise.all([
      ...names.map((n) => flyctl(['secrets', 'set', '--stage', `${n}=v`])),
      ...Array.from({ length: 4 }, (_, i) => flyctl(['volumes', 'create', `vol${i}`, '-r', 'iad', '-y'])),
      ...Array.from({ length: 4 }, (_, i) => flyctl(['apps', 'create', `app-${i}`])),
    ])
    expect(results.map((r) => r.code)).toEqual(results.map(() => 0))
    const state = await readState(stateDir)
    expect(Object.keys(state.apps.demo?.secrets ?? {}).sort()).toEqual(names)
    expect(state.apps.demo?.volumes).toHaveLength(4)
    expect(Object.keys(state.apps).sort()).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'demo'])
    expect(await readJournal(stateDir)).toHaveLength(16)
  })

  it('faults: scripted failures run out, logs drop after N lines', async () => {
    // The shared app's last user: the faults stay in its state root.
    const { id } = await sharedApp()
    await writeFaults(stateDir, {
      fail: [
        {
          command: 'machines list',
          times: 1,
          stderr: 'Error: request returned non-2xx status: 503: Service Unavailable',
          exit: 1,
        },
      ],
      logsDropAfterLines: 1,
    })
    const failed = await flyctl(['machines', 'list', '--json'])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toBe('Error: request returned non-2xx status: 503: Service Unavailable\n')
    expect(
      MachineListSchema.parse(JSON.parse((await flyctl(['machine', 'list', '--json'])).stdout)).map((m) => m.id),
    ).toEqual([id])
    await flyctl(['machine', 'restart', id])
    const logs = await flyctl(['logs'])
    expect(logs.code).toBe(1)
    expect(logs.stdout.trim().split('\n')).toHaveLength(1)
    expect(logs.stderr).toBe('Error: failed to stream logs: connection reset by peer\n')
  })

  it('machineNeverStarts: deploy times out with wait.go WaitTimeoutErr and marks the release failed', async () => {
    await seedApp(stateDir, 'demo')
    await writeFaults(stateDir, { machineNeverStarts: true })
    const r = await flyctl(['deploy', '--ha=false', '-y', '--wait-timeout', '1s'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /Error: timeout reached waiting for machine's state to change\nThe machine \w+ took more than 1s to reach "started"\n/,
    )
    const releases = ReleaseListSchema.parse(JSON.parse((await flyctl(['releases', '--json'])).stdout))
    expect(releases[0]).toMatchObject({ Status: 'failed', Stable: false, InProgress: false })
  })

  it('the real machine runtime runs the fake gateway: deploy, logs, ssh console', async () => {
    await seedApp(stateDir, 'demo')
    const env = { FLYCTL_STANDIN_RUNTIME: undefined }
    try {
      await flyctl(['secrets', 'import', '--stage'], { stdin: 'OPENCLAW_GATEWAY_TOKEN=tok\n', env })
      const r = await flyctl(['deploy', '--ha=false', '-y'], { env })
      expect(r.stderr).not.toMatch(/Error/)
      // Waits on the machine's log file in-process (a `fly logs` per look would start a process
      // each), then reads it once through `fly logs`.
      const id = machineId(await readState(stateDir))
      const logFile = runtime.logPath(stateDir, 'demo', id)
      await waitFor(
        'the fake gateway to log readiness',
        () => fs.existsSync(logFile) && /\[gateway\].*(ready|listening)/.test(fs.readFileSync(logFile, 'utf8')),
      )
      const logs = (await flyctl(['logs', '--no-tail'], { env })).stdout
      expect(logs, 'the fake gateway never logged readiness').toMatch(
        / app\[\w{14}\] iad \[info\].*\[gateway\].*(ready|listening)/,
      )
      const echo = await flyctl(['ssh', 'console', '-q', '-C', 'cat'], { stdin: 'hello', env })
      expect(echo).toMatchObject({ code: 0, stdout: 'hello' })
    } finally {
      await runtime.stopAll(stateDir)
    }
  })

  it('a crashing workload fails the deploy', async () => {
    await seedApp(stateDir, 'demo')
    fs.writeFileSync(path.join(workDir, 'Dockerfile'), 'FROM node:24\nLABEL fly-standin.workload=fake-gateway:crash\n')
    const r = await flyctl(['deploy', '--ha=false', '-y'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Error: machine \w+ failed to start: machine entered "failed" state\n/)
  })
})
