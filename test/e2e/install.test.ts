import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as tc from '@actions/tool-cache'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PINNED_FLYCTL_VERSION, installFlyctl } from '../../src/install/install-flyctl.js'
import type { InstallRequest } from '../../src/install/install-flyctl.js'
import { startReleaseServer } from '../../standin/github/release-server.js'
import type { ReleaseServer } from '../../standin/github/release-server.js'

const run = promisify(execFile)
const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 }
// Nothing listens on the discard port: a request sent there fails, so a test that passes with it
// proves the endpoint was never asked.
const NOWHERE = 'http://127.0.0.1:9'
const ENV_KEYS = ['RUNNER_TOOL_CACHE', 'RUNNER_TEMP', 'GITHUB_PATH', 'PATH', 'FLYCTL_STANDIN_STATE'] as const

let server: ReleaseServer
let root: string
let savedEnv: Record<string, string | undefined>
let logLines: string[]

beforeAll(async () => {
  server = await startReleaseServer()
})

afterAll(async () => {
  await server.close()
})

beforeEach(async () => {
  savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]))
  root = await mkdtemp(join(tmpdir(), 'install-test-'))
  await mkdir(join(root, 'toolcache'))
  await mkdir(join(root, 'temp'))
  await writeFile(join(root, 'github_path'), '')
  process.env.RUNNER_TOOL_CACHE = join(root, 'toolcache')
  process.env.RUNNER_TEMP = join(root, 'temp')
  process.env.GITHUB_PATH = join(root, 'github_path')
  // The archives' flyctl is the stand-in (when installed), which keeps its state here.
  process.env.FLYCTL_STANDIN_STATE = join(root, 'standin-state')
  server.resetFaults()
  server.clearRequests()
  logLines = []
})

afterEach(async () => {
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key]
    else process.env[key] = savedEnv[key]
  }
  await rm(root, { recursive: true, force: true })
})

function request(overrides: Partial<InstallRequest> = {}): InstallRequest {
  return {
    version: '',
    platform: 'linux',
    arch: 'x64',
    endpoints: { flyReleases: server.flyReleasesUrl, githubApi: server.githubApiUrl, githubDownload: server.url },
    log: (line) => logLines.push(line),
    retry: FAST_RETRY,
    env: process.env,
    ...overrides,
  }
}

