import * as os from 'node:os'
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'
import { detectIsolation } from './standin/machines/isolation.ts'

/**
 * Three tiers, split by folder (README "The stand-in, and how the tests run"):
 * - unit: in-process only (no flyctl stand-in, no action bundle run, no machine, no shell);
 *   `npm run test:unit`: the files under test/unit/, and
 *   test/support/setup/no-child-processes.ts fails any unit test that starts a process.
 * - e2e: the files under test/e2e/, which start processes: the action, the flyctl stand-in, and
 *   machines that run the fake gateway (or none). `npm test` runs unit, then e2e.
 * - gateway: the files under test/gateway/, whose machines boot the real `openclaw` gateway from the
 *   npm registry (some 10 s of CPU each, minutes on a busy machine); `npm run test:gateway`.
 * The e2e and gateway tiers' globalSetup bundles the current src/ (test/support/setup/e2e-bundle.ts),
 * so they never run a stale dist/.
 */
// In the order they start: the longest first (measured on the 2-core machine), so the last file
// to start is a short one and no worker idles while another still runs a long file.
// A file not listed here runs after the listed ones.
export const E2E_ORDER = [
  'test/gateway/upgrade.test.ts',
  'test/gateway/health-fatal.test.ts',
  'test/gateway/preview.test.ts',
  'test/gateway/health.test.ts',
  'test/gateway/standin/machines.test.ts',
  'test/gateway/pipeline.test.ts',
  'test/gateway/probes.test.ts',
  'test/e2e/upgrade.test.ts',
  'test/e2e/probes.test.ts',
  'test/e2e/rollout.test.ts',
  'test/e2e/reliability.test.ts',
  'test/e2e/untrusted-text.test.ts',
  'test/e2e/preview.test.ts',
  'test/e2e/reliability-cancel.test.ts',
  'test/e2e/unchanged.test.ts',
  'test/e2e/standin/rollout.test.ts',
  'test/e2e/two-runs.test.ts',
  'test/e2e/secret-hygiene.test.ts',
  'test/e2e/pipeline-fake.test.ts',
  'test/e2e/standin/cli.test.ts',
  'test/e2e/untrusted-files.test.ts',
  'test/e2e/fleet-parallel.test.ts',
  'test/e2e/pipeline.test.ts',
  'test/e2e/standin/machines.test.ts',
  'test/e2e/standin/volumes.test.ts',
  'test/e2e/health.test.ts',
  'test/e2e/standin/apps.test.ts',
  'test/e2e/guide-example.test.ts',
  'test/e2e/action-inputs.test.ts',
  'test/e2e/bad-inputs.test.ts',
  'test/e2e/install.test.ts',
  'test/e2e/install-parallel.test.ts',
  'test/e2e/standin/release-server.test.ts',
  'test/e2e/stale-lock-sh.test.ts',
  'test/e2e/standin/checks.test.ts',
]

/** Runs the e2e and gateway files in E2E_ORDER's order; the unit files keep vitest's own order. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = E2E_ORDER.findIndex((file) => f.moduleId.endsWith(`/${file}`))
      return i === -1 ? E2E_ORDER.length : i
    }
    const sorted = await super.sort(files)
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f)
  }
}

// Eight e2e files at a time on the 2-core machine: an e2e file mostly waits (flyctl's 10 s smoke
// window, Fly's checks every 15 s, machine restarts), and eight keep the two cores some 85% busy
// (measured: 196 s of wall time for 330 s of CPU; ten took 186 s; FLY_DEPLOY_E2E_WORKERS changes it). The stand-in's
// machines each get their own network namespace when they can (as root, or as any user inside a user
// namespace of their own: standin/machines/isolation.ts), so parallel files' gateways can all bind
// port 3000; the 'paths' fallback (no namespaces at all) shares the host network, so there the files
// run one at a time.
const machinesIsolated = detectIsolation(os.tmpdir()) === 'namespace'

/** A tier whose tests start processes: its files under test/<name>/, run on a fresh bundle of src/. */
function processTier(name: 'e2e' | 'gateway', maxWorkers: number, groupOrder: number) {
  return {
    extends: true as const,
    test: {
      name,
      include: [`test/${name}/**/*.test.ts`],
      globalSetup: ['test/support/setup/e2e-bundle.ts'],
      setupFiles: ['test/support/setup/await-bundle.ts'],
      // Bounds for tests that set none, generous because files share the 2 cores with each other
      // and, often, with other work: speed is `npm run bench`'s business.
      testTimeout: 180_000,
      hookTimeout: 600_000,
      maxWorkers,
      sequence: { groupOrder },
    },
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    hookTimeout: 180_000,
    server: {
      deps: {
        // It imports its JSON schemas without import attributes; Vite's transform handles that, Node does not.
        inline: ['@actions/workflow-parser'],
      },
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/support/setup/no-child-processes.ts'],
          // Worker threads, not processes: a unit file starts nothing, and a fresh Node process per
          // file cost the tier about as much CPU as its tests (46 s of CPU with processes, 25 s with threads).
          pool: 'threads',
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      processTier('e2e', machinesIsolated ? Number(process.env.FLY_DEPLOY_E2E_WORKERS ?? 8) : 1, 1),
      // Two: each real gateway's boot keeps a core busy for some 10 s, and a boot slowed past its
      // check's grace period by the others would fail a test that is not about speed.
      processTier('gateway', machinesIsolated ? Number(process.env.FLY_DEPLOY_GATEWAY_WORKERS ?? 2) : 1, 2),
    ],
  },
})
