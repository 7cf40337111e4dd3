import type { Machine } from './schemas.js'

/**
 * Which machines belong to the app's process group: the one rule every stage uses.
 *
 * flyctl's deploy (internal/command/deploy/machines.go) works on the app's active machines
 * (internal/machine ListActive: not `destroyed` or `destroying`) and takes a machine without a
 * process group into the default one, `app`; fly-go (machine_types.go MachineConfig.ProcessGroup)
 * reads the group from the `fly_process_group` metadata, empty when it is unset. flyctl leaves it
 * out on a single-group app.
 */
export const APP_PROCESS_GROUP = 'app'

/** In the `app` process group (a machine without one counts in it). */
export function isAppMachine(machine: Machine): boolean {
  const group = machine.config?.metadata?.fly_process_group
  return group === undefined || group === '' || group === APP_PROCESS_GROUP
}

/** Destroyed, or on its way there: no longer one of the app's machines. */
export function isGone(machine: Machine): boolean {
  return machine.state === 'destroyed' || machine.state === 'destroying'
}

/** A standby for another machine: it never starts on its own (flyctl deploy/machines_launchinput.go). */
export function isStandby(machine: Machine): boolean {
  const standbys = (machine.config as Record<string, unknown> | undefined)?.standbys
  return Array.isArray(standbys) && standbys.length > 0
}

/** The app's machines: the `app` process group, not destroyed. */
export function appMachines(machines: readonly Machine[]): Machine[] {
  return machines.filter((m) => isAppMachine(m) && !isGone(m))
}

/** The app machines that serve: not standbys, which start only when the machine they stand by for fails. */
export function servingAppMachines(machines: readonly Machine[]): Machine[] {
  return appMachines(machines).filter((m) => !isStandby(m))
}
