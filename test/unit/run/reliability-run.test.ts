/**
 * Reliability under faults: the action's own decisions, in-process (the harness of run.test.ts:
 * @actions/core is test/support/fake-core.ts, flyctl the real runner over the in-memory Fly of
 * test/support/fake-flyctl.ts, no process started). Whether a failed call is repeated, how often,
 * what the run says when it gives up or keeps a deploy, and what it says of a failed release it may
 * not roll back are logic, not processes. The runs against the stand-in's real transient failures
 * (reading calls and the secrets import retried, a deploy that never reached Fly repeated) are in
 * test/e2e/reliability.test.ts; a failed release rolled back, in test/e2e/rollout.test.ts.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import * as core from '../../support/fake-core.js'
import { callsTo, inProcessFlyctl, newFakeFly, type FakeFly } from '../../support/fake-flyctl.js'
import { newFakeRegistry, type FakeRegistry } from '../../support/fake-registry.js'
import { inProcessDeps, useRunnerFolders } from '../../support/in-process-run.js'
import type { Plan } from '../../../src/inputs/plan.js'

vi.mock('@actions/core', () => core)
const { run } = await import('../../../src/main.js')
const { deploy } = await import('../../../src/stages/deploy.js')

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/gateway-logs')

const APP = 'my-openclaw'
const TOKEN = 'FlyV1 fm2_inprocess_token_3c8e'
const GATEWAY_TOKEN = 'gw-inprocess-token-41d0b2e6'
/** The real runner's backoff, shortened: the bounds (attempts) are the point, not the waits. */
const BACKOFF = { baseDelayMs: 1, maxDelayMs: 2 }
let fly: FakeFly
let registry: FakeRegistry

const deps = () => inProcessDeps({ fly, registry }, { flyctl: { backoff: BACKOFF } })

function inputs(extra: Record<string, string> = {}): void {
  core.reset({ app: APP, 'api-token': TOKEN, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`, ...extra })
}

const folders = useRunnerFolders('transient-inprocess-')

beforeEach(() => {
  fly = newFakeFly()
  registry = newFakeRegistry()
})

describe('transient failures, in-process', () => {
  it('gives up on a reading call after its bounded attempts, saying so', async () => {
    inputs()
    fly.answers.set('status', () => ({
      stderr: 'Error: request returned non-2xx status: 504 Gateway Timeout\n',
      exitCode: 1,
    }))
    await run(deps())
    expect(core.failed).toMatch(/Gave up after 4 attempts/)
    expect(core.logs).toContainEqual(expect.stringMatching(/^::error::.*Gave up after 4 attempts/))
    expect(
      core.logs.filter((l) => /transient error .*; retrying in [\d.]+ s \(attempt \d of 4\)/.test(l)),
    ).toHaveLength(3)
    // Four attempts of `status`, and nothing after it: the run stopped where the call gave up.
    expect(callsTo(fly, 'status')).toHaveLength(4)
    expect(fly.calls.map((c) => c.line).filter((l) => !/^(version|status)/.test(l))).toEqual([])
  })

  it('does not repeat a mutating call blindly: apps create fails once and the run stops', async () => {
    inputs()
    fly.fail.set('apps create', {
      stderr: 'Error: Post "https://api.fly.io/graphql": read tcp 10.0.0.2:443: connection reset by peer\n',
    })
    await run(deps())
    expect(callsTo(fly, 'apps create')).toHaveLength(1)
    expect(fly.calls.map((c) => c.line).filter((l) => /^(volumes create|secrets import|deploy)/.test(l))).toEqual([])
    expect(core.failed).toMatch(/Not repeated automatically: .*name already taken/)
    expect(core.logs).toContainEqual(
      expect.stringMatching(/^::error::.*Not repeated automatically: .*name already taken/),
    )
    expect(core.summaryText).toContain('In the <code>ensure</code> stage.')
  })

  it("keeps a deploy that Fly recorded when only flyctl's answer was lost, without repeating it", async () => {
    fly.apps.add(APP)
    fly.releases.set(APP, [{ Version: 1, Status: 'complete', ImageRef: `registry.fly.io/${APP}:deployment-1` }])
    // A deploy that goes through on Fly, and then flyctl loses the connection: exit 1, a transient error.
    fly.answers.set('deploy', () => {
      fly.releases.get(APP)!.push({ Version: 2, Status: 'complete', ImageRef: `registry.fly.io/${APP}:deployment-2` })
      return {
        stderr: 'Error: failed to wait for machines: read tcp 10.0.0.2:443: connection reset by peer\n',
        exitCode: 1,
      }
    })
    const plan = {
      app: APP,
      private: false,
      buildArgs: [],
      deployArgs: [],
      healthTimeoutSec: 60,
      dryRun: false,
      workingDirectory: folders.root,
    } as unknown as Plan
    const messages: string[] = []
    const result = await deploy({
      flyctl: inProcessFlyctl(fly, { backoff: BACKOFF }),
      plan,
      log: { info: (m) => messages.push(m), warning: (m) => messages.push(m) },
      rendered: { path: path.join(folders.root, 'fly.toml') },
    })
    // Before: the in-progress check; the deploy, once; the check; the read-back of the release.
    expect(fly.calls.map((c) => c.args[0])).toEqual(['releases', 'deploy', 'releases', 'releases'])
    expect(result.release?.version).toBe(2)
    expect(messages.join('\n')).toMatch(
      /release v2 of my-openclaw was recorded and rolled out; only flyctl's answer was lost/,
    )
  })
})

describe('a failed release without rollback, in-process', () => {
  it('stays deployed, and the outputs and the summary say so', async () => {
    inputs({ rollback: 'false' })
    // A healthy release serves already, so a rollback to it would be possible: only the input stops it.
    fly.apps.add(APP)
    fly.releases.set(APP, [
      {
        Version: 1,
        Status: 'complete',
        ImageRef: 'registry.fly.io/my-openclaw:deployment-good',
        at: Date.now() - 60_000,
      },
    ])
    // The new release's gateway runs out of memory: openclaw's own lines, on the release's machine at
    // its time, and `fly logs` stays open (as it follows) until the gate ends it.
    fly.answers.set('logs', (_args, opts) => {
      const at = fly.releases.get(APP)?.at(-1)?.at ?? Date.now()
      const time = new Date(at + 1000).toISOString().replace(/\.\d+Z$/, 'Z')
      for (const l of fs.readFileSync(path.join(fixtures, '2026.9.6/oom-heap-limit.log'), 'utf8').split('\n'))
        if (l) opts.onLine?.(l.replace(/^\S+ app\[[0-9a-z]+\]/, `${time} app[148ed193b95389]`))
      return new Promise((resolve) => {
        if (opts.signal?.aborted) resolve({})
        opts.signal?.addEventListener('abort', () => resolve({}), { once: true })
      })
    })
    await run(deps())
    expect(core.failed).toMatch(/ran out of memory/)
    expect(core.outputs.get('health')).toBe('unhealthy')
    expect(core.outputs.get('rolled-back')).toBe('false')
    expect(core.summaryText).toContain('Rollback is off (rollback: false); the unhealthy release stays deployed.')
    // Nothing was deployed after the failed release: v2 serves, and v1's image was not deployed again.
    expect(callsTo(fly, 'deploy')).toHaveLength(1)
    expect(fly.releases.get(APP)?.map((r) => r.Version)).toEqual([1, 2])
  })
})
