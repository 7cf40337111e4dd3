import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { staleLockCommand } from '../../src/health/lock-repair.js'

// The stale-lock command of the health gate (src/health/lock-repair.ts) run by a real `sh`: the
// one part of test/unit/health/gate.test.ts that starts a process, so it runs in the e2e tier.
describe('stale lock command', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('removes exactly the lock files of releases before the state-local tree when run by sh, and leaves that tree alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'h5-lock-'))
    dirs.push(root)
    const state = join(root, 'data')
    const fakeTmp = join(root, 'tmp')
    for (const d of [state, join(state, 'tmp', 'openclaw-1000'), join(fakeTmp, 'openclaw-0')])
      mkdirSync(d, { recursive: true })
    const locks = [join(state, 'gateway.ab12.lock'), join(fakeTmp, 'openclaw-0', 'gateway.cd34.lock')]
    // 2026.8.1 and later: the state-local tree, which those releases reclaim themselves.
    const stateLocal = join(state, 'tmp', 'openclaw-1000', 'gateway.state.lock')
    const keep = [join(state, 'openclaw.json'), join(state, 'gateway.lock.bak'), stateLocal]
    for (const f of [...locks, ...keep]) writeFileSync(f, '{}')
    // Point the machine-wide /tmp pattern at our own directory: never touch this host's /tmp locks.
    const command = staleLockCommand(state).replace(' /tmp/openclaw-*', ` ${fakeTmp}/openclaw-*`)
    const script = /^sh -c '(.*)'$/.exec(command)![1]!
    const result = spawnSync('sh', ['-c', script], { encoding: 'utf8' })
    expect(result.status).toBe(0)
    expect(result.stdout.trim().split('\n').sort()).toEqual(locks.map((l) => `removed ${l}`).sort())
    expect(readdirSync(state).sort()).toEqual(['gateway.lock.bak', 'openclaw.json', 'tmp'])
    expect(readdirSync(join(state, 'tmp', 'openclaw-1000'))).toEqual(['gateway.state.lock'])
    // Nothing left to remove: still exit 0, no output.
    const again = spawnSync('sh', ['-c', script], { encoding: 'utf8' })
    expect(again.status).toBe(0)
    expect(again.stdout).toBe('')
  })
})
