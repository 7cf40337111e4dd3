import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * Two tiers, split by file (README "The stand-in, and how the tests run"):
 * - unit: in-process only (no flyctl stand-in, no action bundle run, no machine, no shell);
 *   `npm run test:unit`. Every test file not listed below is a unit file, and
 *   test/setup/no-child-processes.ts fails any unit test that starts a process.
 * - e2e: the files below, which start processes. Their globalSetup bundles the current src/
 *   (test/setup/e2e-bundle.ts), so they never run a stale dist/.
 * `npm test` runs both, the unit tier first.
 */
// In the order they start: the longest first (measured on the 2-core machine), so the last file
// to start is a short one and no worker idles while another still runs a long file.
export const E2E_FILES = [
  'test/e2e-health.test.ts',
  'test/reliability.test.ts',
  'test/e2e-rollout.test.ts',
  'test/e2e-preview.test.ts',
  'test/e2e-pipeline-fake.test.ts',
  'test/reliability-cancel.test.ts',
  'test/e2e-pipeline.test.ts',
  'test/standin-machines.test.ts',
  'test/e2e-preview-real.test.ts',
  'test/standin-rollout.test.ts',
  'test/e2e-health-fatal.test.ts',
  'test/secret-hygiene.test.ts',
  'test/fleet-parallel.test.ts',
  'test/standin-cli.test.ts',
  'test/bad-inputs.test.ts',
  'test/guide-example.test.ts',
  'test/standin-apps.test.ts',
  'test/install.test.ts',
  'test/action-inputs.test.ts',
  'test/install-parallel.test.ts',
  'test/install-release-server.test.ts',
  'test/stale-lock-sh.test.ts',
]

/** Runs the e2e files in E2E_FILES' order; the unit files keep vitest's own order. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => E2E_FILES.findIndex((file) => f.moduleId.endsWith(`/${file}`))
    const sorted = await super.sort(files)
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f)
  }
}

// Five files at a time on the 2-core machine: an e2e file mostly waits (flyctl's 10 s smoke window,
// machine restarts, gateways booting), so five keep the two cores some 80% busy
// (FLY_DEPLOY_E2E_WORKERS changes it). The stand-in's machines each get their own network
// namespace when they can (root: standin/runtime-isolation.ts), so parallel files' gateways can all
// bind port 3000; the 'paths' fallback shares the host network, so there the e2e files run one at
// a time.
const machinesIsolated = process.getuid?.() === 0 && process.env.FLY_STANDIN_ISOLATION !== 'paths'

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
          include: ['test/**/*.test.ts'],
          exclude: E2E_FILES,
          setupFiles: ['test/setup/no-child-processes.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: E2E_FILES,
          globalSetup: ['test/setup/e2e-bundle.ts'],
          // Bounds for tests that set none, generous because two files share the 2 cores with
          // each other and, often, with other work: speed is `npm run bench`'s business.
          testTimeout: 180_000,
          hookTimeout: 600_000,
          maxWorkers: machinesIsolated ? Number(process.env.FLY_DEPLOY_E2E_WORKERS ?? 5) : 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
