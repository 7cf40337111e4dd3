/**
 * run() in-process, as actions/typescript-action tests its run(): what the unit files that run the
 * whole action share. `useRunnerFolders` gives each test a runner's folders and restores
 * process.env after it; `inProcessDeps` hands run() the real flyctl runner over an in-memory
 * FakeFly and the scripted registry, with no download and no process. The file itself mocks
 * @actions/core (`vi.mock('@actions/core', () => core)` with test/support/fake-core.ts).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import type { RunDeps } from '../../src/run/stage-list.js'
import type { FlyctlOptions } from '../../src/fly/flyctl.js'
import { InProcessFlyctl, type FakeFly } from './fake-flyctl.js'
import type { FakeRegistry } from './fake-registry.js'

/** The test's folders: `root` under the system temp folder, holding `workspace/` and `temp/`. */
export interface RunnerFolders {
  root: string
  workspace: string
  temp: string
}

/**
 * Before each test of the file: a fresh root, a workspace holding `dockerfile` as its Dockerfile,
 * GITHUB_WORKSPACE and RUNNER_TEMP pointing at them. After it: process.env as it was before the
 * test, and the root removed. The returned object holds the running test's folders.
 */
export function useRunnerFolders(
  prefix: string,
  dockerfile = 'FROM ghcr.io/openclaw/openclaw:2026.9.6\n',
): RunnerFolders {
  const folders: RunnerFolders = { root: '', workspace: '', temp: '' }
  let savedEnv: NodeJS.ProcessEnv = {}
  beforeEach(() => {
    savedEnv = { ...process.env }
    folders.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    folders.workspace = path.join(folders.root, 'workspace')
    folders.temp = path.join(folders.root, 'temp')
    fs.mkdirSync(folders.workspace)
    fs.mkdirSync(folders.temp)
    fs.writeFileSync(path.join(folders.workspace, 'Dockerfile'), dockerfile)
    process.env.GITHUB_WORKSPACE = folders.workspace
    process.env.RUNNER_TEMP = folders.temp
  })
  afterEach(() => {
    process.env = { ...savedEnv }
    fs.rmSync(folders.root, { recursive: true, force: true })
  })
  return folders
}

/**
 * run()'s dependencies over this Fly and registry. `onInstall` sees each run of the install stage;
 * `flyctl` overrides the runner's options (a test's shorter backoff).
 */
export function inProcessDeps(
  world: { fly: FakeFly; registry: FakeRegistry },
  extra: { onInstall?: () => void; flyctl?: Partial<FlyctlOptions> } = {},
): RunDeps {
  return {
    install: async () => {
      extra.onInstall?.()
      return { binary: '/nonexistent/flyctl', version: '0.4.87', fromCache: true, toolPath: '/nonexistent' } as never
    },
    flyctl: (options) => new InProcessFlyctl({ ...options, ...extra.flyctl }, world.fly),
    env: process.env,
    // Read at each request: a test may swap the registry's fetch between runs.
    registry: { fetch: (input, init) => world.registry.fetch(input, init) },
  }
}
