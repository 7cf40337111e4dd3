// Helpers for tests and benchmarks: read what the stand-in recorded and arrange platform state
// without going through flyctl. Everything goes through the same lock the CLI uses.
import { fs } from './builtins.ts'
import path from 'node:path'
import type { CliFaults } from '../cli/faults.ts'
import type { JournalEntry } from '../cli/journal.ts'
import { rfc3339 } from '../cli/render.ts'
import {
  alnumId,
  machineId,
  readMachineSecrets,
  readPlatform,
  updatePlatform,
  writeJsonFileAtomic,
  writeMachineSecrets,
} from './state.ts'
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

/**
 * A second machine like `fly machine clone <id>` makes: the same config and secrets, on a new volume
 * of the same name (created, not started: start it with `fly machine start`). Returns its id.
 */
export async function cloneMachine(stateDir: string, appName: string, fromId: string): Promise<string> {
  return updatePlatform(stateDir, (platform) => {
    const app = platform.apps[appName]
    const source = app?.machines.find((m) => m.id === fromId)
    if (!app || !source) throw new Error(`cloneMachine: no machine ${fromId} in app ${appName}`)
    const id = machineId()
    const config = structuredClone(source.config)
    config.mounts = (config.mounts ?? []).map((mount) => {
      const from = app.volumes.find((v) => v.id === mount.volume)
      const volume = {
        ...(from ?? app.volumes[0]!),
        id: `vol_${alnumId(16)}`,
        attached_machine_id: id,
        created_at: rfc3339(Date.now()),
      }
      app.volumes.push(volume)
      return { ...mount, volume: volume.id }
    })
    const now = rfc3339(Date.now())
    app.machines.push({
      ...structuredClone(source),
      id,
      name: `${source.name}-clone`,
      instance_id: alnumId(26),
      created_at: now,
      updated_at: now,
      config,
    })
    writeMachineSecrets(stateDir, appName, id, readMachineSecrets(stateDir, appName, fromId))
    return id
  })
}
