// Shared by the reliability e2e files, split in two so they run side by side.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { JournalEntry } from '../../standin/platform/inspect.ts'
import { GATEWAY_TOKEN } from './standin.ts'

export const REPO = path.resolve(import.meta.dirname, '../..')
export const APP = 'my-openclaw'
export const TOKEN_SECRET = `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`
export const TIMEOUT = 240_000

export const line = (e: JournalEntry) => e.argv.join(' ')
/** Exit codes of the journaled calls that start with `prefix`, in order. */
export const exits = (journal: JournalEntry[], prefix: string) =>
  journal.filter((e) => line(e).startsWith(prefix)).map((e) => e.exit)

/** flyctl processes (the stand-in's CLI) still running against this state root. */
export function liveFlyctl(state: string): number[] {
  const pids: number[] = []
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      if (!cmd.includes('standin/bin/../cli.ts')) continue
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FLYCTL_STANDIN_STATE=${state}`))
        pids.push(Number(pid))
    } catch {
      // gone, or not ours
    }
  }
  return pids
}

export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const stat = fs.statSync(file)
    out[path.relative(dir, file)] =
      `${createHash('sha256').update(fs.readFileSync(file)).digest('hex')} ${stat.mode} ${stat.mtimeMs}`
  }
  return out
}
