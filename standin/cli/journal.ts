// <state>/journal.jsonl: one line per flyctl call, {ts, argv, stdin, exit, configDir}. It never holds what
// came on stdin, only whether the call read any; `secrets set NAME=VALUE` values are masked.
import { fs } from '../platform/builtins.ts'
import path from 'node:path'

export interface JournalEntry {
  ts: string
  argv: string[]
  stdin: boolean
  exit: number
  /** flyctl's config folder the call used (FLY_CONFIG_DIR, else $HOME/.fly; standin/cli/config-dir.ts). */
  configDir?: string
}

export function maskArgv(argv: string[]): string[] {
  const words = argv.filter((w) => !w.startsWith('-'))
  const isSecretsSet = words[0] === 'secrets' && words[1] === 'set'
  if (!isSecretsSet) return [...argv]
  return argv.map((w) => (!w.startsWith('-') && /^[^=]+=/.test(w) ? `${w.slice(0, w.indexOf('='))}=<redacted>` : w))
}

export function appendJournal(stateDir: string, entry: JournalEntry): void {
  // One appendFileSync per line (O_APPEND, well under PIPE_BUF) keeps parallel calls' lines whole.
  fs.appendFileSync(
    path.join(stateDir, 'journal.jsonl'),
    `${JSON.stringify({ ...entry, argv: maskArgv(entry.argv) })}\n`,
  )
}
