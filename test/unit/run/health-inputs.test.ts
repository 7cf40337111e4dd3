/**
 * run() in-process (the harness of run.test.ts: @actions/core faked, the real flyctl runner over the
 * in-memory FakeFly, no child process) for two inputs that decide where a run ends: a public
 * deployment binding loopback, refused before Fly changes, and `fix-stale-lock: false`, which leaves
 * a stale lock in place. Their process-level counterparts: test/e2e/bad-inputs.test.ts runs the same
 * refusal against the flyctl stand-in's journal; test/e2e/probes.test.ts's held lock is a lock
 * verdict decided on the gateway's line with no ssh and no restart, and test/e2e/health.test.ts
 * repairs a stale lock over the stand-in's ssh.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import * as core from '../../support/fake-core.js'
import { newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { newFakeRegistry, type FakeRegistry } from '../../support/fake-registry.js'
import { inProcessDeps, useRunnerFolders } from '../../support/in-process-run.js'

vi.mock('@actions/core', () => core)
const { run } = await import('../../../src/main.js')

const APP = 'inproc-app'
const TOKEN = 'FlyV1 fm2_inprocess_token_3e8a'
const GATEWAY_TOKEN = 'gw-inprocess-token-41d0c9b2'
/** Calls that only read; anything else would be a change on Fly. */
const READING =
  /^(version|status|apps list|secrets list|volumes list|releases|machines? list|ips list|platform regions)\b/
const FIXTURE = path.resolve(import.meta.dirname, '../../fixtures/gateway-logs/legacy/lock-2026.1.log')

let fly: FakeFly
let registry: FakeRegistry

const deps = () => inProcessDeps({ fly, registry })

function inputs(extra: Record<string, string> = {}): void {
  core.reset({ app: APP, 'api-token': TOKEN, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`, ...extra })
}

const folders = useRunnerFolders('run-health-inputs-')

beforeEach(() => {
  fly = newFakeFly()
  registry = newFakeRegistry()
})

describe('inputs that decide where the run ends', () => {
  it('a public loopback bind is refused before anything changes on Fly', async () => {
    inputs({ bind: 'loopback' })
    await run(deps())
    expect(core.failed).toMatch(/public-loopback/)
    expect(core.failed).toMatch(/--bind lan/)
    expect(core.failed).toMatch(/nothing was changed on Fly/)
    expect(core.outputs.get('health')).toBe('skipped')
    expect(fly.calls.length).toBeGreaterThan(0)
    expect(fly.calls.map((c) => c.line).filter((line) => !READING.test(line))).toEqual([])
    expect(fly.apps.has(APP)).toBe(false)
  })

  it('a stale lock with fix-stale-lock: false stays unhealthy, decided on the lock line, with the manual fix', async () => {
    // A release before the state-local lock tree: with fix-stale-lock it would be repaired.
    fs.writeFileSync(path.join(folders.workspace, 'Dockerfile'), 'FROM ghcr.io/openclaw/openclaw:2026.3.13\n')
    inputs({ 'fix-stale-lock': 'false', 'health-timeout': '300' })
    // `fly logs` shows the release's machine failing on the lock (the guide's "lock timeout" line).
    fly.answers.set('logs', () => {
      const release = fly.releases.get(APP)?.at(-1)
      const time = new Date((release?.at ?? Date.now()) + 1000).toISOString().replace(/\.\d+Z$/, 'Z')
      const lines = fs
        .readFileSync(FIXTURE, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/^\S+ app\[[0-9a-z]+\]/, `${time} app[148ed193b95389]`))
      return { stdout: `${lines.join('\n')}\n` }
    })
    await run(deps())
    const error = core.failed ?? ''
    expect(core.outputs.get('health')).toBe('unhealthy')
    expect(error).toMatch(/the gateway lock is held/)
    expect(error).not.toMatch(/not healthy within health-timeout|before health-timeout/)
    expect(error).toMatch(/gateway already running \(pid 7\); lock timeout after 5000ms/)
    expect(error).toMatch(
      /Fix: A stale gateway lock: remove it and restart, `fly ssh console --machine 148ed193b95389 -C "sh -c 'rm -f \/data\/gateway\.\*\.lock/,
    )
    expect(fly.calls.map((c) => c.line).filter((line) => /^ssh\b|^(machines?|m) (restart|start)\b/.test(line))).toEqual(
      [],
    )
  })
})
