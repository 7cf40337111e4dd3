/**
 * flyctl played in-process, for unit tests without child processes: the real Flyctl runner
 * (retry, journal, redaction, dry-run safety net) over a small in-memory Fly that answers the
 * calls a deploy makes, with flyctl's texts and JSON shapes (see standin/ for the full stand-in).
 * A test scripts it: answers per command (`answers`), one-shot failures (`fail`), something done
 * before a command answers (`before`); and reads what was called (`calls`, `callsTo`).
 */
import { Flyctl, type FlyctlOptions, type FlyctlResult, type RunOptions } from '../../src/fly/flyctl.js'
import { ChangeJournal } from '../../src/run/change-journal.js'
import { Redactor } from '../../src/shared/redact.js'

export interface FakeRelease {
  Version: number
  Status: string
  ImageRef: string
  /** When its deploy ran (ms): the machine's start event and the gateway's lines. */
  at?: number
}

/** One call as the process would have been started: its argv, that argv joined by spaces, its stdin. */
export interface FakeCall {
  args: string[]
  line: string
  stdin?: string
}

/** What a played flyctl process says: stdout (each line also to `onLine`), stderr, exit code (0). */
export interface FakeAnswer {
  stdout?: string
  stderr?: string
  exitCode?: number
}

/**
 * A test's own answer to a command. It may stream lines itself (`opts.onLine`) and wait until the
 * call is ended (`opts.signal`), as `fly logs` does.
 */
export type Responder = (args: string[], opts: RunOptions) => FakeAnswer | Promise<FakeAnswer>

export interface FakeFly {
  apps: Set<string>
  volumes: Map<string, string[]>
  releases: Map<string, FakeRelease[]>
  /** Calls made, in order. */
  calls: FakeCall[]
  /** Answers for calls whose argv (joined by spaces) starts with the key, the longest key first; '' answers every call. */
  answers: Map<string, Responder>
  /** One-shot failures for the next call whose argv starts with the key. */
  fail: Map<string, { stderr: string; exit?: number }>
  /** Run before a command answers (a race: another run acting meanwhile). */
  before: Map<string, () => void>
  /** `deploy` waits until its call is aborted (a job cancelled mid-deploy); `started` resolves as it begins. */
  deployHangs?: { started: () => void }
}

export function newFakeFly(): FakeFly {
  return {
    apps: new Set(),
    volumes: new Map(),
    releases: new Map(),
    calls: [],
    answers: new Map(),
    fail: new Map(),
    before: new Map(),
  }
}

/** The calls whose argv (joined by spaces) starts with `prefix`. */
export function callsTo(fly: FakeFly, prefix: string): FakeCall[] {
  return fly.calls.filter((c) => c.line.startsWith(prefix))
}

/** The real runner over `fly`, with options a unit test does not care about filled in. */
export function inProcessFlyctl(fly: FakeFly, options: Partial<FlyctlOptions> = {}): InProcessFlyctl {
  return new InProcessFlyctl(
    {
      binary: 'flyctl',
      token: 'fake-token',
      redactor: new Redactor(),
      env: {},
      journal: new ChangeJournal(),
      ...options,
    },
    fly,
  )
}

type Answer = FakeAnswer

const ok = (stdout = ''): Answer => ({ stdout })
const json = (value: unknown): Answer => ok(JSON.stringify(value, null, 4))
const error = (text: string): Answer => ({ stderr: `Error: ${text}\n`, exitCode: 1 })

function flagValue(args: readonly string[], ...names: string[]): string {
  const at = args.findIndex((a) => names.includes(a))
  return at >= 0 ? (args[at + 1] ?? '') : ''
}

function answer(fly: FakeFly, args: string[]): Answer {
  const app = flagValue(args, '--app', '-a')
  const [group, verb] = args
  const releases = fly.releases.get(app) ?? []
  const commands: Array<[boolean, () => Answer]> = [
    [group === 'version', () => ok('flyctl v0.4.87 linux/amd64 Commit: fake BuildDate: 2026-08-21T00:00:00Z\n')],
    [
      group === 'status',
      () => (fly.apps.has(app) ? json({ Name: app }) : error(`failed to get app: Could not find App "${app}"`)),
    ],
    [
      group === 'platform',
      () =>
        json([
          { code: 'iad', name: 'Ashburn, Virginia (US)' },
          { code: 'ams', name: 'Amsterdam, Netherlands' },
        ]),
    ],
    [group === 'secrets' && verb === 'list', () => json([])],
    [group === 'secrets', () => ok()],
    [group === 'apps' && verb === 'create', () => createApp(fly, args[2] as string)],
    [
      group === 'volumes' && verb === 'list',
      () =>
        json(
          (fly.volumes.get(app) ?? []).map((name, i) => ({
            id: `vol_${i}`,
            name,
            state: 'created',
            size_gb: 1,
            region: 'iad',
          })),
        ),
    ],
    [
      group === 'volumes' && verb === 'create',
      () => (fly.volumes.set(app, [...(fly.volumes.get(app) ?? []), args[2] as string]), ok()),
    ],
    [group === 'releases', () => json([...releases].reverse())],
    [group === 'deploy', () => deploy(fly, app, args)],
    [
      group === 'machines' || group === 'machine',
      () => json(releases.length ? [machine(releases.at(-1) as FakeRelease)] : []),
    ],
    [group === 'logs', () => ok(gatewayLines(releases.at(-1)))],
  ]
  const hit = commands.find(([match]) => match)
  return hit ? hit[1]() : error(`fake flyctl: no answer for ${args.join(' ')}`)
}

