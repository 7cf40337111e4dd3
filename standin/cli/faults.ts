// Fault injection for tests and benchmarks: <state>/faults.json (documented in standin/README.md).
// The CLI applies latency and scripted failures per command and cuts `logs` short; the machine
// runtime applies restartLatencyMs and machineNeverStarts (standin/machines/state-files.ts readFaults).
import { fs } from '../platform/builtins.ts'
import path from 'node:path'
import { withStateLock, writeJsonFileAtomic } from '../platform/state.ts'

export interface FailRule {
  /** Command path, e.g. `machines list`, `deploy`, `secrets import`; `*` matches every command. */
  command: string
  /** How many calls fail before the command works again; every call when omitted. */
  times?: number
  stderr?: string
  stdout?: string
  exit?: number
}

export interface CliFaults {
  latencyMs?: Record<string, number>
  fail?: FailRule[]
  logsDropAfterLines?: number
  /**
   * `fly deploy` kills itself with this signal once its machines are rolled out and waited for,
   * before it closes the release: flyctl ended from outside (the runner, the OOM killer). Once per
   * state root.
   */
  killDeployAfterRollout?: NodeJS.Signals
  /** How long a new volume snapshot stays pending before it reads `created` (default 1500 ms). */
  snapshotPendingMs?: number
  /** A volume snapshot that never leaves pending (the platform never finishes it). */
  snapshotNeverCompletes?: boolean
  /**
   * `fly deploy` leaves this many of the app's existing machines on their old config and release
   * (the first ones, by creation) and still exits 0, as a blue-green deploy that gives up does
   * (superfly/flyctl#2651, open). Taken by the next deploy only (faults-used.json).
   */
  deployLeavesMachines?: number
}

export function readCliFaults(stateDir: string): CliFaults {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, 'faults.json'), 'utf8')) as CliFaults
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new Error(`flyctl stand-in: cannot read ${path.join(stateDir, 'faults.json')}: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

/** A command matches by its typed path (`machines list`) or its canonical one (`machine list`). */
function matches(rule: string, names: string[]): boolean {
  return rule === '*' || names.includes(rule)
}

export function latencyFor(faults: CliFaults, names: string[]): number {
  const table = faults.latencyMs ?? {}
  for (const name of names) if (typeof table[name] === 'number') return table[name] as number
  return typeof table['*'] === 'number' ? (table['*'] as number) : 0
}

/** The failure this call should produce, if any; a rule with `times` is used up under the lock. */
export async function takeFailure(stateDir: string, faults: CliFaults, names: string[]): Promise<FailRule | undefined> {
  const rules = faults.fail ?? []
  if (!rules.some((r) => matches(r.command, names))) return undefined
  return withStateLock(stateDir, () => {
    const usedFile = path.join(stateDir, 'faults-used.json')
    let used: Record<string, number> = {}
    try {
      used = JSON.parse(fs.readFileSync(usedFile, 'utf8')) as Record<string, number>
    } catch {
      // first failure taken
    }
    for (const [index, rule] of rules.entries()) {
      if (!matches(rule.command, names)) continue
      const key = `${index}:${rule.command}`
      const count = used[key] ?? 0
      if (rule.times !== undefined && count >= rule.times) continue
      used[key] = count + 1
      writeJsonFileAtomic(usedFile, used)
      return rule
    }
    return undefined
  })
}

/** How many machines this deploy leaves on their old release (the knob, used up by the first deploy that takes it). */
export async function takeDeployLeave(stateDir: string, faults: CliFaults): Promise<number> {
  const count = faults.deployLeavesMachines ?? 0
  if (count <= 0) return 0
  return withStateLock(stateDir, () => {
    const usedFile = path.join(stateDir, 'faults-used.json')
    let used: Record<string, number> = {}
    try {
      used = JSON.parse(fs.readFileSync(usedFile, 'utf8')) as Record<string, number>
    } catch {
      // nothing taken yet
    }
    if (used.deployLeavesMachines) return 0
    used.deployLeavesMachines = 1
    writeJsonFileAtomic(usedFile, used)
    return count
  })
}
