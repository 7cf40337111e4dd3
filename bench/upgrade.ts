// The upgrade part of `npm run bench` (figure 7): what the volume snapshot before a gateway upgrade
// adds to a healthy upgrade, what its restore adds to a rollback, and that a push which keeps the
// release costs nothing more. Fake gateway behind Dockerfiles that name a release
// (`ARG OPENCLAW_VERSION`, which the action reads), so each push changes the release the action sees;
// each figure is a pair of medians, with `upgrade-snapshot: true` and `false`, in the same world.
import fs from 'node:fs'
import path from 'node:path'
import { GATEWAY_TOKEN, log, runTimed, startBenchWorld, type TimedRun } from './lib.ts'
import type { StandinWorld } from '../test/support/standin.ts'

const RELEASES = ['2026.4.29', '2026.9.6'] as const

export interface UpgradeSample {
  calls: number
  wallMs: number
}

export interface UpgradeResult {
  healthy: { snapshot: UpgradeSample[]; none: UpgradeSample[] }
  rollback: { restore: UpgradeSample[]; imageOnly: UpgradeSample[] }
  sameRelease: { snapshot: UpgradeSample[]; none: UpgradeSample[] }
  /** The calls a snapshot and a restore add, from the first sample of each. */
  addedCalls: { snapshot: string[]; restore: string[] }
}

function writeRelease(world: StandinWorld, release: string, workload: string): void {
  fs.writeFileSync(
    path.join(world.dirs.workspace, 'Dockerfile'),
    `ARG OPENCLAW_VERSION=${release}\nFROM node:24-slim\nLABEL fly-standin.workload=${workload}\n`,
  )
}

function sample(run: TimedRun): UpgradeSample {
  return { calls: run.calls.length, wallMs: run.endedAt - run.startedAt }
}

function expectOutcome(run: TimedRun, health: string, what: string): void {
  if (run.result.outputs.health !== health) {
    throw new Error(
      `${what}: expected health=${health}, got ${run.result.outputs.health} (exit ${run.result.exitCode})\n${run.result.stdout.split('\n').slice(-30).join('\n')}`,
    )
  }
}

const extra = (withCalls: readonly string[], without: readonly string[]) =>
  withCalls.filter(
    (c) => !without.some((w) => w.split(' ').slice(0, 2).join(' ') === c.split(' ').slice(0, 2).join(' ')),
  )

/** Healthy upgrades (the release alternates) and pushes of the same release, snapshot on and off. */
async function healthyUpgrades(runs: number, out: UpgradeResult): Promise<void> {
  const world = await startBenchWorld('upgrade-healthy')
  const app = 'bench-upgrade'
  const inputs = { app, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}` }
  try {
    let turn = 0
    writeRelease(world, RELEASES[0], 'fake-gateway:ready')
    expectOutcome(await runTimed(world, inputs), 'healthy', 'upgrade: first deploy')
    for (let i = 1; i <= runs; i++) {
      for (const snapshot of [true, false]) {
        turn++
        writeRelease(world, RELEASES[turn % 2] as string, 'fake-gateway:ready')
        const run = await runTimed(world, { ...inputs, 'upgrade-snapshot': String(snapshot) })
        expectOutcome(run, 'healthy', `upgrade ${i} (snapshot ${snapshot})`)
        out.healthy[snapshot ? 'snapshot' : 'none'].push(sample(run))
        const same = await runTimed(world, { ...inputs, 'upgrade-snapshot': String(snapshot) })
        expectOutcome(same, 'healthy', `same release ${i} (snapshot ${snapshot})`)
        out.sameRelease[snapshot ? 'snapshot' : 'none'].push(sample(same))
        if (i === 1 && snapshot) out.addedCalls.snapshot = run.calls.filter((c) => c.includes('snapshots'))
        log(
          `upgrade ${i}/${runs} (snapshot ${snapshot}): ${run.calls.length} calls, ${run.endedAt - run.startedAt} ms; same release: ${same.calls.length} calls`,
        )
      }
    }
  } finally {
    await world.stop()
  }
}

/** Upgrades to a release that crashes, rolled back: onto the restored snapshot, and the image alone. */
async function failedUpgrades(runs: number, out: UpgradeResult): Promise<void> {
  const world = await startBenchWorld('upgrade-rollback')
  const app = 'bench-upgrade-rollback'
  const inputs = { app, secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}` }
  try {
    writeRelease(world, RELEASES[0], 'fake-gateway:ready')
    expectOutcome(await runTimed(world, inputs), 'healthy', 'rollback: first deploy')
    let imageOnlyCalls: string[] = []
    for (let i = 1; i <= runs; i++) {
      for (const snapshot of [true, false]) {
        writeRelease(world, RELEASES[1], 'fake-gateway:crash')
        const run = await runTimed(world, { ...inputs, 'upgrade-snapshot': String(snapshot) })
        expectOutcome(run, 'unhealthy', `rollback ${i} (snapshot ${snapshot})`)
        if (run.result.outputs['rolled-back'] !== 'true')
          throw new Error(`rollback ${i} (snapshot ${snapshot}): not rolled back`)
        out.rollback[snapshot ? 'restore' : 'imageOnly'].push(sample(run))
        if (i === 1 && snapshot) out.addedCalls.restore = run.calls
        if (i === 1 && !snapshot) imageOnlyCalls = run.calls
        log(
          `rollback ${i}/${runs} (snapshot ${snapshot}): ${run.calls.length} calls, ${run.endedAt - run.startedAt} ms`,
        )
        // Back to the healthy release: the next upgrade starts from the same place.
        writeRelease(world, RELEASES[0], 'fake-gateway:ready')
        expectOutcome(await runTimed(world, inputs), 'healthy', `rollback ${i}: back to ${RELEASES[0]}`)
      }
    }
    out.addedCalls.restore = extra(out.addedCalls.restore, imageOnlyCalls)
  } finally {
    await world.stop()
  }
}

export async function upgradeCosts(runs: number): Promise<UpgradeResult> {
  const out: UpgradeResult = {
    healthy: { snapshot: [], none: [] },
    rollback: { restore: [], imageOnly: [] },
    sameRelease: { snapshot: [], none: [] },
    addedCalls: { snapshot: [], restore: [] },
  }
  await healthyUpgrades(runs, out)
  await failedUpgrades(runs, out)
  return out
}
