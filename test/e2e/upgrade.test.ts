// Upgrades that can be undone, end to end: dist/index.js against the flyctl stand-in.
// The first block runs the REAL gateways: 2026.4.29, then 2026.9.6, which migrates the state
// 2026.4.29 wrote (state/openclaw.sqlite, originals renamed *.migrated). The faults run on the fake
// gateway behind Dockerfiles that name a release (ARG OPENCLAW_VERSION), which is what the action reads.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readJournal, writeFaults } from '../../standin/platform/inspect.ts'
import { tail, type StandinWorld } from '../support/standin.js'
import { appState, callsSince, files, NEW, OLD, SECRETS, volumeDir } from '../support/upgrade.ts'
import { newWorld, useWorlds } from '../support/world.ts'

// A bound, not a speed: each case runs two deploys on a shared machine.
const FAKE_TIMEOUT = 600_000

useWorlds()

// --- faults, on the fake gateway ----------------------------------------------------------------

function writeVersionedDockerfile(w: StandinWorld, release: string, workload: string): void {
  fs.writeFileSync(
    path.join(w.dirs.workspace, 'Dockerfile'),
    `ARG OPENCLAW_VERSION=${release}\nFROM node:24-slim\nLABEL fly-standin.workload=${workload}\n`,
  )
}

/** A healthy 2026.4.29 (fake), a marker file on its volume, then the upgrade to a crashing 2026.9.6. */
async function failedUpgrade(
  w: StandinWorld,
  app: string,
  extra: Record<string, string> = {},
  faults?: Parameters<typeof writeFaults>[1],
) {
  const inputs = { app, 'secrets-json': SECRETS, 'health-timeout': '60', ...extra }
  writeVersionedDockerfile(w, OLD, 'fake-gateway:ready')
  const first = await w.run(inputs)
  expect(first.exitCode, tail(first)).toBe(0)
  const { volumes, machines } = await appState(w, app)
  const volume = volumes[0]!
  fs.writeFileSync(path.join(volumeDir(w, volume.id), 'sessions.json'), '{"pre-upgrade":true}')
  const marker = files(volumeDir(w, volume.id))
  if (faults) await writeFaults(w.state, faults)
  writeVersionedDockerfile(w, NEW, 'fake-gateway:crash')
  const mark = (await readJournal(w.state)).length
  const second = await w.run(inputs)
  return { first, second, volume, machine: machines[0]!, marker, calls: await callsSince(w, mark) }
}

describe('faults of the snapshot and of its restore', () => {
  it(
    'a snapshot that never completes stops the run before the deploy, naming the cause; the old release still serves',
    async () => {
      const w = await newWorld(undefined, 'e2e-upgrade-')
      const r = await failedUpgrade(
        w,
        'upgrade-snap-slow',
        { 'health-timeout': '30' },
        { snapshotNeverCompletes: true },
      )
      expect(r.second.exitCode, tail(r.second)).toBe(1)
      expect(r.calls.some((c) => c.startsWith('deploy'))).toBe(false)
      expect(r.second.stdout).toMatch(
        /the volume snapshot before the gateway upgrade 2026\.4\.29 -> 2026\.9\.6 failed: .*did not reach "created" within 30 s/,
      )
      expect(r.second.outputs).toMatchObject({ 'gateway-release': OLD, 'snapshot-id': '', health: 'skipped' })
      const { machines } = await appState(w, 'upgrade-snap-slow')
      expect(machines.map((m) => m.id)).toEqual([r.machine.id])
    },
    FAKE_TIMEOUT,
  )

  it(
    'upgrade-snapshot: false deploys without a snapshot and rolls back the image alone',
    async () => {
      const w = await newWorld(undefined, 'e2e-upgrade-')
      const r = await failedUpgrade(w, 'upgrade-snap-off', { 'upgrade-snapshot': 'false' })
      expect(r.second.outputs).toMatchObject({ 'snapshot-id': '', 'rolled-back': 'true', 'gateway-release': OLD })
      expect(r.calls.filter((c) => /snapshots|clone/.test(c))).toEqual([])
    },
    FAKE_TIMEOUT,
  )

  for (const fault of [
    {
      name: 'a volume create from the snapshot',
      command: 'volumes create',
      step: 'creating a volume from the snapshot',
      serves: /Serving: release 2026\.9\.6 .*on the migrated volume/,
    },
    {
      name: 'a clone',
      command: 'machine clone',
      step: 'cloning machine',
      serves: /Serving: nothing: machine \w+ \(release v\d+, the previous image\) is stopped/,
    },
  ]) {
    it(
      `${fault.name} that fails ends the run saying what was done and what serves; the migrated volume untouched, nothing deleted`,
      async () => {
        const w = await newWorld(undefined, 'e2e-upgrade-')
        const app = `upgrade-${fault.command.split(' ')[1]}-fails`
        const failing = {
          fail: [
            {
              command: fault.command,
              stderr: 'Error: failed: request returned non-2xx status: 422 (injected)',
              exit: 1,
            },
          ],
        }
        const r = await failedUpgrade(w, app, {}, failing)
        expect(r.second.exitCode, tail(r.second)).toBe(1)
        expect(r.second.outputs['snapshot-id']).toMatch(/^vs_/)
        expect(r.second.stdout).toContain(`failed while ${fault.step}`)
        expect(r.second.stdout).toMatch(fault.serves)
        expect(r.second.summary).toContain('To finish by hand')
        expect(r.second.summary).toContain(`untouched; nothing was deleted`)
        expect(r.calls.filter((c) => /destroy/.test(c))).toEqual([])
        expect(files(volumeDir(w, r.volume.id))).toEqual(r.marker)
        const { volumes } = await appState(w, app)
        expect(volumes.find((v) => v.id === r.volume.id)).toMatchObject({ attached_machine_id: r.machine.id })
      },
      FAKE_TIMEOUT,
    )
  }
})
