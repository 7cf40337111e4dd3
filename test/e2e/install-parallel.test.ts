// The install stage under parallel runs that share one tool cache (docs/CONTRACT.md, "Fleets"): several
// installFlyctl calls at once from an empty cache, and caches left broken by other installers.
// @actions/tool-cache's own cacheDir deletes and re-copies the destination in place
// (tool-cache.js cacheDir/_createToolPath), so the stage stages a private copy beside it and
// renames it in (src/install/install-flyctl.ts placeInToolCache). The 8-process version of this, through
// dist/index.js, is test/e2e/fleet-parallel.test.ts.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { installFlyctl, type InstallRequest } from '../../src/install/install-flyctl.js'
import {
  asidePath,
  isDestinationTaken,
  isPrivateFolder,
  stagingPath,
  toolCachePath,
} from '../../src/install/release-assets.js'
import { readJournal } from '../../standin/platform/inspect.ts'
import { startReleaseServer, type ReleaseServer } from '../../standin/github/release-server.js'

const ENV_KEYS = ['RUNNER_TOOL_CACHE', 'RUNNER_TEMP', 'GITHUB_PATH', 'FLYCTL_STANDIN_STATE'] as const
const VERSION = '0.4.87'

let server: ReleaseServer
let root: string
let savedEnv: Record<string, string | undefined>

beforeAll(async () => {
  server = await startReleaseServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(async () => {
  savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]))
  root = await mkdtemp(join(tmpdir(), 'install-parallel-'))
  for (const dir of ['toolcache', 'temp']) await mkdir(join(root, dir))
  await writeFile(join(root, 'github_path'), '')
  process.env.RUNNER_TOOL_CACHE = join(root, 'toolcache')
  process.env.RUNNER_TEMP = join(root, 'temp')
  process.env.GITHUB_PATH = join(root, 'github_path')
  process.env.FLYCTL_STANDIN_STATE = join(root, 'standin-state')
  server.clearRequests()
})
afterEach(async () => {
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key]
    else process.env[key] = savedEnv[key]
  }
  await rm(root, { recursive: true, force: true })
})

function request(n: number): InstallRequest {
  return {
    version: VERSION,
    platform: 'linux',
    arch: 'x64',
    endpoints: { githubDownload: server.url },
    log: () => {},
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    configDir: join(root, `fly-config-${n}`),
    env: process.env,
  }
}

const dest = (): string => toolCachePath(process.env.RUNNER_TOOL_CACHE!, VERSION, 'x64')

/** What `<tool>/<version>/` holds: the arch folder and its marker, and nothing of any run's own. */
async function versionFolder(): Promise<string[]> {
  return (await readdir(join(process.env.RUNNER_TOOL_CACHE!, 'flyctl', VERSION))).sort()
}

describe('the tool-cache layout (pure)', () => {
  it('stages beside the destination under a hidden name no listing takes for a version', () => {
    const d = '/cache/flyctl/0.4.87/x64'
    expect(toolCachePath('/cache', '0.4.87', 'x64')).toBe(d)
    expect(stagingPath(d, 'abc')).toBe('/cache/flyctl/0.4.87/.x64-abc.partial')
    expect(asidePath(d, 'abc')).toBe('/cache/flyctl/0.4.87/.x64-abc.replaced')
    expect(isPrivateFolder('.x64-abc.partial')).toBe(true)
    expect(isPrivateFolder('.x64-abc.replaced')).toBe(true)
    expect(isPrivateFolder('x64')).toBe(false)
    expect(isPrivateFolder('x64.complete')).toBe(false)
  })

  it('reads ENOTEMPTY, EEXIST and Windows EPERM/EACCES as "a copy is in place"', () => {
    for (const code of ['ENOTEMPTY', 'EEXIST', 'EPERM', 'EACCES']) expect(isDestinationTaken(code)).toBe(true)
    for (const code of ['ENOENT', 'EXDEV', 'ENOSPC', undefined]) expect(isDestinationTaken(code)).toBe(false)
  })
})

describe('installFlyctl, parallel runs on one tool cache', () => {
  it('eight installs at once from an empty cache all get one whole flyctl, and the cache holds exactly it', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => installFlyctl(request(i))))

    for (const r of results) expect(r).toMatchObject({ version: VERSION, dir: dest(), binary: join(dest(), 'flyctl') })
    expect(await versionFolder()).toEqual(['x64', 'x64.complete'])
    expect((await readdir(dest())).sort()).toEqual(['.fly-deploy-verified.json', 'fly', 'flyctl'])
    // Each download's work folder in RUNNER_TEMP is gone too.
    expect(await readdir(process.env.RUNNER_TEMP!)).toEqual([])
    // flyctl's `version` runs used the folder each run gave it, never $HOME/.fly.
    for (let i = 0; i < 8; i++) expect(existsSync(join(root, `fly-config-${i}`))).toBe(true)
    // One `flyctl version` per run: a run that lost the race finds the winner's copy byte-identical
    // to the one it verified, and does not run it again.
    const versions = (await readJournal(process.env.FLYCTL_STANDIN_STATE!)).filter((e) => e.argv[0] === 'version')
    expect(versions).toHaveLength(8)
  })

  it('replaces a half-copied folder that another installer marked complete', async () => {
    // What a killed or raced tc.cacheDir leaves: the marker beside a truncated binary.
    await mkdir(dest(), { recursive: true })
    await writeFile(join(dest(), 'flyctl'), '#!/bin/sh\nexit 3\n', { mode: 0o755 })
    await writeFile(`${dest()}.complete`, '')

    const results = await Promise.all([installFlyctl(request(0)), installFlyctl(request(1)), installFlyctl(request(2))])

    for (const r of results) expect(r.dir).toBe(dest())
    expect(await readFile(join(dest(), 'flyctl'), 'utf8')).not.toContain('exit 3')
    expect(await versionFolder()).toEqual(['x64', 'x64.complete'])
  })

  it('sweeps staging folders that killed runs left over an hour ago, and keeps fresh ones of live runs', async () => {
    const versionDir = join(process.env.RUNNER_TOOL_CACHE!, 'flyctl', VERSION)
    const stale = stagingPath(dest(), 'killed-run')
    const live = stagingPath(dest(), 'live-run')
    for (const dir of [stale, live]) await mkdir(dir, { recursive: true })
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
    await utimes(stale, twoHoursAgo, twoHoursAgo)

    await installFlyctl(request(0))

    expect(await readdir(versionDir)).toEqual(expect.arrayContaining(['x64', 'x64.complete', '.x64-live-run.partial']))
    expect(existsSync(stale)).toBe(false)
  })
})
