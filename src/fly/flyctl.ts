import { spawn, type ChildProcess } from 'node:child_process'
import * as os from 'node:os'
import type { z } from 'zod'
import { describeChange, type Change, type ChangeJournal } from '../run/change-journal.js'
import type { Redactor } from '../shared/redact.js'
import { DEFAULT_BACKOFF, retry, type Backoff } from '../shared/retry.js'

/**
 * The one way this action runs flyctl. argv goes straight to the process (no shell), the token
 * only into the child's environment, stdin is written and closed, output is captured, and a
 * failure becomes a FlyctlError carrying the redacted command line and flyctl's own `Error:` text.
 *
 * @actions/exec is not used here: it cannot end a child (no kill, no AbortSignal), which the
 * log follower and job cancellation need.
 */
export interface FlyctlOptions {
  /** Absolute path of the flyctl binary. */
  binary: string
  token: string
  redactor: Redactor
  /** Base environment for the child: the runner's, handed down from main.ts (RunDeps.env). */
  env: NodeJS.ProcessEnv
  /** Working directory of every call. */
  cwd?: string
  /** Receives each line of a call's output when `echo` is set (already redacted). */
  log?: (line: string) => void
  /** Ends every call when aborted (job cancellation). */
  signal?: AbortSignal
  /** Bounds of the retry of calls marked safe to repeat (tests shorten the delays). */
  backoff?: Partial<Backoff>
  /**
   * flyctl's config folder, given to the child as FLY_CONFIG_DIR (see flyctlEnv). Runs that share
   * HOME give each their own, so no two runs share flyctl's mutable state.
   */
  configDir?: string
  /** Receives every change flyctl confirms, and one in flight when the job is cancelled. */
  journal?: ChangeJournal
  /** A dry run: a mutating call is refused here, whatever a stage asks (the safety net of `dry-run`). */
  dryRun?: boolean
}

/**
 * Whether a call may be repeated after one of flyctl's transient errors (timeouts, 5xx, connection
 * resets, rate limits). Every call site says which it is; the repeats themselves are
 * shared/retry.ts's loop.
 * - `reading`: status, list, releases, version: repeating cannot change anything on Fly.
 * - `idempotent`: changes Fly, but a repeat leaves the same state (`why` says why).
 * - `once`: not repeated blindly; `why` says why and what checks it instead. A transient failure
 *   is raised with that reason, so the caller (or the user) can check before anything is repeated.
 */
export type RepeatSafety = { safe: 'reading' } | { safe: 'idempotent'; why: string } | { safe: 'once'; why: string }

/** Reading calls are retried; pass as `{ retry: READING }`. */
export const READING: RepeatSafety = { safe: 'reading' }

export interface RunOptions {
  /** Written to flyctl's stdin, then stdin is closed. Never logged. */
  stdin?: string
  /** Print each output line through FlyctlOptions.log as it arrives. */
  echo?: boolean
  /** Called with each stdout line as it arrives (raw; redact before showing). */
  onLine?: (line: string) => void
  /** Ends the call (SIGTERM, then SIGKILL) when aborted. */
  signal?: AbortSignal
  /** Ends the call after this many milliseconds. */
  timeoutMs?: number
  /**
   * Ends the call as Ctrl-C does (SIGINT) when aborted: flyctl cancels its context, marks a
   * deploy's release `interrupted` and gives its leases back (deploy/machines_deploymachinesapp.go),
   * then exits 127. The call is awaited; SIGKILL only if it is still running after 20 s.
   */
  interrupt?: AbortSignal
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean
  /** How the call reads in the change journal; default journal.ts describeChange (undefined: a reading call). */
  change?: string
  /**
   * May this call be repeated after a transient error? Omitted: it is run once (a mutating call
   * must say why it is or is not safe to repeat; see RepeatSafety).
   */
  retry?: RepeatSafety
  /**
   * json() only: answer from this run's last identical read when no mutating call has run since
   * (each reading call made once and shared between stages). Reads that watch for
   * change (the health gate's polls) leave it off.
   */
  reuse?: boolean
}

