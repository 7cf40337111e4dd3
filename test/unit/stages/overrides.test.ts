import { describe, expect, it } from 'vitest'
import { MachineListSchema } from '../../../src/fly/schemas.js'
import { describeOverrides, findDrift, machineUpdateArgs } from '../../../src/stages/overrides.js'

const CMD = ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']

function machine(id: string, opts: { cmd?: string[] | null; memoryMb?: number; group?: string; state?: string } = {}) {
  return {
    id,
    state: opts.state ?? 'started',
    region: 'iad',
    config: {
      init: { cmd: opts.cmd === undefined ? CMD : opts.cmd },
      guest: { cpu_kind: 'shared', cpus: 2, memory_mb: opts.memoryMb ?? 2048 },
      metadata: opts.group === undefined ? { fly_release_version: '3' } : { fly_process_group: opts.group },
    },
  }
}
const machines = (...m: ReturnType<typeof machine>[]) => MachineListSchema.parse(m)

describe('findDrift', () => {
  it('finds nothing in a steady state (no restart)', () => {
    expect(findDrift(machines(machine('a', { group: 'app' }), machine('b')), { argv: CMD, memoryMb: 2048 })).toEqual([])
  })

  it('reports only what drifted, per machine', () => {
    const drift = findDrift(
      machines(
        machine('a', { cmd: ['node', 'old.js'] }),
        machine('b', { memoryMb: 512 }),
        machine('c', { cmd: null, memoryMb: 1024 }),
      ),
      {
        argv: CMD,
        memoryMb: 2048,
      },
    )
    expect(drift).toEqual([
      { machineId: 'a', command: CMD },
      { machineId: 'b', memoryMb: 2048 },
      { machineId: 'c', command: CMD, memoryMb: 2048 },
    ])
  })

  it('checks only app-process machines that still exist', () => {
    const drift = findDrift(
      machines(
        machine('worker', { group: 'worker', memoryMb: 256 }),
        machine('gone', { state: 'destroyed', memoryMb: 256 }),
        machine('app', { group: 'app', memoryMb: 256 }),
      ),
      { memoryMb: 2048 },
    )
    expect(drift.map((d) => d.machineId)).toEqual(['app'])
  })

  it('ignores an aspect nobody asked to enforce', () => {
    expect(findDrift(machines(machine('a', { cmd: ['other'], memoryMb: 512 })), { memoryMb: 512 })).toEqual([])
  })
})

describe('machineUpdateArgs', () => {
  it('passes only what drifted, with -y and the app', () => {
    const text = 'node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan'
    expect(machineUpdateArgs('my-openclaw', { machineId: 'm1', command: CMD, memoryMb: 2048 }, text)).toEqual([
      'machine',
      'update',
      'm1',
      '--command',
      text,
      '--vm-memory',
      '2048',
      '-y',
      '--app',
      'my-openclaw',
    ])
    expect(machineUpdateArgs('my-openclaw', { machineId: 'm1', memoryMb: 4096 }, text)).toEqual([
      'machine',
      'update',
      'm1',
      '--vm-memory',
      '4096',
      '-y',
      '--app',
      'my-openclaw',
    ])
  })
})

describe('describeOverrides', () => {
  it('describes the overrides for the summary', () => {
    const command = { argv: ['node', 'x.js'], text: 'node x.js' }
    expect(describeOverrides({ machineCommand: command, machineMemoryMb: 2048 })).toEqual([
      'command: node x.js',
      'memory: 2048 MB',
    ])
    expect(describeOverrides({})).toEqual([])
  })
})
