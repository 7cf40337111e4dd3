import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { deploy, type DeployContext } from '../../src/stages/deploy.js'
import { Flyctl } from '../../src/fly/flyctl.js'
import type { Plan } from '../../src/inputs/plan.js'
import { Redactor } from '../../src/shared/redact.js'
import { readJournal, seedApp, writeFaults } from '../../standin/platform/inspect.ts'
import { runAction } from '../../standin/runner/runner.ts'
import { updatePlatform } from '../../standin/platform/state.ts'
import { APP, exits, line, REPO, TIMEOUT, TOKEN_SECRET } from '../support/reliability.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { API_TOKEN } from '../support/standin.ts'

/**
 * Reliability under faults. Every behaviour here is the action's (retries, the deploy
 * check, waiting, cancellation, leaving things alone), so the fast fake gateway runs the machines.
 */
useWorlds()

describe('transient failures', () => {
  it(
    'retries reading calls and the idempotent secrets import, and succeeds',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      await seedApp(w.state, APP)
      await writeFaults(w.state, {
        fail: [
          { command: 'status', times: 2, stderr: 'Error: request returned non-2xx status: 503 Service Unavailable' },
          {
            command: 'releases',
            times: 1,
            stderr: 'Error: Get "https://api.machines.dev/v1/apps": read tcp 10.0.0.2:443: connection reset by peer',
          },
          { command: 'machines list', times: 1, stderr: 'Error: rate limit exceeded: 429 Too Many Requests' },
          { command: 'secrets import', times: 1, stderr: 'Error: request returned non-2xx status: 502 Bad Gateway' },
        ],
      })
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(r.exitCode, r.stdout).toBe(0)
      const journal = await readJournal(w.state)
      expect(exits(journal, 'status')).toEqual([1, 1, 0])
      expect(exits(journal, 'releases')[0]).toBe(1)
      expect(
        exits(journal, 'releases')
          .slice(1)
          .every((x) => x === 0),
      ).toBe(true)
      expect(exits(journal, 'machines list')[0]).toBe(1)
      expect(exits(journal, 'secrets import')).toEqual([1, 0])
      const retries = r.stdout
        .split('\n')
        .filter((l) => /transient error .*; retrying in [\d.]+ s \(attempt \d of 4\)/.test(l))
      expect(retries.length).toBe(5)
      expect(r.outputs.health).toBe('healthy')
    },
    TIMEOUT,
  )

  it(
    'gives up on a reading call after its bounded attempts, saying so',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      await writeFaults(w.state, {
        fail: [{ command: 'status', stderr: 'Error: request returned non-2xx status: 504 Gateway Timeout' }],
      })
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(r.exitCode).toBe(1)
      const journal = await readJournal(w.state)
      expect(exits(journal, 'status')).toEqual([1, 1, 1, 1])
      expect(r.stdout).toMatch(/::error::.*Gave up after 4 attempts/)
      expect(journal.map(line).filter((l) => !/^(version|status)/.test(l))).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'does not repeat a mutating call blindly: apps create fails once and the run stops',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      await writeFaults(w.state, {
        fail: [
          {
            command: 'apps create',
            times: 1,
            stderr: 'Error: Post "https://api.fly.io/graphql": read tcp 10.0.0.2:443: connection reset by peer',
          },
        ],
      })
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(r.exitCode).toBe(1)
      const journal = await readJournal(w.state)
      expect(exits(journal, 'apps create')).toEqual([1])
      expect(journal.map(line).filter((l) => /^(volumes create|secrets import|deploy)/.test(l))).toEqual([])
      expect(r.stdout).toMatch(/::error::.*Not repeated automatically: .*name already taken/)
      expect(r.summary).toContain('In the <code>ensure</code> stage.')
    },
    TIMEOUT,
  )

  it(
    'checks `releases --json` after a transient deploy failure, and repeats only a deploy that never reached Fly',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      await writeFaults(w.state, {
        fail: [
          {
            command: 'deploy',
            times: 1,
            stderr: 'Error: failed to fetch an image or build from source: 502 Bad Gateway',
          },
        ],
      })
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(r.exitCode, r.stdout).toBe(0)
      const calls = (await readJournal(w.state))
        .map((e) => `${e.argv[0]}:${e.exit}`)
        .filter((c) => /^(deploy|releases):/.test(c))
      // before: in-progress check; the failed deploy; the check; the repeat (which emits its release: no read-back).
      expect(calls).toEqual(['releases:0', 'deploy:1', 'releases:0', 'deploy:0'])
      expect(r.stdout).toContain('checking `fly releases` before anything is repeated')
      expect(r.stdout).toContain('the deploy never reached Fly')
      expect(r.outputs['release-version']).toBe('1')
    },
    TIMEOUT,
  )

  it(
    "keeps a deploy that Fly recorded when only flyctl's answer was lost, without repeating it",
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      const first = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(first.exitCode, first.stdout).toBe(0)
      // A flyctl whose deploy goes through and then loses the connection.
      const wrapper = path.join(w.dirs.root, 'flyctl-lossy')
      fs.writeFileSync(
        wrapper,
        `#!/bin/sh\n"${REPO}/standin/bin/flyctl" "$@"; code=$?\n` +
          `if [ "$1" = deploy ] && [ $code = 0 ]; then echo 'Error: failed to wait for machines: read tcp 10.0.0.2:443: connection reset by peer' >&2; exit 1; fi\nexit $code\n`,
        { mode: 0o755 },
      )
      const flyctl = new Flyctl({
        binary: wrapper,
        token: API_TOKEN,
        redactor: new Redactor(),
        env: { ...process.env, FLYCTL_STANDIN_STATE: w.state },
        cwd: w.dirs.workspace,
        backoff: { baseDelayMs: 10, maxDelayMs: 20 },
      })
      const plan = {
        app: APP,
        private: false,
        buildArgs: [],
        deployArgs: [],
        healthTimeoutSec: 60,
        dryRun: false,
        workingDirectory: w.dirs.workspace,
      } as unknown as Plan
      const messages: string[] = []
      const ctx: DeployContext = {
        flyctl,
        plan,
        log: { info: (m) => messages.push(m), warning: (m) => messages.push(m) },
        // The first run's rendered file (each run renders into a folder of its own: src/run/run-dir.ts).
        rendered: { path: first.outputs['fly-config'] as string },
      }
      const before = (await readJournal(w.state)).length
      const result = await deploy(ctx)
      const calls = (await readJournal(w.state)).slice(before).map((e) => `${e.argv[0]}:${e.exit}`)
      expect(calls).toEqual(['releases:0', 'deploy:0', 'releases:0', 'releases:0'])
      expect(result.release?.version).toBe(2)
      expect(messages.join('\n')).toMatch(
        /release v2 of my-openclaw was recorded and rolled out; only flyctl's answer was lost/,
      )
    },
    TIMEOUT,
  )
})

