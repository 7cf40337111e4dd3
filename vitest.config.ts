import { defineConfig } from 'vitest/config'

/**
 * Two tiers, split by file (README "The stand-in, and how the tests run"):
 * - unit: in-process only (no flyctl stand-in, no action bundle run, no machine, no shell);
 *   `npm run test:unit`. Every test file not listed below is a unit file, and
 *   test/setup/no-child-processes.ts fails any unit test that starts a process.
 * - e2e: the files below, which start processes. Their globalSetup bundles the current src/
 *   (test/setup/e2e-bundle.ts), so they never run a stale dist/.
 * `npm test` runs both, the unit tier first.
 */
export const E2E_FILES = [
  'test/action-inputs.test.ts',
  'test/bad-inputs.test.ts',
  'test/e2e-health.test.ts',
  'test/e2e-pipeline.test.ts',
  'test/e2e-preview.test.ts',
  'test/e2e-rollout.test.ts',
  'test/fleet-parallel.test.ts',
  'test/guide-example.test.ts',
  'test/install-parallel.test.ts',
  'test/install-release-server.test.ts',
  'test/install.test.ts',
  'test/reliability.test.ts',
  'test/secret-hygiene.test.ts',
  'test/stale-lock-sh.test.ts',
  'test/standin-apps.test.ts',
  'test/standin-cli.test.ts',
  'test/standin-machines.test.ts',
]

// Two files at a time on the 2-core machine. The stand-in's machines each get their own network
// namespace when they can (root: standin/runtime-isolation.ts), so parallel files' gateways can all
// bind port 3000; the 'paths' fallback shares the host network, so there the e2e files run one at
// a time.
const machinesIsolated = process.getuid?.() === 0 && process.env.FLY_STANDIN_ISOLATION !== 'paths'

export default defineConfig({
  test: {
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
          maxWorkers: machinesIsolated ? 2 : 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
