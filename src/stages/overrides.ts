import { MachineListSchema, type Machine } from '../fly/schemas.js'
import { appMachines } from '../fly/machines.js'
import type { Plan } from '../inputs/plan.js'
import type { StageContext } from '../run/report.js'

/**
 * Overrides stage. `machine-command` and `machine-memory` are already written into the rendered
 * config (render.ts: `[processes] app`, `[[vm]] memory`), so the deploy itself applies them. The
 * guide warns that a deploy resets a machine's command to fly.toml's; so afterwards every app
 * machine is checked and only one that still drifted is updated: a steady state restarts nothing.
 */

export interface OverrideWants {
  /** The command as flyctl stores it in config.init.cmd (google/shlex words). */
  argv?: readonly string[]
  memoryMb?: number
}

export interface Drift {
  machineId: string
  /** Set when the command differs. */
  command?: readonly string[]
  /** Set when the memory differs. */
  memoryMb?: number
}

export function findDrift(machines: readonly Machine[], want: OverrideWants): Drift[] {
  const drift: Drift[] = []
  for (const machine of appMachines(machines)) {
    const entry: Drift = { machineId: machine.id }
    if (want.argv !== undefined && !sameWords(machine.config.init?.cmd ?? [], want.argv)) entry.command = want.argv
    if (want.memoryMb !== undefined && machine.config.guest?.memory_mb !== want.memoryMb) entry.memoryMb = want.memoryMb
    if (entry.command !== undefined || entry.memoryMb !== undefined) drift.push(entry)
  }
  return drift
}

function sameWords(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((w, i) => w === b[i])
}

/**
 * `fly machine update` argv for one drifted machine: only what drifted. flyctl splits --command
 * with google/shlex (internal/command/machine/run.go, determineMachineConfig), as it does the
 * fly.toml process command, so the text the user wrote yields the same words either way.
 * `-y`: update asks to confirm and cannot ask in CI.
 */
export function machineUpdateArgs(app: string, drift: Drift, commandText: string | undefined): string[] {
  const args = ['machine', 'update', drift.machineId]
  if (drift.command !== undefined && commandText !== undefined) args.push('--command', commandText)
  if (drift.memoryMb !== undefined) args.push('--vm-memory', String(drift.memoryMb))
  args.push('-y', '--app', app)
  return args
}

// --- edge ---------------------------------------------------------------------------------

export interface OverridesResult {
  /** App machines checked (0 when there was nothing to enforce). */
  checked: number
  /** Machines updated (in a dry run: none; the deploy's config carries the overrides). */
  applied: Drift[]
  /** The overrides in words, for the summary. */
  wanted: string[]
  dryRun: boolean
}

export function describeOverrides(plan: Pick<Plan, 'machineCommand' | 'machineMemoryMb'>): string[] {
  const out: string[] = []
  if (plan.machineCommand) out.push(`command: ${plan.machineCommand.text}`)
  if (plan.machineMemoryMb !== undefined) out.push(`memory: ${plan.machineMemoryMb} MB`)
  return out
}

export async function reconcileOverrides(ctx: StageContext): Promise<OverridesResult> {
  const { flyctl, plan, log } = ctx
  const wanted = describeOverrides(plan)
  // The dry run deploys nothing, so there is no post-deploy state to check.
  if (wanted.length === 0 || plan.dryRun) return { checked: 0, applied: [], wanted, dryRun: plan.dryRun }

  const machines = await flyctl.json(['machines', 'list', '--app', plan.app], MachineListSchema, {
    retry: { safe: 'reading' },
    reuse: true,
  })
  const drift = findDrift(machines, { argv: plan.machineCommand?.argv, memoryMb: plan.machineMemoryMb })
  for (const d of drift) {
    await flyctl.run(machineUpdateArgs(plan.app, d, plan.machineCommand?.text), {
      retry: {
        safe: 'idempotent',
        why: 'setting the same command and memory again leaves the same config (at most one more restart)',
      },
    })
    log.info(
      `Updated machine ${d.machineId}: ${[d.command && 'command', d.memoryMb !== undefined && 'memory'].filter(Boolean).join(' and ')}`,
    )
  }
  const checked = appMachines(machines).length
  if (drift.length === 0) log.info(`All ${checked} app machine(s) already run the overrides; nothing to update`)
  return { checked, applied: drift, wanted, dryRun: false }
}