export interface FlyctlResult {
  args: string[]
  exitCode: number
  stdout: string
  stderr: string
  /** flyctl's `Error: ...` text, if it printed one. */
  error?: string
  /** The journal entry of a mutating call that flyctl confirmed (the caller may add what it learnt). */
  change?: Change
  /**
   * flyctl was ended from outside this action: killed by a signal this action did not send
   * (`killed by SIGKILL`), or crashed (`crashed: panic: ...`). Undefined when it exited on its own
   * or this action ended it (cancellation, a deadline, the gate's interrupt).
   */
  endedFromOutside?: string
}

export class FlyctlError extends Error {
  readonly command: string
  readonly exitCode: number
  readonly flyError: string
  readonly stderr: string
  /** How often the call was run before this failure was given up on. */
  readonly attempts: number

  constructor(command: string, exitCode: number, flyError: string, stderr: string, note = '', attempts = 1) {
    super(
      `\`${command}\` failed (exit ${exitCode}): ${flyError || 'no error text; see the log above'}${note ? `. ${note}` : ''}`,
    )
    this.name = 'FlyctlError'
    this.command = command
    this.exitCode = exitCode
    this.flyError = flyError
    this.stderr = stderr
    this.attempts = attempts
  }

  /** Failures worth retrying for a reading call: the platform or the network, not the request. */
  get transient(): boolean {
    return isTransientText(`${this.flyError}\n${this.stderr}`) || this.exitCode === 126
  }
}

const TRANSIENT =
  /(timeout|timed out|deadline exceeded|connection reset|ECONNRESET|EOF|temporarily unavailable|rate limit|too many requests|\b429\b|\b50[0234]\b|bad gateway|service unavailable|gateway timeout|connection refused|i\/o timeout|TLS handshake)/i

export function isTransientText(text: string): boolean {
  return TRANSIENT.test(text)
}

/** flyctl prints `Error: <msg>` on stderr (internal/cli); keep that part and what follows. */
export function extractFlyError(stderr: string): string {
  const lines = stderr.split(/\r?\n/)
  const at = lines.findIndex((l) => /^Error:?\s/.test(l.trim()) || l.trim() === 'Error:')
  const text =
    at >= 0
      ? lines.slice(at).join('\n')
      : lines
          .filter((l) => l.trim())
          .slice(-5)
          .join('\n')
  return text.replace(/^\s*Error:?\s*/, '').trim()
}

/** One key for one read however it is spelled: `-a` is `--app`, `machine` is `machines`, `--json` implied. */
function readKey(args: readonly string[]): string {
  const words = args.filter((a) => a !== '--json' && a !== '-j').map((a) => (a === '-a' ? '--app' : a))
  if (words[0] === 'machine' || words[0] === 'm') words[0] = 'machines'
  return JSON.stringify(words)
}

