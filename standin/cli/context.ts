// What every command gets: the state root, the parsed command line, output, stdin, and the
// preparers flyctl runs before a command (internal/command/command.go RequireSession,
// RequireAppName, LoadAppConfigIfPresent).
import { fs } from '../platform/builtins.ts'
import { loadAppConfig, configAppName } from '../appconfig/appconfig.ts'
import type { AppConfig } from '../appconfig/appconfig.ts'
import type { Parsed } from './args.ts'
import type { CliFaults } from './faults.ts'
import { FlyError } from '../platform/state.ts'

export interface Ctx {
  stateDir: string
  env: NodeJS.ProcessEnv
  version: string
  faults: CliFaults
  parsed: Parsed
  /** Set when the call read anything from stdin (the journal's `stdin`). */
  stdinUsed: boolean
}

export function out(text: string): void {
  process.stdout.write(text)
}

export function err(text: string): void {
  process.stderr.write(text)
}

export function flagString(ctx: Ctx, name: string): string {
  const v = ctx.parsed.flags.get(name)
  return typeof v === 'string' ? v : ''
}

export function flagBool(ctx: Ctx, name: string): boolean {
  return ctx.parsed.flags.get(name) === true
}

export function flagNumber(ctx: Ctx, name: string): number {
  const v = ctx.parsed.flags.get(name)
  return typeof v === 'number' ? v : 0
}

export function flagList(ctx: Ctx, name: string): string[] {
  const v = ctx.parsed.flags.get(name)
  return Array.isArray(v) ? v : []
}

export function flagGiven(ctx: Ctx, name: string): boolean {
  return ctx.parsed.given.has(name)
}

/** Everything on stdin, or nothing when stdin is a terminal. */
export function readStdin(ctx: Ctx): Buffer {
  if (process.stdin.isTTY) return Buffer.alloc(0)
  let data: Buffer
  try {
    data = fs.readFileSync(0)
  } catch {
    data = Buffer.alloc(0)
  }
  if (data.length > 0) ctx.stdinUsed = true
  return data
}

/**
 * RequireSession: `--access-token`, else the first of FLY_ACCESS_TOKEN, FLY_API_TOKEN that is
 * set (env.First uses LookupEnv, so an empty FLY_ACCESS_TOKEN hides FLY_API_TOKEN).
 * The message is fly-go's ErrNoAuthToken (api.go).
 */
export function requireSession(ctx: Ctx): void {
  const fromFlag = flagString(ctx, 'access-token')
  let token = fromFlag
  if (!token) {
    if (ctx.env.FLY_ACCESS_TOKEN !== undefined) token = ctx.env.FLY_ACCESS_TOKEN
    else token = ctx.env.FLY_API_TOKEN ?? ''
  }
  if (!token) throw new FlyError("no access token available. Please login with 'flyctl auth login'")
}

export function loadConfig(ctx: Ctx): AppConfig | undefined {
  return loadAppConfig(flagString(ctx, 'config'), process.cwd())
}

/** RequireAppName: `-a`, then FLY_APP, then fly.toml's `app` (command.go ErrRequireAppName). */
export function requireAppName(ctx: Ctx, config: AppConfig | undefined): string {
  const name = flagString(ctx, 'app') || ctx.env.FLY_APP || configAppName(config)
  if (!name) {
    throw new FlyError(
      'the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag',
    )
  }
  return name
}

const interruptHooks: Array<() => Promise<void>> = []

/**
 * Work to finish when flyctl is interrupted (SIGINT/SIGTERM cancel its context, root.go), such
 * as marking a deploy's release `interrupted`; the CLI gives it about a second, as flyctl does
 * (machines_deploymachinesapp.go: "Provide an extra second to try to update the release status").
 */
export function onInterrupt(hook: () => Promise<void>): void {
  interruptHooks.push(hook)
}

export async function runInterruptHooks(budgetMs = 1_000): Promise<void> {
  const all = Promise.allSettled(interruptHooks.splice(0).map((hook) => hook()))
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, budgetMs))])
}
