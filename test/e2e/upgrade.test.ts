// Upgrades that can be undone, end to end: dist/index.js against the flyctl stand-in. This file
// runs the faults of the snapshot and of its restore on the fake gateway, behind Dockerfiles that
// name a release (ARG OPENCLAW_VERSION), which is what the action reads; the REAL gateways'
// upgrade (2026.4.29, then 2026.9.6, which migrates the state 2026.4.29 wrote) is in
// test/gateway/upgrade.test.ts.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { readJournal, writeFaults } from '../../standin/platform/inspect.ts'
import { tail, type StandinWorld } from '../support/standin.js'
import { appState, callsSince, files, NEW, OLD, SECRETS, volumeDir } from '../support/upgrade.ts'
import { newWorld, useWorlds } from '../support/world.ts'

// A bound, not a speed: each case runs a deploy or two on a shared machine.
const FAKE_TIMEOUT = 600_000

useWorlds()

// --- faults, on the fake gateway ----------------------------------------------------------------
// One world. Each fault's case needs a healthy 2026.4.29 that serves with a volume: app `upgrade-a`
// gets one first deploy and carries three cases in turn, since a snapshot that never completes
// stops the run before the deploy, and an upgrade without a snapshot rolls back to 2026.4.29, both
// leaving it serving as before. A failed volume create leaves it on the migrated volume with
// 2026.9.6 crash-looping, so that case comes last (the world's end stops the loop) and the clone's
// case, before it, gets an app of its own. The faults of one case are cleared before the next.

function writeVersionedDockerfile(w: StandinWorld, release: string, workload: string): void {
  fs.writeFileSync(
    path.join(w.dirs.workspace, 'Dockerfile'),
    `ARG OPENCLAW_VERSION=${release}\nFROM node:24-slim\nLABEL fly-standin.workload=${workload}\n`,
  )
}

const inputsFor = (app: string, extra: Record<string, string> = {}) => ({
  app,
  'secrets-json': SECRETS,
  'health-timeout': '60',
  ...extra,
})

/** A healthy 2026.4.29 (fake) on `app`. */
async function deployOld(w: StandinWorld, app: string): Promise<void> {
  writeVersionedDockerfile(w, OLD, 'fake-gateway:ready')
  const first = await w.run(inputsFor(app))
  expect(first.exitCode, tail(first)).toBe(0)
  expect(first.outputs['gateway-release']).toBe(OLD)
}

/**
 * The upgrade of `app`, which serves a healthy 2026.4.29, to a crashing 2026.9.6, with `faults` in
 * force for that run only; a marker file is written on the volume first.
 */
async function failedUpgrade(
  w: StandinWorld,
  app: string,
  extra: Record<string, string> = {},
  faults?: Parameters<typeof writeFaults>[1],
) {
  const { volumes, machines } = await appState(w, app)
  const volume = volumes[0]!
  fs.writeFileSync(path.join(volumeDir(w, volume.id), 'sessions.json'), '{"pre-upgrade":true}')
  const marker = files(volumeDir(w, volume.id))
  if (faults) await writeFaults(w.state, faults)
  writeVersionedDockerfile(w, NEW, 'fake-gateway:crash')
  const mark = (await readJournal(w.state)).length
  const second = await w.run(inputsFor(app, extra)).finally(() => writeFaults(w.state, {}))
  return { second, volume, machine: machines[0]!, marker, calls: await callsSince(w, mark) }
}

describe('faults of the snapshot and of its restore', () => {
  let w: StandinWorld
  const APP_A = 'upgrade-a'
  const APP_B = 'upgrade-b'

  beforeAll(async () => {
    w = await newWorld(undefined, 'e2e-upgrade-')
    await deployOld(w, APP_A)
  }, FAKE_TIMEOUT)

  it(
    'a snapshot that never completes stops the run before the deploy, naming the cause; the old release still serves',
    async () => {
      const r = await failedUpgrade(w, APP_A, { 'health-timeout': '30' }, { snapshotNeverCompletes: true })
      expect(r.second.exitCode, tail(r.second)).toBe(1)
      expect(r.calls.some((c) => c.startsWith('deploy'))).toBe(false)
      expect(r.second.stdout).toMatch(
        /the volume snapshot before the gateway upgrade 2026\.4\.29 -> 2026\.9\.6 failed: .*did not reach "created" within 30 s/,
      )
      expect(r.second.outputs).toMatchObject({ 'gateway-release': OLD, 'snapshot-id': '', health: 'skipped' })
      const { machines } = await appState(w, APP_A)
      expect(machines.map((m) => m.id)).toEqual([r.machine.id])
    },
    FAKE_TIMEOUT,
  )

  it(
    'upgrade-snapshot: false deploys without a snapshot and rolls back the image alone',
    async () => {
      const r = await failedUpgrade(w, APP_A, { 'upgrade-snapshot': 'false' })
      expect(r.second.outputs).toMatchObject({ 'snapshot-id': '', 'rolled-back': 'true', 'gateway-release': OLD })
      expect(r.calls.filter((c) => /snapshots|clone/.test(c))).toEqual([])
    },
    FAKE_TIMEOUT,
  )

  for (const fault of [
    {
      name: 'a clone',
      command: 'machine clone',
      step: 'cloning machine',
      serves: /Serving: nothing: machine \w+ \(release v\d+, the previous image\) is stopped/,
      app: async () => {
        await deployOld(w, APP_B)
        return APP_B
      },
    },
    {
      name: 'a volume create from the snapshot',
      command: 'volumes create',
      step: 'creating a volume from the snapshot',
      serves: /Serving: release 2026\.9\.6 .*on the migrated volume/,
      // After the snapshot that never completed and the upgrade without one: 2026.4.29 serves
      // this app again, from the rollback's release.
      app: async () => APP_A,
    },
  ]) {
    it(
      `${fault.name} that fails ends the run saying what was done and what serves; the migrated volume untouched, nothing deleted`,
      async () => {
        const app = await fault.app()
        // The snapshot is taken only for a known upgrade: what serves reads 2026.4.29.
        const before = await appState(w, app)
        expect(before.machines.map((m) => m.config.env?.DEPLOYED_OPENCLAW_RELEASE)).toEqual([OLD])
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