/** Quote argv for display only; nothing is ever run through a shell. */
export function displayCommand(args: readonly string[]): string {
  return ['flyctl', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/**
 * The child's environment: the token under FLY_API_TOKEN only, an inherited FLY_ACCESS_TOKEN
 * removed (it wins over FLY_API_TOKEN, and an empty one hides it), and flyctl kept quiet.
 *
 * With `configDir`, FLY_CONFIG_DIR points flyctl at a folder of this run's own. flyctl keeps
 * mutable state in its config folder, `$FLY_CONFIG_DIR` else `$HOME/.fly` (helpers/config.go
 * GetConfigDirectory): every command creates it and probes it with a temp file
 * (internal/command/command.go ensureConfigDirExists, ensureConfigDirPerms), rewrites `state.yml`
 * when its cache changed (command.go finalize, internal/cache), keeps `config.yml` with WireGuard
 * peers and keys (flyctl/flyctl.go), and the agent's socket, pid and logs (agent/agent.go,
 * agent/start.go). Parallel runs under one HOME would share and rewrite all of it.
 */
export function flyctlEnv(base: NodeJS.ProcessEnv, token: string, configDir?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base }
  delete env.FLY_ACCESS_TOKEN
  // Our inputs decide the app and the config; stray variables must not redirect a call.
  delete env.FLY_APP
  delete env.FLY_CONFIG
  for (const key of Object.keys(env)) if (key.startsWith('INPUT_')) delete env[key]
  if (token) env.FLY_API_TOKEN = token
  else delete env.FLY_API_TOKEN
  if (configDir) env.FLY_CONFIG_DIR = configDir
  env.FLY_NO_UPDATE_CHECK = '1'
  // `fly deploy` then prints the release it made as one JSON line (deploy/machines_deploymachinesapp.go).
  env.FLY_EMIT_RELEASE_JSON = '1'
  env.NO_COLOR = '1'
  env.CI = env.CI ?? 'true'
  return env
}

export class Flyctl {
  private readonly options: FlyctlOptions
  /** The last answer of each `--json` read, and how many mutating calls had begun or ended then. */
  private readonly reads = new Map<string, { changes: number; stdout: string }>()
  private changes = 0

  constructor(options: FlyctlOptions) {
    this.options = options
  }

  get binary(): string {
    return this.options.binary
  }

  redact(text: string): string {
    return this.options.redactor.redact(text)
  }

  async run(args: string[], opts: RunOptions = {}): Promise<FlyctlResult> {
    const change = opts.change ?? describeChange(args)
    if (change && this.options.dryRun) {
      throw new Error(
        `dry-run: \`${this.redact(displayCommand(args))}\` would change Fly (${change}); a dry run never does, so this is a bug in fly-deploy`,
      )
    }
    // Counted as it begins and as it ends: a read taken while it runs is not reused after it.
    if (change) this.changes++
    const result = await this.runWithRetry(args, opts).finally(() => {
      if (change) this.changes++
    })
    if (change) this.journalCall(change, args, result, opts)
    if (result.exitCode === 0 || opts.allowFailure) return result
    return this.fail(args, result, opts, result.attempts)
  }

  /**
   * Record a mutating call: confirmed (exit 0); in flight when the job was cancelled; interrupted
   * by the gate; a failed deploy (Fly records the release before it rolls out, so it may hold one).
   */
  private journalCall(
    change: string,
    args: string[],
    result: FlyctlResult & { attempts: number },
    opts: RunOptions,
  ): void {
    const journal = this.options.journal
    if (!journal) return
    const cancelled = [opts.signal, this.options.signal].some((s) => s?.aborted)
    if (result.exitCode === 0) result.change = journal.record(change)
    else if (cancelled) result.change = journal.record(change, 'in-flight')
    else if (opts.interrupt?.aborted) result.change = journal.record(change, 'interrupted')
    else if (args[0] === 'deploy') result.change = journal.record(change, 'failed')
  }

  private async runWithRetry(args: string[], opts: RunOptions): Promise<FlyctlResult & { attempts: number }> {
    const backoff = { ...DEFAULT_BACKOFF, ...this.options.backoff }
    const repeatable = opts.retry !== undefined && opts.retry.safe !== 'once'
    try {
      return await retry(
        async (attempt) => {
          const result = await this.spawn(args, opts)
          if (result.exitCode === 0) return { ...result, attempts: attempt }
          throw new Unsuccessful({ ...result, attempts: attempt })
        },
        {
          backoff: repeatable ? backoff : { ...backoff, attempts: 1 },
          isRetryable: (err) =>
            err instanceof Unsuccessful && isTransientText(`${err.result.error ?? ''}\n${err.result.stderr}`),
          signals: [opts.signal, this.options.signal],
          onRetry: ({ error, attempt, attempts, delayMs }) => {
            const result = (error as Unsuccessful).result
            this.options.log?.(
              `flyctl ${this.redact(args.slice(0, 2).join(' '))}: transient error (${this.redact(firstLine(result.error ?? result.stderr))}); ` +
                `retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${attempts})`,
            )
          },
        },
      )
    } catch (err) {
      if (err instanceof Unsuccessful) return err.result
      throw err
    }
  }

  private fail(args: string[], result: FlyctlResult, opts: RunOptions, attempts: number): never {
    const aborted = [opts.signal, this.options.signal].some((s) => s?.aborted)
    const transient = !aborted && !result.endedFromOutside && isTransientText(`${result.error ?? ''}\n${result.stderr}`)
    let note = ''
    if (result.endedFromOutside && !aborted) note = endedFromOutsideNote(result.endedFromOutside)
    if (transient && attempts > 1) note = `Gave up after ${attempts} attempts`
    else if (transient && opts.retry?.safe === 'once') note = `Not repeated automatically: ${opts.retry.why}`
    throw new FlyctlError(
      this.redact(displayCommand(args)),
      result.exitCode,
      this.redact(result.error ?? ''),
      this.redact(result.stderr),
      this.redact(note),
      attempts,
    )
  }

  /**
   * Run a `--json` command and validate its output with a schema; the one JSON parser. Every
   * `--json` command this action runs reads (list, status, releases), so it is retried unless the
   * caller says otherwise.
   */
  async json<T>(args: string[], schema: z.ZodType<T>, opts: RunOptions = {}): Promise<T> {
    const full = args.includes('--json') || args.includes('-j') ? args : [...args, '--json']
    const key = readKey(full)
    const kept = opts.reuse ? this.reads.get(key) : undefined
    if (kept && kept.changes === this.changes)
      return parseFlyJson(kept.stdout, schema, this.redact(displayCommand(full)))
    const changes = this.changes
    const result = await this.run(full, { retry: READING, ...opts })
    this.reads.set(key, { changes, stdout: result.stdout })
    return parseFlyJson(result.stdout, schema, this.redact(displayCommand(full)))
  }

  /** Run flyctl once as a process; a test subclass plays the process in-process (test/support/fake-flyctl.ts). */
  protected spawn(args: string[], opts: RunOptions): Promise<FlyctlResult> {
    const { binary, token, env, cwd, log, configDir } = this.options
    return new Promise((resolve, reject) => {
      const child = spawn(binary, args, {
        cwd,
        env: flyctlEnv(env, token, configDir),
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
      })
      const out = new LineCollector((line) => {
        opts.onLine?.(line)
        if (opts.echo && log) log(this.redact(line))
      })
      const err = new LineCollector((line) => {
        if (opts.echo && log) log(this.redact(line))
      })
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.feed(chunk))
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => err.feed(chunk))
      const ending = endWhenAsked(child, opts, [opts.signal, this.options.signal])
      child.on('error', (e) => {
        ending.done()
        reject(new Error(`could not start flyctl at ${binary}: ${e.message}`, { cause: e }))
      })
      child.on('close', (code, sig) => {
        ending.done()
        out.flush()
        err.flush()
        const exitCode = code ?? (sig ? 128 + (os.constants.signals[sig] ?? 15) : 1)
        // Our own deadline ended it: say so, which also makes it a transient failure.
        const error = ending.timedOut()
          ? `timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`
          : extractFlyError(err.text)
        const outside = ending.asked() || exitCode === 0 ? undefined : sig ? `killed by ${sig}` : goCrash(err.text)
        resolve({
          args,
          exitCode,
          stdout: out.text,
          stderr: err.text,
          error: exitCode === 0 ? undefined : (outside ?? error),
          ...(outside ? { endedFromOutside: outside } : {}),
        })
      })
      child.stdin.on('error', () => {
        // flyctl may exit before reading stdin; its exit code tells what happened.
      })
      child.stdin.end(opts.stdin)
    })
  }
}

