// Upgrades that can be undone, end to end: dist/index.js against the flyctl stand-in.
// The first block runs the REAL gateways: 2026.4.29, then 2026.9.6, which migrates the state
// 2026.4.29 wrote (state/openclaw.sqlite, originals renamed *.migrated). The faults run on the fake
// gateway behind Dockerfiles that name a release (ARG OPENCLAW_VERSION), which is what the action reads.
import { beforeAll, describe, expect, it } from 'vitest'
import { setupStandinRuntimes } from '../../scripts/standin-setup.ts'
import { readJournal } from '../../standin/platform/inspect.ts'
import { tail, writeDockerfile } from '../support/standin.js'
import { appState, callsSince, files, NEW, OLD, SECRETS, volumeDir } from '../support/upgrade.ts'
import { newWorld, useWorlds } from '../support/world.ts'

// Bounds, not speeds: each case runs two or three deploys of real gateways on a shared machine.
const REAL_TIMEOUT = 1_500_000

useWorlds()

/** Files a running gateway rewrites on its own: compared by name only. */
const VOLATILE = /\.sqlite(-shm|-wal)?$|lock|\.log$|(^|\/)logs\//

describe('a gateway upgrade with the real gateways', () => {
  beforeAll(async () => {
    await setupStandinRuntimes([OLD, NEW])
  }, REAL_TIMEOUT)

  it(
    'a healthy upgrade takes exactly one snapshot before the deploy and reports it; the same release again takes none',
    async () => {
      const w = await newWorld(undefined, 'e2e-upgrade-')
      const app = 'upgrade-healthy'
      const inputs = { app, 'secrets-json': SECRETS, 'health-timeout': '300' }
      writeDockerfile(w.dirs, `openclaw@${OLD}`)
      const first = await w.run(inputs)
      expect(first.exitCode, tail(first)).toBe(0)
      expect(first.outputs).toMatchObject({ 'snapshot-id': '', 'gateway-release': OLD })

      writeDockerfile(w.dirs, `openclaw@${NEW}`)
      const mark = (await readJournal(w.state)).length
      const second = await w.run(inputs)
      expect(second.exitCode, tail(second)).toBe(0)
      const calls = await callsSince(w, mark)
      const snapshots = calls.filter((c) => c.startsWith('volumes snapshots create'))
      expect(snapshots).toHaveLength(1)
      expect(calls.findIndex((c) => c.startsWith('volumes snapshots create'))).toBeLessThan(
        calls.findIndex((c) => c.startsWith('deploy')),
      )
      const [volume] = (await appState(w, app)).volumes
      const taken = volume?.snapshots ?? []
      expect(taken).toHaveLength(1)
      expect(second.outputs).toMatchObject({
        'snapshot-id': taken[0]!.id,
        'gateway-release': NEW,
        health: 'healthy',
        'rolled-back': 'false',
      })
      expect(second.summary).toContain(`${OLD} -&gt; ${NEW}`)
      expect(second.stdout).toContain(`Gateway upgrade: ${OLD} -> ${NEW}`)

      const again = (await readJournal(w.state)).length
      // The same release deployed again (asked for, not left to skip-unchanged) takes no snapshot.
      const third = await w.run({ ...inputs, 'skip-unchanged': 'false' })
      expect(third.exitCode, tail(third)).toBe(0)
      expect((await callsSince(w, again)).filter((c) => c.includes('snapshots'))).toEqual([])
      expect(third.outputs).toMatchObject({ 'snapshot-id': '', 'gateway-release': NEW })
    },
    REAL_TIMEOUT,
  )

  it(
    `a failed upgrade is rolled back onto the snapshot: ${OLD} serves, ready, on its own pre-upgrade state; the migrated volume is kept`,
    async () => {
      const w = await newWorld(undefined, 'e2e-upgrade-')
      const app = 'upgrade-oom'
      // 2026.9.6 needs more heap at start than 2026.4.29: the cap that fits the old release fails the new.
      const inputs = {
        app,
        'secrets-json': SECRETS,
        env: 'NODE_OPTIONS=--max-old-space-size=128',
        'health-timeout': '300',
      }
      writeDockerfile(w.dirs, `openclaw@${OLD}`)
      const first = await w.run(inputs)
      expect(first.exitCode, tail(first)).toBe(0)
      const before = await appState(w, app)
      const migratedId = before.volumes[0]!.id
      const preUpgrade = files(volumeDir(w, migratedId))
      expect(preUpgrade.size).toBeGreaterThan(0)

      writeDockerfile(w.dirs, `openclaw@${NEW}`)
      const mark = (await readJournal(w.state)).length
      const second = await w.run(inputs)
      expect(second.exitCode, tail(second)).toBe(1)
      expect(second.outputs).toMatchObject({
        health: 'unhealthy',
        'rolled-back': 'true',
        'gateway-release': OLD,
        image: first.outputs.image,
      })
      expect(second.outputs['snapshot-id']).toMatch(/^vs_/)

      const after = await appState(w, app)
      expect(after.machines).toHaveLength(1) // one app machine serves at the end
      const serving = after.machines[0]!
      expect(serving.config.image).toBe(first.outputs.image)
      const restoredId = serving.config.mounts?.[0]?.volume
      expect(restoredId).toBeDefined()
      expect(restoredId).not.toBe(migratedId)
      // The migrated volume still exists, detached; the upgrade did migrate it.
      expect(after.volumes.find((v) => v.id === migratedId)).toMatchObject({
        attached_machine_id: null,
        state: 'created',
      })
      const migrated = files(volumeDir(w, migratedId))
      expect([...migrated.keys()].some((f) => f.endsWith('.migrated')) || migrated.has('state/openclaw.sqlite')).toBe(
        true,
      )
      // The restored volume holds the pre-upgrade files and nothing of the migration.
      const restored = files(volumeDir(w, restoredId!))
      // Every file 2026.4.29 had written is there; the ones a running gateway keeps rewriting
      // (its SQLite task databases, logs, locks) are compared by name, the rest byte for byte.
      for (const [file, bytes] of preUpgrade) {
        if (!/lock/.test(file)) expect(restored.has(file), file).toBe(true)
        if (!VOLATILE.test(file)) expect(restored.get(file), file).toBe(bytes)
      }
      // update-check.json: written by 2026.4.29 (at most once a day), renamed *.migrated by 2026.9.6;
      // the restored volume has it under its own name, byte for byte as the upgrade found it.
      expect(migrated.get('update-check.json.migrated')).toBeDefined()
      expect(restored.get('update-check.json')).toBe(migrated.get('update-check.json.migrated'))
      expect([...restored.keys()].filter((f) => f.endsWith('.migrated'))).toEqual([])
      expect(restored.has('state/openclaw.sqlite')).toBe(false)

      const calls = await callsSince(w, mark)
      expect(calls.filter((c) => /^volumes (destroy|delete|rm)/.test(c))).toEqual([])
      expect(
        calls.some((c) => c.startsWith(`volumes create openclaw_data --snapshot-id ${second.outputs['snapshot-id']}`)),
      ).toBe(true)
      expect(
        calls.some((c) => c.startsWith('machine clone') && c.includes(`--attach-volume ${restoredId}:/data`)),
      ).toBe(true)
      expect(second.summary).toContain(`fly volumes destroy ${migratedId} -a ${app}`)
      expect(second.summary).toMatch(/is now serving and healthy/)
      // The summary's text escapes Markdown (`_` as `\_`); its commands are code spans.
      expect(second.summary).toContain(`Restore: created volume ${restoredId!.replaceAll('_', '\\_')}`)
    },
    REAL_TIMEOUT,
  )
})
