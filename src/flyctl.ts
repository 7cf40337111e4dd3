import { spawn } from 'node:child_process'
import type { z } from 'zod'
import type { Redactor } from './redact.js'

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
  /** Base environment for the child; process.env when omitted. */
  env?: NodeJS.ProcessEnv
  /** Working directory of every call. */
  cwd?: string
  /** Receives each line of a call's output when `echo` is set (already redacted). */
  log?: (line: string) => void
  /** Ends every call when aborted (job cancellation). */
  signal?: AbortSignal
}

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
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean
}

export interface FlyctlResult {
  args: string[]
  exitCode: number
  stdout: string
  stderr: string
  /** flyctl's `Error: ...` text, if it printed one. */
  error?: string
}

export class FlyctlError extends Error {
  readonly command: string
  readonly exitCode: number
  readonly flyError: string
  readonly stderr: string

  constructor(command: string, exitCode: number, flyError: string, stderr: string) {
    super(`\`${command}\` failed (exit ${exitCode}): ${flyError || 'no error text; see the log above'}`)
    this.name = 'FlyctlError'
    this.command = command
    this.exitCode = exitCode
    this.flyError = flyError
    this.stderr = stderr
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
  const text = at >= 0 ? lines.slice(at).join('\n') : lines.filter((l) => l.trim()).slice(-5).join('\n')
  return text.replace(/^\s*Error:?\s*/, '').trim()
}

/** Quote argv for display only; nothing is ever run through a shell. */
export function displayCommand(args: readonly string[]): string {
  return ['flyctl', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/**
 * The child's environment: the token under FLY_API_TOKEN only, an inherited FLY_ACCESS_TOKEN
 * removed (it wins over FLY_API_TOKEN, and an empty one hides it), and flyctl kept quiet.
 */
export function flyctlEnv(base: NodeJS.ProcessEnv, token: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base }
  delete env.FLY_ACCESS_TOKEN
  // Our inputs decide the app and the config; stray variables must not redirect a call.
  delete env.FLY_APP
  delete env.FLY_CONFIG
  for (const key of Object.keys(env)) if (key.startsWith('INPUT_')) delete env[key]
  if (token) env.FLY_API_TOKEN = token
  else delete env.FLY_API_TOKEN
  env.FLY_NO_UPDATE_CHECK = '1'
  env.NO_COLOR = '1'
  env.CI = env.CI ?? 'true'
  return env
}

export class Flyctl {
  private readonly options: FlyctlOptions

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
    const result = await this.spawn(args, opts)
    if (result.exitCode !== 0 && !opts.allowFailure) {
      throw new FlyctlError(
        this.redact(displayCommand(args)),
        result.exitCode,
        this.redact(result.error ?? ''),
        this.redact(result.stderr),
      )
    }
    return result
  }

  /** Run a `--json` command and validate its output with a schema; the one JSON parser. */
  async json<T>(args: string[], schema: z.ZodType<T>, opts: RunOptions = {}): Promise<T> {
    const full = args.includes('--json') || args.includes('-j') ? args : [...args, '--json']
    const result = await this.run(full, opts)
    return parseFlyJson(result.stdout, schema, this.redact(displayCommand(full)))
  }

  private spawn(args: string[], opts: RunOptions): Promise<FlyctlResult> {
    const { binary, token, env, cwd, log } = this.options
    return new Promise((resolve, reject) => {
      const child = spawn(binary, args, {
        cwd,
        env: flyctlEnv(env ?? process.env, token),
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
      })
      let stdout = ''
      let stderr = ''
      let pendingOut = ''
      let pendingErr = ''
      let finished = false
      const emit = (line: string, isOut: boolean): void => {
        if (isOut) opts.onLine?.(line)
        if (opts.echo && log) log(this.redact(line))
      }
      const feed = (chunk: string, isOut: boolean): void => {
        const buffered = (isOut ? pendingOut : pendingErr) + chunk
        const lines = buffered.split('\n')
        const rest = lines.pop() ?? ''
        if (isOut) pendingOut = rest
        else pendingErr = rest
        for (const line of lines) emit(line.replace(/\r$/, ''), isOut)
      }
      child.stdout.setEncoding('utf8')
      child.stderr.setEncoding('utf8')
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk
        feed(chunk, true)
      })
      child.stderr.on('data', (chunk: string) => {
        stderr += chunk
        feed(chunk, false)
      })

      const stop = (): void => {
        if (finished) return
        child.kill('SIGTERM')
        setTimeout(() => {
          if (!finished) child.kill('SIGKILL')
        }, 3000).unref()
      }
      const timer = opts.timeoutMs ? setTimeout(stop, opts.timeoutMs) : undefined
      const signals = [opts.signal, this.options.signal].filter((s): s is AbortSignal => s !== undefined)
      for (const s of signals) {
        if (s.aborted) stop()
        else s.addEventListener('abort', stop, { once: true })
      }

      child.on('error', (err) => {
        finished = true
        if (timer) clearTimeout(timer)
        reject(new Error(`could not start flyctl at ${binary}: ${err.message}`))
      })
      child.on('close', (code, sig) => {
        finished = true
        if (timer) clearTimeout(timer)
        for (const s of signals) s.removeEventListener('abort', stop)
        if (pendingOut) emit(pendingOut, true)
        if (pendingErr) emit(pendingErr, false)
        const exitCode = code ?? (sig ? 128 + 15 : 1)
        resolve({ args, exitCode, stdout, stderr, error: exitCode === 0 ? undefined : extractFlyError(stderr) })
      })

      child.stdin.on('error', () => {
        // flyctl may exit before reading stdin; its exit code tells what happened.
      })
      if (opts.stdin !== undefined) child.stdin.end(opts.stdin)
      else child.stdin.end()
    })
  }
}

/** Parse flyctl's JSON output and check its shape; errors name the command, never the payload. */
export function parseFlyJson<T>(stdout: string, schema: z.ZodType<T>, command: string): T {
  let data: unknown
  try {
    data = JSON.parse(stdout.trim() === '' ? 'null' : stdout)
  } catch (err) {
    throw new Error(`\`${command}\` printed output that is not JSON (${(err as Error).message}); is flyctl too old for --json?`)
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