/** A call that exited non-zero, as the retry loop sees it; unwrapped again by runWithRetry. */
class Unsuccessful extends Error {
  constructor(readonly result: FlyctlResult & { attempts: number }) {
    super(`flyctl exited ${result.exitCode}`)
  }
}

/** A process's output as it arrives: kept whole, and handed on line by line. */
class LineCollector {
  text = ''
  private pending = ''

  constructor(private readonly onLine: (line: string) => void) {}

  feed(chunk: string): void {
    this.text += chunk
    const lines = (this.pending + chunk).split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) this.onLine(line.replace(/\r$/, ''))
  }

  flush(): void {
    if (this.pending) this.onLine(this.pending)
    this.pending = ''
  }
}

/**
 * How a running call is ended: job cancellation or our deadline stop it (SIGTERM, then SIGKILL
 * after 3 s); `interrupt` ends it as Ctrl-C does (SIGINT, SIGKILL only after 20 s).
 */
function endWhenAsked(
  child: ChildProcess,
  opts: RunOptions,
  cancels: Array<AbortSignal | undefined>,
): { done(): void; timedOut(): boolean; asked(): boolean } {
  let finished = false
  let timedOut = false
  let asked = false
  const end = (signal: NodeJS.Signals, killAfterMs: number) => (): void => {
    if (finished) return
    asked = true
    child.kill(signal)
    setTimeout(() => {
      if (!finished) child.kill('SIGKILL')
    }, killAfterMs).unref()
  }
  const stop = end('SIGTERM', 3_000)
  const interrupt = end('SIGINT', 20_000)
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true
        stop()
      }, opts.timeoutMs)
    : undefined
  const signals = cancels.filter((s): s is AbortSignal => s !== undefined)
  for (const s of signals) {
    if (s.aborted) stop()
    else s.addEventListener('abort', stop, { once: true })
  }
  opts.interrupt?.addEventListener('abort', interrupt, { once: true })
  return {
    done: () => {
      finished = true
      if (timer) clearTimeout(timer)
      for (const s of signals) s.removeEventListener('abort', stop)
      opts.interrupt?.removeEventListener('abort', interrupt)
    },
    timedOut: () => timedOut,
    // A cancelled job: the runner signals the whole process group, flyctl included, maybe first.
    asked: () => asked || signals.some((s) => s.aborted) || opts.interrupt?.aborted === true,
  }
}

