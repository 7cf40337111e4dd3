// Helpers for tests and benchmarks: read what the stand-in recorded and arrange platform state
// without going through flyctl. Everything goes through the same lock the CLI uses.
import fs from 'node:fs'
import path from 'node:path'
import type { CliFaults } from '../cli/faults.ts'
import type { JournalEntry } from '../cli/journal.ts'
import { rfc3339 } from '../cli/render.ts'
import { alnumId, readPlatform, updatePlatform, writeJsonFileAtomic } from './state.ts'
import type { Platform } from './state.ts'

export type { JournalEntry } from '../cli/journal.ts'
export type { Platform, AppRecord, MachineRecord, ReleaseRecord } from './state.ts'

/** Every journal line, oldest first. */
export async function readJournal(stateDir: string): Promise<JournalEntry[]> {
  let text: string
  try {
    text = fs.readFileSync(path.join(stateDir, 'journal.jsonl'), 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as JournalEntry)
}

/** The runtime's counters (standin/machines/state-files.ts Counters); zeros before any machine ran. */
export async function readCounters(
  stateDir: string,
): Promise<{ machineStarts: number; machineRestarts: number; crashRestarts: number }> {
  const zero = { machineStarts: 0, machineRestarts: 0, crashRestarts: 0 }
  try {
    return { ...zero, ...(JSON.parse(fs.readFileSync(path.join(stateDir, 'counters.json'), 'utf8')) as object) }
  } catch {
    return zero
  }
}

/** platform.json as the CLI keeps it (no secret values in it). */
export async function readState(stateDir: string): Promise<Platform> {
  return readPlatform(stateDir)
}

export interface SeedOptions {
  org?: string
  /** Forget the app's machines (and their volume attachments), as if destroyed out of band. */
  dropMachines?: boolean
  /** Forget the app's volumes. */
  dropVolumes?: boolean
}

/** Create the app if missing (like `fly apps create`), or change it as the options say. */
export async function seedApp(stateDir: string, name: string, options: SeedOptions = {}): Promise<void> {
  await updatePlatform(stateDir, (platform) => {
    const app =
      platform.apps[name] ??
      (platform.apps[name] = {
        id: alnumId(12),
        name,
        org: options.org ?? 'personal',
        created_at: rfc3339(Date.now()),
        deployed: false,
        volumes: [],
        ips: [],
        releases: [],
        machines: [],
        secrets: {},
      })
    if (options.dropMachines) {
      for (const m of app.machines) m.destroyed = true
      for (const v of app.volumes) v.attached_machine_id = null
    }
    if (options.dropVolumes) app.volumes = []
  })
}

/** Replace <state>/faults.json (see standin/README.md); clears the count of failures taken. */
export async function writeFaults(
  stateDir: string,
  faults: CliFaults & { restartLatencyMs?: number; machineNeverStarts?: boolean },
): Promise<void> {
  fs.mkdirSync(stateDir, { recursive: true })
  fs.rmSync(path.join(stateDir, 'faults-used.json'), { force: true })
  writeJsonFileAtomic(path.join(stateDir, 'faults.json'), faults)
}
