import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readJournal, readState, writeFaults } from '../../standin/platform/inspect.ts'
import { APP, line, liveFlyctl, REPO, snapshot, TIMEOUT, TOKEN_SECRET } from '../support/reliability.ts'
import { writeDockerfile } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'

/**
 * Reliability under faults, part two: cancellation, and nothing lost (part one is
 * reliability.test.ts). Every behaviour here is the action's, so the fast fake gateway runs the machines.
 * A failed release rolled back to the previous one, which serves again, and the same push with
 * rollback off (also in-process, test/unit/run/reliability-run.test.ts).
 */
useWorlds()

describe('cancellation', () => {
  it(
    'SIGTERM during the deploy ends flyctl, says where the run stopped and what changed, and fails',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      await writeFaults(w.state, { latencyMs: { deploy: 20_000 } })
      const r = await w.run(
        { app: APP, secrets: TOKEN_SECRET },
        { killWhen: { text: '::group::fly deploy', signal: 'SIGTERM' } },
      )
      expect(r.exitCode).not.toBe(0)
      expect(r.stdout).toMatch(/::error::the job was cancelled \(SIGTERM\)/)
      expect(r.summary).toContain('### Where the run stopped')
      expect(r.summary).toContain('In the <code>deploy</code> stage.')
      expect(r.summary).toContain('Already changed on Fly:')
      expect(r.summary).toContain(`created app ${APP}`)
      expect(r.summary).toContain('staged secrets OPENCLAW\\_GATEWAY\\_TOKEN')
      // flyctl was ended before it finished (127 once its signal handler runs; not journaled at all
      // when the signal comes before it started): nothing was deployed.
      const deploys = (await readJournal(w.state)).filter((e) => e.argv[0] === 'deploy')
      expect(deploys.filter((e) => e.exit !== 127)).toEqual([])
      expect(liveFlyctl(w.state)).toEqual([])
      expect((await readState(w.state)).apps[APP]?.releases).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'SIGTERM while the gate still waits on a deployed release ends the log follower and says the release was deployed',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      // The gate follows the rollout inside the deploy stage (docs/CONTRACT.md, "Deploy and gate are one stage"):
      // cancel once flyctl has confirmed the release, while the slow log stream keeps the gate waiting.
      await writeFaults(w.state, { latencyMs: { logs: 20_000 } })
      const r = await w.run(
        { app: APP, secrets: TOKEN_SECRET },
        { killWhen: { text: 'Visit your newly deployed app', signal: 'SIGTERM' } },
      )
      expect(r.exitCode).not.toBe(0)
      expect(r.summary).toContain('In the <code>deploy</code> stage.')
      expect(r.summary).toContain('deployed release v1')
      expect(r.summary).not.toContain('in flight')
      expect(r.outputs['rolled-back']).toBe('false')
      expect(liveFlyctl(w.state)).toEqual([])
    },
    TIMEOUT,
  )
})

describe('nothing lost', () => {
  it(
    'leaves the workspace files byte-identical, and without prune unsets, releases and destroys nothing',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      const gatewayConfig = fs
        .readFileSync(path.join(REPO, 'test/fixtures/openclaw-json/public.json5'), 'utf8')
        .replace('my-claw.fly.dev', `${APP}.fly.dev`)
      fs.writeFileSync(path.join(w.dirs.workspace, 'openclaw.json5'), gatewayConfig)
      fs.writeFileSync(
        path.join(w.dirs.workspace, 'fly.toml'),
        `app = "${APP}"\nprimary_region = "iad"\n\n[env]\n  KEEP_ME = "1"\n`,
      )
      fs.writeFileSync(path.join(w.dirs.workspace, '.env.example'), 'OPENCLAW_GATEWAY_TOKEN=\n')
      const before = snapshot(w.dirs.workspace)

      const extra = 'ANTHROPIC_API_KEY=sk-ant-keep-me-0123'
      const inputs = { app: APP, config: 'fly.toml', 'gateway-config': 'openclaw.json5' }
      const first = await w.run({ ...inputs, secrets: `${TOKEN_SECRET}\n${extra}` })
      expect(first.exitCode, first.stdout).toBe(0)
      // The second run no longer lists ANTHROPIC_API_KEY: without prune-secrets it stays on Fly.
      const second = await w.run({ ...inputs, secrets: TOKEN_SECRET, 'dry-run': 'false' })
      expect(second.exitCode, second.stdout).toBe(0)
      const bad = await w.run({ ...inputs, secrets: TOKEN_SECRET, memory: '512mb' })
      expect(bad.exitCode).toBe(1)
      expect(snapshot(w.dirs.workspace)).toEqual(before)

      const journal = (await readJournal(w.state)).map(line)
      expect(
        journal.filter((l) =>
          /^(secrets unset|ips release|volumes? (destroy|delete)|apps? (destroy|delete)|machines? (destroy|remove))/.test(
            l,
          ),
        ),
      ).toEqual([])
      const app = (await readState(w.state)).apps[APP]!
      expect(Object.keys(app.secrets).sort()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN'])
      expect(app.volumes.length).toBe(1)
      expect(app.ips.length).toBe(2)

      // Asked for: prune-secrets stages the removal of exactly the unlisted name.
      const pruned = await w.run({ ...inputs, secrets: TOKEN_SECRET, 'prune-secrets': 'true' })
      expect(pruned.exitCode, pruned.stdout).toBe(0)
      expect((await readJournal(w.state)).map(line).filter((l) => l.startsWith('secrets unset'))).toEqual([
        `secrets unset --stage --app ${APP} ANTHROPIC_API_KEY`,
      ])
      expect(snapshot(w.dirs.workspace)).toEqual(before)
    },
    TIMEOUT,
  )
})

describe('rollback', () => {
  it(
    'a failed release is rolled back to the previous one, and without rollback the summary says what serves',
    async () => {
      const w = await newWorld('fake-gateway:ready', 'reliability-')
      expect((await w.run({ app: APP, secrets: TOKEN_SECRET })).exitCode).toBe(0)
      writeDockerfile(w.dirs, 'fake-gateway:oom')
      const failed = await w.run({ app: APP, secrets: TOKEN_SECRET })
      expect(failed.exitCode).toBe(1)
      expect(failed.outputs['rolled-back']).toBe('true')
      expect(failed.outputs.health).toBe('unhealthy')
      // The previous release's image serves again: the rollback's gate judges its own run, not the
      // failed release still crash-looping until the rollback replaced its config (verdict.ts).
      expect(failed.summary).toMatch(/Rolled back: release v3 \(the image of v1, [^)]*\) is now serving/)
      expect(failed.summary).toContain('### Where the run stopped')

      // The failed push again (rollback is no release input): its deploy is asked for, not left to skip-unchanged.
      const kept = await w.run({ app: APP, secrets: TOKEN_SECRET, rollback: 'false', 'skip-unchanged': 'false' })
      expect(kept.exitCode).toBe(1)
      expect(kept.outputs['rolled-back']).toBe('false')
      expect(kept.summary).toContain('Rollback is off (rollback: false); the unhealthy release stays deployed.')
    },
    TIMEOUT,
  )
})