/**
 * A Go runtime crash: `panic: ...` or `fatal error: ...` followed by goroutine traces, exit 2
 * (Go runtime/panic.go). flyctl's own failures print `Error: ...` instead.
 */
function goCrash(stderr: string): string | undefined {
  const head = /^(panic|fatal error): .*$/m.exec(stderr)
  return head && /^goroutine \d+ \[/m.test(stderr) ? `crashed: ${head[0].slice(0, 200)}` : undefined
}

/** What a flyctl ended from outside means, for the error of any call. */
export function endedFromOutsideNote(how: string): string {
  return how.startsWith('killed')
    ? 'fly-deploy did not end it: the runner, the system (out of memory) or another process did'
    : 'flyctl itself crashed; run it again, and report it to superfly/flyctl with the trace above if it persists'
}

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .find((l) => l.trim())
      ?.trim() ?? 'no error text'
  )
}

/** Parse flyctl's JSON output and check its shape; errors name the command, never the payload. */
export function parseFlyJson<T>(stdout: string, schema: z.ZodType<T>, command: string): T {
  let data: unknown
  try {
    data = JSON.parse(stdout.trim() === '' ? 'null' : stdout)
  } catch (err) {
    throw new Error(
      `\`${command}\` printed output that is not JSON (${(err as Error).message}); is flyctl too old for --json?`,
      { cause: err },
    )
  }
  const parsed = schema.safeParse(data)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new Error(
      `\`${command}\` printed JSON of an unexpected shape (at ${issue?.path.join('.') || 'top'}: ${issue?.message}); ` +
        'set flyctl-version to a tested version',
    )
  }
  return parsed.data
}
