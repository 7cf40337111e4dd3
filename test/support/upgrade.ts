// Shared by the upgrade files: test/e2e/upgrade.test.ts (faults, fake gateway) and
// test/gateway/upgrade.test.ts (the real gateways): the releases, what the stand-in recorded, and a
// volume's files.
import fs from 'node:fs'
import path from 'node:path'
import { readJournal, readState, type JournalEntry } from '../../standin/platform/inspect.ts'
import { GATEWAY_TOKEN, type StandinWorld } from './standin.js'

export const OLD = '2026.4.29'
export const NEW = '2026.9.6'
export const SECRETS = JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN })

const argv = (e: JournalEntry) => e.argv.join(' ')

/** The calls since the journal had `from` entries, each as its argv joined. */
export async function callsSince(w: StandinWorld, from: number): Promise<string[]> {
  return (await readJournal(w.state)).slice(from).map(argv)
}

/** The app's machines that are not destroyed, and its volumes. */
export async function appState(w: StandinWorld, app: string) {
  const state = (await readState(w.state)).apps[app]
  if (!state) throw new Error(`no app ${app}`)
  return { machines: state.machines.filter((m) => !m.destroyed), volumes: state.volumes }
}

export const volumeDir = (w: StandinWorld, id: string) => path.join(w.state, 'volumes', id)

/** Every file under a volume, relative, with its bytes. */
export function files(dir: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const full = path.join(entry.parentPath, entry.name)
    found.set(path.relative(dir, full), fs.readFileSync(full, 'latin1'))
  }
  return found
}