function createApp(fly: FakeFly, name: string): Answer {
  if (fly.apps.has(name)) return error('Name has already been taken')
  fly.apps.add(name)
  return ok(`New app created: ${name}\n`)
}

function deploy(fly: FakeFly, app: string, args: string[]): Answer {
  const list = fly.releases.get(app) ?? []
  const version = Math.max(0, ...list.map((r) => r.Version)) + 1
  const image = flagValue(args, '--image') || `registry.fly.io/${app}:deployment-${version}`
  list.push({ Version: version, Status: 'complete', ImageRef: image, at: Date.now() })
  fly.releases.set(app, list)
  return ok(
    `${JSON.stringify({ id: `rel${version}`, version, image_ref: image })}\nVisit your newly deployed app at https://${app}.fly.dev/\n`,
  )
}

const MACHINE = '148ed193b95389'

function machine(release: FakeRelease): Record<string, unknown> {
  const cmd = ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']
  const at = release.at ?? Date.now()
  return {
    id: MACHINE,
    state: 'started',
    region: 'iad',
    config: {
      image: release.ImageRef,
      guest: { memory_mb: 2048 },
      init: { cmd },
      metadata: { fly_release_version: String(release.Version), fly_process_group: 'app' },
    },
    events: [
      { type: 'start', status: 'started', source: 'flyd', timestamp: at + 1 },
      { type: 'update', status: 'replacing', source: 'user', timestamp: at },
    ],
  }
}

/** The lines openclaw 2026.9.6 prints when ready on a lan bind (test/fixtures/gateway-logs/2026.9.6/ready-lan.log), as `fly logs` shows them. */
function gatewayLines(release: FakeRelease | undefined): string {
  if (!release?.at) return ''
  const time = new Date(release.at + 1000).toISOString().replace(/\.\d+Z$/, 'Z')
  const line = (message: string) => `${time} app[${MACHINE}] iad [info]${message}\n`
  return (
    line(
      '[gateway] ⚠️  Gateway is binding to a non-loopback address. Ensure authentication is configured before exposing to public networks.',
    ) + line('[gateway] ready')
  )
}

/** The real runner; only the process is played here. */
export class InProcessFlyctl extends Flyctl {
  private readonly jobSignal?: AbortSignal

  constructor(
    options: FlyctlOptions,
    private readonly fly: FakeFly,
  ) {
    super(options)
    this.jobSignal = options.signal
  }

  protected override async spawn(args: string[], opts: RunOptions): Promise<FlyctlResult> {
    const line = args.join(' ')
    this.fly.calls.push({ args, line, ...(opts.stdin === undefined ? {} : { stdin: opts.stdin }) })
    const key = [...this.fly.before.keys()].find((k) => line.startsWith(k))
    if (key) this.fly.before.get(key)?.()
    if (args[0] === 'deploy' && this.fly.deployHangs) return this.hang(args, opts)
    const failKey = [...this.fly.fail.keys()].find((k) => line.startsWith(k))
    const scripted = failKey ? this.fly.fail.get(failKey) : undefined
    if (failKey) this.fly.fail.delete(failKey)
    const responder = [...this.fly.answers.keys()]
      .filter((k) => line.startsWith(k))
      .sort((x, y) => y.length - x.length)[0]
    const a = scripted
      ? { stderr: scripted.stderr, exitCode: scripted.exit ?? 1 }
      : responder !== undefined
        ? await (this.fly.answers.get(responder) as Responder)(args, opts)
        : answer(this.fly, args)
    const exitCode = a.exitCode ?? 0
    const stderr = a.stderr ?? ''
    // As the real spawn does: each stdout line to onLine as it arrives (the log follower reads them so).
    for (const line of (a.stdout ?? '').split('\n')) if (line) opts.onLine?.(line)
    return {
      args,
      exitCode,
      stdout: a.stdout ?? '',
      stderr,
      error: exitCode === 0 ? undefined : stderr.replace(/^Error: /, '').trim(),
    }
  }

  /** A deploy that has created its release and waits, until the job's signal ends it (exit 127, as flyctl). */
  private hang(args: string[], opts: RunOptions): Promise<FlyctlResult> {
    deploy(this.fly, flagValue(args, '--app', '-a'), args)
    this.fly.deployHangs?.started()
    const signals = [opts.signal, opts.interrupt, this.jobSignal].filter((s): s is AbortSignal => s !== undefined)
    return new Promise((resolve) => {
      const end = () => resolve({ args, exitCode: 127, stdout: '', stderr: '', error: '' })
      for (const s of signals) s.addEventListener('abort', end, { once: true })
    })
  }
}
