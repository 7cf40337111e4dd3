import type { Plan } from '../../src/inputs/plan.js'

/**
 * A Plan as the inputs stage makes it from default inputs, for tests of the stages that read one.
 * Paths are a runner's, but nothing is read from them unless a test writes files there.
 */
export function makePlan(overrides: Partial<Plan> = {}): Plan {
  return {
    app: 'my-openclaw',
    apiToken: 'tok',
    org: 'personal',
    create: true,
    private: false,
    env: [],
    volumeSizeGb: 1,
    secrets: new Map(),
    secretSources: new Map(),
    pruneSecrets: false,
    dockerfile: '/ws/Dockerfile',
    buildArgs: [],
    deployArgs: [],
    healthTimeoutSec: 300,
    healthChannels: [],
    fixStaleLock: true,
    rollback: true,
    skipUnchanged: true,
    upgradeSnapshot: true,
    flyctlVersion: '0.4.87',
    dryRun: false,
    workingDirectory: '/ws',
    runnerTemp: '/tmp/runner',
    mode: 'deploy',
    secretsPrefix: '',
    secretsPrefixed: new Map(),
    githubToken: '',
    ...overrides,
  }
}
