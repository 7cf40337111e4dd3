import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readJournal, readState, writeFaults } from '../../standin/platform/inspect.ts'
import type { JournalEntry } from '../../standin/platform/inspect.ts'
import { runAction } from '../../standin/runner/runner.ts'
import { updatePlatform } from '../../standin/platform/state.ts'
import { APP, exits, TIMEOUT, TOKEN_SECRET } from '../support/reliability.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { API_TOKEN, type StandinWorld } from '../support/standin.ts'

/**
 * Reliability under faults: real transient failures of the stand-in, and runs of one app at once.
 * Every behaviour here is the action's (retries, the deploy check, waiting), so the fast fake
 * gateway runs the machines. The decisions that need no process (giving up after the bounded
 * attempts, a mutating call not repeated, a deploy whose answer alone was lost) are checked
 * in-process in test/unit/run/reliability-run.test.ts.
 *
 * One world for the file, one app: the first test creates the app, the later ones need only an app
 * that serves (servingApp). Each test reads only what its own run did (the journal from where its
 * run began), and leaves no fault and no release in progress behind.
 */
useWorlds()

let w: StandinWorld

beforeAll(async () => {
  w = await newWorld('fake-gateway:ready', 'reliability-')
})

// A test's faults are its own: none is left for the next test's run.
afterEach(async () => {
  await writeFaults(w.state, {})
})

/** The journal entries written since `from` (an earlier journal length). */
async function journalSince(from: number): Promise<JournalEntry[]> {
  return (await readJournal(w.state)).slice(from)
}

const journalLength = async (): Promise<number> => (await readJournal(w.state)).length

/** APP with a completed release: deployed here unless an earlier test of the file deployed it. */
async function servingApp(): Promise<void> {
  const app = (await readState(w.state)).apps[APP]
  if (app?.releases.some((r) => r.Status === 'complete')) return
  const r = await w.run({ app: APP, secrets: TOKEN_SECRET })
  expect(r.exitCode, r.stdout).toBe(0)
}

describe('transient failures', () => {
  it(
    'checks `releases --json` after a transient deploy failure, and repeats only a deploy that never reached Fly',
    async () => {
      // First in the file: the app does not exist yet, and this run creates it.
      expect((await readState(w.state)).apps[APP]).toBeUndefined()
      await writeFaults(w.state, {
        fail: [
          {
            command: 'deploy',
            times: 1,
            stderr: 'Error: failed to fetch an image or build from source: 502 Bad Gateway',
          },
        ],
      })
      const from = await journalLength()
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(r.exitCode, r.stdout).toBe(0)
      const calls = (await journalSince(from))
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
    'retries reading calls and the idempotent secrets import, and succeeds',
    async () => {
      await servingApp()
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
      const from = await journalLength()
      // The same push again: its deploy (and its secrets import) is asked for, not left to skip-unchanged.
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET, 'skip-unchanged': 'false' })
      expect(r.exitCode, r.stdout).toBe(0)
      const journal = await journalSince(from)
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
})

describe('concurrent runs of one app', () => {
  /** Another run's deploy of APP, recorded and still rolling out; returns its version. */
  async function seedInProgress(): Promise<number> {
    return updatePlatform(w.state, (p) => {
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

  /** The other run's deploy finishes. */
  async function finish(version: number): Promise<void> {
    await updatePlatform(w.state, (p) => {
      const rel = p.apps[APP]!.releases.find((x) => x.Version === version)!
      rel.InProgress = false
      rel.Status = 'complete'
    })
  }

  it(
    'waits for a deploy already in progress, then deploys',
    async () => {
      await servingApp()
      const other = await seedInProgress()
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
          void finish(other)
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
      await servingApp()
      const other = await seedInProgress()
      const from = await journalLength()
      const r = await w.run({ app: APP, secrets: TOKEN_SECRET, 'health-timeout': '30' })
      // The other run finishes only now, after this one gave up on it.
      await finish(other)
      expect(r.exitCode).toBe(1)
      expect(r.stdout).toMatch(
        new RegExp(
          `::error::another deploy of ${APP} is in progress \\(release v${other}.*did not finish within 30 s.*\`concurrency\` group`,
        ),
      )
      expect((await journalSince(from)).filter((e) => e.argv[0] === 'deploy')).toEqual([])
      expect(r.summary).toContain('In the <code>deploy</code> stage.')
    },
    TIMEOUT,
  )
})
