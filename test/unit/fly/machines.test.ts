import { describe, expect, it } from 'vitest'
import { appMachines, isAppMachine, servingAppMachines } from '../../../src/fly/machines.js'
import type { Machine } from '../../../src/fly/schemas.js'

const machine = (id: string, state: string, config: Record<string, unknown> = {}): Machine =>
  ({ id, state, config }) as unknown as Machine

describe('the app machine rule', () => {
  it('takes a machine without a process group into `app`, as flyctl deploy does', () => {
    expect(isAppMachine(machine('a', 'started'))).toBe(true)
    expect(isAppMachine(machine('b', 'started', { metadata: { fly_process_group: '' } }))).toBe(true)
    expect(isAppMachine(machine('c', 'started', { metadata: { fly_process_group: 'app' } }))).toBe(true)
    expect(isAppMachine(machine('d', 'started', { metadata: { fly_process_group: 'worker' } }))).toBe(false)
  })

  it('leaves out destroyed machines, and standbys from the serving ones', () => {
    const all = [
      machine('a', 'started'),
      machine('b', 'destroyed'),
      machine('c', 'destroying'),
      machine('d', 'stopped', { standbys: ['a'] }),
      machine('e', 'started', { metadata: { fly_process_group: 'worker' } }),
    ]
    expect(appMachines(all).map((m) => m.id)).toEqual(['a', 'd'])
    expect(servingAppMachines(all).map((m) => m.id)).toEqual(['a'])
  })
})
