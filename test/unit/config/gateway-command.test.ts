import { describe, expect, it } from 'vitest'
import { gatewayArgv, shellScript } from '../../../src/config/gateway-command.js'
import { effectiveSettings, setFlag, splitCommand } from '../../../src/config/render.js'
import { memoryProblem, sizeFor } from '../../../src/fly/machine-sizes.js'

/** The exec'd argv of an `sh -c` wrapper decides port and bind. */
describe('gateway command read through sh -c', () => {
  const wrapped = "sh -c 'cd /app && exec node dist/index.js gateway --port 3000 --bind lan'"

  it("finds the exec'd gateway command", () => {
    expect(gatewayArgv(splitCommand(wrapped))).toEqual([
      'node',
      'dist/index.js',
      'gateway',
      '--port',
      '3000',
      '--bind',
      'lan',
    ])
    expect(
      gatewayArgv(splitCommand('/bin/bash -lc "mkdir -p /data; OPENCLAW_X=1 exec openclaw gateway --port=4000"')),
    ).toEqual(['openclaw', 'gateway', '--port=4000'])
    expect(gatewayArgv(['node', 'x', 'gateway'])).toEqual(['node', 'x', 'gateway'])
    expect(shellScript(['sh', 'script.sh'])).toBeUndefined()
  })

  it('gives the wrapped port and bind to the rules, not the defaults', () => {
    const s = effectiveSettings({ processes: { app: wrapped } })
    expect([s.port, s.portSource, s.bind, s.bindSource]).toEqual([3000, 'command', 'lan', 'command'])
  })

  it('patches a flag inside the script and keeps its closing quote', () => {
    expect(setFlag(wrapped, '--bind', 'auto')).toBe(
      "sh -c 'cd /app && exec node dist/index.js gateway --port 3000 --bind auto'",
    )
  })
})

describe('memory per vm-size (fly-go machine_types.go)', () => {
  it('refuses more than the size allows and names a size that fits', () => {
    expect(memoryProblem('shared-cpu-2x', 102400)).toContain('shared-cpu-2x allows 512 to 4096 MB')
    expect(memoryProblem('shared-cpu-2x', 2048)).toBeUndefined()
    expect(memoryProblem('shared-cpu-2x', 8192)).toContain('`vm-size: shared-cpu-4x`')
    expect(memoryProblem('performance-1x', 1024)).toContain('at least 2048mb')
    expect(sizeFor(3000 * 1024, 'shared')).toBeUndefined()
  })
})