describe('concurrent runs of one app', () => {
  async function seedInProgress(state: string): Promise<number> {
    return updatePlatform(state, (p) => {
      const app = p.apps[APP]!
      const last = [...app.releases].sort((a, b) => b.Version - a.Version)[0]!
      const version = last.Version + 1
      app.releases.push({
        ...last,
        ID: `seeded${version}`,
        Version: version,
        InProgress: true,
        Status: 'running',
        Stable: false,
        Description: 'another run',
      })
      return version
    })
  }

  it(
    'waits for a deploy already in progress, then deploys',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      expect((await w.run({ app: APP, secrets: TOKEN_SECRET })).exitCode).toBe(0)
      const other = await seedInProgress(w.state)
      let finished = false
      const r = await runAction({
        dirs: w.dirs,
        // The same push again: its deploy is asked for, not left to skip-unchanged.
        inputs: {
          'api-token': API_TOKEN,
          'flyctl-mirror': w.server.mirrorUrl,
          app: APP,
          secrets: TOKEN_SECRET,
          'skip-unchanged': 'false',
        },
        env: { FLYCTL_STANDIN_STATE: w.state },
        // The other run finishes once this one has said that it waits.
        onOutput: (chunk) => {
          if (finished || !chunk.includes('is still in progress')) return
          finished = true
          void updatePlatform(w.state, (p) => {
            const rel = p.apps[APP]!.releases.find((x) => x.Version === other)!
            rel.InProgress = false
            rel.Status = 'complete'
          })
        },
      })
      expect(r.exitCode, r.stdout).toBe(0)
      expect(finished).toBe(true)
      expect(r.stdout).toContain(`release v${other} of ${APP} is no longer in progress`)
      expect(r.outputs['release-version']).toBe(String(other + 1))
    },
    TIMEOUT,
  )

  it(
    'reports a deploy that stays in progress past the bound, without deploying',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      expect((await w.run({ app: APP, secrets: TOKEN_SECRET })).exitCode).toBe(0)
      const other = await seedInProgress(w.state)
      const before = (await readJournal(w.state)).length
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET, 'health-timeout': '30' })
      expect(r.exitCode).toBe(1)
      expect(r.stdout).toMatch(
        new RegExp(
          `::error::another deploy of ${APP} is in progress \\(release v${other}.*did not finish within 30 s.*\`concurrency\` group`,
        ),
      )
      expect((await readJournal(w.state)).slice(before).filter((e) => e.argv[0] === 'deploy')).toEqual([])
      expect(r.summary).toContain('In the <code>deploy</code> stage.')
    },
    TIMEOUT,
  )
})
