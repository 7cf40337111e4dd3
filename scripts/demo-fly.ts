// What the demo reads back from the stand-in after a run, through its flyctl as a user would:
// `flyctl logs --no-tail` (the recent buffer, text form `<RFC3339> app[<id>] <region> [info]<msg>`,
// flyctl internal/command/logs) and `flyctl machines list --json`.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { REPO_ROOT } from '../standin/runner/runner.ts'

const FLYCTL = path.join(REPO_ROOT, 'standin/bin/flyctl')
// eslint-disable-next-line no-control-regex -- ESC is the point: it strips ANSI colour codes
const ANSI = /\x1b\[[0-9;]*m/g

export interface LogLine {
  at: string
  source: 'app' | 'runner'
  machine: string
  message: string
}

/** Runs the stand-in's flyctl read-only; the token is a reader's placeholder, not a demo secret. */
function flyctl(state: string, args: string[]): string {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FLYCTL_STANDIN_STATE: state,
    FLY_API_TOKEN: 'demo-reader',
    NO_COLOR: '1',
  }
  // The whole log buffer passes here: more than spawnSync's default 1 MiB after a few starts.
  const run = spawnSync(FLYCTL, args, { env, encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 })
  if (run.error || run.status !== 0)
    throw new Error(`flyctl ${args.join(' ')} failed: ${run.error?.message ?? run.stderr.trim()}`)
  return run.stdout
}

export function parseLogText(text: string): LogLine[] {
  const lines: LogLine[] = []
  for (const raw of text.split('\n')) {
    const m = /^(\S+) (app|runner)\[(\w+)\] \S+ \[\w+\](.*)$/.exec(raw.replace(ANSI, ''))
    if (m)
      lines.push({
        at: m[1] as string,
        source: m[2] as LogLine['source'],
        machine: m[3] as string,
        message: (m[4] as string).trim(),
      })
  }
  return lines
}

/**
 * The app's log lines written at or after `sinceMs`. Read again, up to three times, while none
 * is found: right after a rollback one read returned no lines at all (twice in two demos, not
 * understood yet), and a later read in the same demo had them.
 */
export async function logLinesSince(state: string, app: string, sinceMs: number): Promise<LogLine[]> {
  for (let attempt = 1; ; attempt++) {
    const text = flyctl(state, ['logs', '--no-tail', '-a', app])
    const lines = parseLogText(text).filter((l) => Date.parse(l.at) >= sinceMs)
    if (lines.length > 0 || attempt === 3) return lines
    console.error(
      `(demo: flyctl logs --no-tail gave ${text.length} bytes, no line since the run started; reading again)`,
    )
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

/**
 * Lines a reader needs to judge a start: the gateway's own, fatal ones, and the platform's. The
 * stand-in's machines have no npm, so plugins that install dependencies at start log failures
 * that a real image would not show; those `[plugins]` lines are left out.
 */
export function isTellingLine(line: LogLine): boolean {
  if (line.source === 'runner') return true
  if (/FATAL|out of memory/i.test(line.message)) return true
  return (
    !line.message.includes('[plugins]') &&
    /\[gateway\]|Gateway is binding|Invalid config|Refusing|Error:/.test(line.message)
  )
}

export interface MachineSeen {
  id: string
  state: string
  image: string
  /** The volume it mounts, if any. */
  volume?: string
}

export function machinesOf(state: string, app: string): MachineSeen[] {
  const list = JSON.parse(flyctl(state, ['machines', 'list', '-a', app, '--json'])) as Array<{
    id: string
    state: string
    config?: { image?: string; mounts?: Array<{ volume?: string }> }
  }>
  return list.map((m) => ({
    id: m.id,
    state: m.state,
    image: m.config?.image ?? '',
    volume: m.config?.mounts?.[0]?.volume,
  }))
}

export interface VolumeSeen {
  id: string
  attached: string
}

export function volumesOf(state: string, app: string): VolumeSeen[] {
  const list = JSON.parse(flyctl(state, ['volumes', 'list', '-a', app, '--json'])) as Array<{
    id: string
    attached_machine_id?: string | null
  }>
  return list.map((v) => ({ id: v.id, attached: v.attached_machine_id ?? '' }))
}

/**
 * The files on a volume and their bytes: the stand-in keeps a volume's contents in
 * `<state>/volumes/<id>/` (what `fly ssh console -C 'find /data'` would show on Fly).
 */
export function volumeFiles(state: string, volumeId: string): Map<string, string> {
  const dir = path.join(state, 'volumes', volumeId)
  const found = new Map<string, string>()
  if (!fs.existsSync(dir)) return found
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      found.set(
        path.relative(dir, path.join(entry.parentPath, entry.name)),
        fs.readFileSync(path.join(entry.parentPath, entry.name), 'latin1'),
      )
  }
  return found
}