function paths(kind?: string): string[] {
  return server.requests.filter((r) => kind === undefined || r.kind === kind).map((r) => `${r.status} ${r.path}`)
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

describe('installFlyctl against the release server', () => {
  it('installs the pinned version cold: download, checksum, tool cache, fly alias, PATH', async () => {
    const installed = await installFlyctl(request())

    const dir = join(process.env.RUNNER_TOOL_CACHE!, 'flyctl', PINNED_FLYCTL_VERSION, 'x64')
    expect(installed).toEqual({ version: '0.4.87', binary: join(dir, 'flyctl'), dir, fromCache: false })
    expect(paths()).toEqual(['200 /v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz', '200 /v0.4.87/checksums.txt'])
    expect(existsSync(`${dir}.complete`)).toBe(true)
    expect((await lstat(join(dir, 'fly'))).isSymbolicLink()).toBe(true)
    expect(await readlink(join(dir, 'fly'))).toBe('flyctl')
    expect(await readFile(process.env.GITHUB_PATH!, 'utf8')).toContain(dir)
    expect(logLines.join('\n')).toContain(
      `sha256 ${server.archive('0.4.87', 'Linux', 'x86_64').sha256} matches ${server.url}/v0.4.87/checksums.txt`,
    )
    // The temp work directory is gone; only the cache keeps the files.
    expect(await readdir(process.env.RUNNER_TEMP!)).toEqual([])
  })

  it('leaves `fly` and `flyctl` runnable from PATH', async () => {
    await installFlyctl(request({ version: '0.4.86' }))
    for (const command of ['fly', 'flyctl']) {
      const { stdout } = await run(command, ['version'], { env: { ...process.env, FLY_NO_UPDATE_CHECK: '1' } })
      expect(stdout).toMatch(/^flyctl v0\.4\.86 linux\/amd64 Commit: \S+ BuildDate: \S+/)
    }
  })

  it('uses a tool-cache hit without a single network request', async () => {
    await installFlyctl(request({ version: '0.4.87' }))
    server.clearRequests()
    const logged = logLines.length

    const installed = await installFlyctl(
      request({ version: 'v0.4.87', endpoints: { flyReleases: NOWHERE, githubApi: NOWHERE, githubDownload: NOWHERE } }),
    )

    expect(installed.fromCache).toBe(true)
    expect(installed.version).toBe('0.4.87')
    expect(server.requests).toEqual([])
    expect(logLines.some((line) => line.startsWith('flyctl 0.4.87 found in the tool cache'))).toBe(true)
    // The copy this action verified and placed, unchanged since, runs no `flyctl version`.
    expect(logLines.slice(logged).filter((line) => /^flyctl v0\.4\.87 /.test(line))).toEqual([])
  })

  it('adds the missing `fly` to a cache entry made by another installer, still offline', async () => {
    // setup-flyctl caches the bare archive under the same tool name: flyctl only.
    const bare = join(root, 'bare')
    await mkdir(bare)
    await writeFile(join(bare, 'a.tar.gz'), server.archive('0.4.85', 'Linux', 'x86_64').bytes)
    execFileSync('tar', ['xzf', 'a.tar.gz'], { cwd: bare })
    await rm(join(bare, 'a.tar.gz'))
    const cached = await tc.cacheDir(bare, 'flyctl', '0.4.85', 'x64')
    expect(existsSync(join(cached, 'fly'))).toBe(false)

    const installed = await installFlyctl(request({ version: '0.4.85', endpoints: { githubDownload: NOWHERE } }))

    expect(installed).toMatchObject({ dir: cached, fromCache: true })
    expect(existsSync(join(cached, 'fly'))).toBe(true)
    expect(server.requests).toEqual([])
    // Another installer's copy carries no marker of ours: it runs `flyctl version` first.
    expect(logLines.some((line) => /^flyctl v0\.4\.85 /.test(line))).toBe(true)
  })

  it('downloads again when the cached binary does not run', async () => {
    const { dir } = await installFlyctl(request({ version: '0.4.84' }))
    await writeFile(join(dir, 'flyctl'), '#!/bin/sh\nexit 3\n')
    await chmod(join(dir, 'flyctl'), 0o755)
    server.clearRequests()

    const installed = await installFlyctl(request({ version: '0.4.84' }))

    expect(installed.fromCache).toBe(false)
    expect(paths('archive')).toEqual(['200 /v0.4.84/flyctl_0.4.84_Linux_x86_64.tar.gz'])
    expect(logLines.join('\n')).toMatch(/flyctl 0\.4\.84 in the tool cache .* is unusable, downloading it again/)
    const { stdout } = await run(join(dir, 'fly'), ['version'])
    expect(stdout).toContain('v0.4.84')
  })

  it('refuses a checksum mismatch, naming the file and both digests, and caches nothing', async () => {
    server.setFault({ wrongChecksum: true })
    const asset = 'flyctl_0.4.87_Linux_x86_64.tar.gz'
    const expected = sha256(Buffer.from(`not ${asset}`))
    const actual = server.archive('0.4.87', 'Linux', 'x86_64').sha256

    await expect(installFlyctl(request())).rejects.toThrow(
      `checksum mismatch for ${asset}: ${server.url}/v0.4.87/checksums.txt expects sha256 ${expected}, the downloaded file has ${actual}`,
    )
    expect(tc.find('flyctl', '0.4.87', 'x64')).toBe('')
  })

  it('refuses a corrupted download', async () => {
    server.setFault({ corruptArchive: true })
    const good = server.archive('0.4.87', 'Linux', 'x86_64')
    const bad = Buffer.from(good.bytes)
    const middle = Math.floor(bad.length / 2)
    bad[middle] = (bad[middle] ?? 0) ^ 0xff

    await expect(installFlyctl(request())).rejects.toThrow(
      `expects sha256 ${good.sha256}, the downloaded file has ${sha256(bad)}`,
    )
    expect(tc.find('flyctl', '0.4.87', 'x64')).toBe('')
  })

  it('refuses an archive that the checksums file does not list', async () => {
    server.setFault({ omitChecksumEntries: ['Linux'] })
    const actual = server.archive('0.4.87', 'Linux', 'x86_64').sha256

    await expect(installFlyctl(request())).rejects.toThrow(
      `flyctl_0.4.87_Linux_x86_64.tar.gz has no entry in ${server.url}/v0.4.87/checksums.txt (actual sha256 ${actual})`,
    )
    expect(tc.find('flyctl', '0.4.87', 'x64')).toBe('')
  })

  it('finds the checksums file under its versioned name', async () => {
    server.setFault({ checksumFile: 'versioned' })

    await installFlyctl(request())

    expect(paths('checksums')).toEqual(['404 /v0.4.87/checksums.txt', '200 /v0.4.87/flyctl_0.4.87_checksums.txt'])
  })

  it('refuses a release without a checksums file', async () => {
    server.setFault({ checksumFile: 'none' })

    await expect(installFlyctl(request())).rejects.toThrow(
      `flyctl 0.4.87 has no checksums file (404 at ${server.url}/v0.4.87/checksums.txt and ${server.url}/v0.4.87/flyctl_0.4.87_checksums.txt)`,
    )
  })

  it('says which version and URL answered 404, without retrying', async () => {
    server.setFault({ missingVersions: ['0.4.99'] })

    await expect(installFlyctl(request({ version: '0.4.99' }))).rejects.toThrow(
      `flyctl 0.4.99 for Linux/x86_64 was not found: ${server.url}/v0.4.99/flyctl_0.4.99_Linux_x86_64.tar.gz answered 404`,
    )
    expect(paths()).toEqual(['404 /v0.4.99/flyctl_0.4.99_Linux_x86_64.tar.gz'])
  })

  it('retries 503 and succeeds when the server recovers', async () => {
    server.setFault({ failNext: { count: 2, status: 503, kind: 'archive' } })

    const installed = await installFlyctl(request())

    expect(installed.fromCache).toBe(false)
    expect(paths('archive')).toEqual([
      '503 /v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz',
      '503 /v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz',
      '200 /v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz',
    ])
    expect(logLines.filter((line) => line.includes('HTTP 503; retrying'))).toHaveLength(2)
  })

  it('retries a reset connection on the checksums file', async () => {
    server.setFault({ resetNext: { count: 1, kind: 'checksums' } })

    await installFlyctl(request())

    expect(paths('checksums')).toEqual(['0 /v0.4.87/checksums.txt', '200 /v0.4.87/checksums.txt'])
  })

  it('gives up after the last try and says how often it tried', async () => {
    server.setFault({ failNext: { count: 10, status: 502, kind: 'archive' } })

    await expect(installFlyctl(request())).rejects.toThrow(
      `${server.url}/v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz answered HTTP 502 (4 tries)`,
    )
    expect(paths('archive')).toHaveLength(4)
  })

  it("resolves `latest` through Fly's release endpoint and prints it", async () => {
    const installed = await installFlyctl(request({ version: 'latest' }))

    expect(installed.version).toBe(server.latest)
    const fly = server.requests.filter((r) => r.kind === 'fly')
    expect(fly.map((r) => [r.path, r.accept])).toEqual([
      ['/app/flyctl_releases/linux/amd64/latest', 'application/json'],
    ])
    expect(paths('github')).toEqual([])
    expect(logLines).toContain(`flyctl latest is ${server.latest} (${server.flyReleasesUrl}/linux/amd64/latest)`)
  })

  it.each(['error', 'garbage', 'prerelease'] as const)(
    "falls back to GitHub when Fly's endpoint answers %s",
    async (mode) => {
      server.setFault({ flyEndpoint: mode })

      const installed = await installFlyctl(request({ version: 'latest' }))

      expect(installed.version).toBe(server.latest)
      expect(paths('github')).toEqual(['200 /repos/superfly/flyctl/releases/latest'])
      expect(logLines).toContain(
        `flyctl latest is ${server.latest} (${server.githubApiUrl}/repos/superfly/flyctl/releases/latest)`,
      )
    },
  )

  it("falls back to GitHub when Fly's endpoint cannot be reached", async () => {
    const installed = await installFlyctl(
      request({
        version: 'latest',
        endpoints: { flyReleases: NOWHERE, githubApi: server.githubApiUrl, githubDownload: server.url },
      }),
    )
    expect(installed.version).toBe(server.latest)
  })

  it('fails `latest` with the fix when neither source answers', async () => {
    server.setFault({ flyEndpoint: 'error', githubApi: 'error' })

    await expect(installFlyctl(request({ version: 'latest' }))).rejects.toThrow(
      /^flyctl-version: could not resolve "latest"\. Fly's release endpoint: .*HTTP 503.*GitHub: .*HTTP 503 \(4 tries\).*Set flyctl-version to an exact version/,
    )
    expect(paths('archive')).toEqual([])
  })

  it('uses the tool cache for `latest` once it is resolved', async () => {
    await installFlyctl(request({ version: 'latest' }))
    server.clearRequests()

    const installed = await installFlyctl(request({ version: 'latest' }))

    expect(installed.fromCache).toBe(true)
    expect(paths()).toEqual([`200 /app/flyctl_releases/linux/amd64/latest`])
  })

  it('downloads from the mirror when one is given', async () => {
    const installed = await installFlyctl(
      request({ mirror: `${server.mirrorUrl}/`, endpoints: { githubDownload: NOWHERE } }),
    )

    expect(installed.fromCache).toBe(false)
    expect(server.requests.map((r) => [r.path, r.mirror])).toEqual([
      ['/mirror/v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz', true],
      ['/mirror/v0.4.87/checksums.txt', true],
    ])
  })

  it('names flyctl-mirror when the mirror lacks the version', async () => {
    server.setFault({ missingVersions: ['0.4.87'] })
    await expect(installFlyctl(request({ mirror: server.mirrorUrl }))).rejects.toThrow(
      /answered 404\. Check flyctl-version, and that flyctl-mirror holds this release/,
    )
  })

  it('installs the Windows layout: a zip with flyctl.exe, and fly.exe as a copy', async () => {
    const installed = await installFlyctl(request({ platform: 'win32' }))

    const dir = join(process.env.RUNNER_TOOL_CACHE!, 'flyctl', '0.4.87', 'x64')
    expect(installed).toMatchObject({ binary: join(dir, 'flyctl.exe'), dir })
    expect(paths('archive')).toEqual(['200 /v0.4.87/flyctl_0.4.87_Windows_x86_64.zip'])
    const alias = await lstat(join(dir, 'fly.exe'))
    expect(alias.isFile() && !alias.isSymbolicLink()).toBe(true)
    expect(await readFile(join(dir, 'fly.exe'))).toEqual(await readFile(join(dir, 'flyctl.exe')))
  })

  it('installs arm64 under its own cache key', async () => {
    const installed = await installFlyctl(request({ arch: 'arm64' }))

    expect(installed.dir).toBe(join(process.env.RUNNER_TOOL_CACHE!, 'flyctl', '0.4.87', 'arm64'))
    expect(paths('archive')).toEqual(['200 /v0.4.87/flyctl_0.4.87_Linux_arm64.tar.gz'])
    expect(tc.find('flyctl', '0.4.87', 'x64')).toBe('')
  })

  it('refuses a binary that reports another version than it was published as', async () => {
    const impostor = join(root, 'impostor')
    await writeFile(impostor, '#!/bin/sh\necho "flyctl v9.9.9 linux/amd64 Commit: x BuildDate: y"\n')
    await chmod(impostor, 0o755)
    const other = await startReleaseServer({ standinBinary: impostor })
    try {
      await expect(installFlyctl(request({ endpoints: { githubDownload: other.url } }))).rejects.toThrow(
        /reports v9\.9\.9 but flyctl 0\.4\.87 was expected/,
      )
      expect(tc.find('flyctl', '0.4.87', 'x64')).toBe('')
    } finally {
      await other.close()
    }
  })

  it('refuses bad input before any request', async () => {
    await expect(installFlyctl(request({ version: '^0.4' }))).rejects.toThrow(
      /^flyctl-version: "\^0\.4" is not a flyctl version/,
    )
    await expect(installFlyctl(request({ platform: 'freebsd' }))).rejects.toThrow(/no release for freebsd\/x64/)
    await expect(installFlyctl(request({ mirror: 'ftp://mirror' }))).rejects.toThrow(/^flyctl-mirror: /)
    expect(server.requests).toEqual([])
  })
})
