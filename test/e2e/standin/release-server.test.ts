import { execFile, execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, startReleaseServer } from '../../../standin/github/release-server.js'
import type { ReleaseServer } from '../../../standin/github/release-server.js'

const run = promisify(execFile)

let server: ReleaseServer
let work: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'release-server-test-'))
  // A stand-in that shows what it was given, to prove the launcher's exec.
  const echo = join(work, 'echo-standin')
  await writeFile(echo, '#!/bin/sh\necho "standin $FLYCTL_STANDIN_VERSION $*"\n')
  await chmod(echo, 0o755)
  server = await startReleaseServer({ standinBinary: echo })
})

afterAll(async () => {
  await server.close()
  await rm(work, { recursive: true, force: true })
})

async function unpack(version: string, os: 'Linux' | 'Windows'): Promise<string> {
  const dir = await mkdtemp(join(work, 'unpack-'))
  const built = server.archive(version, os, 'x86_64')
  const file = join(dir, built.name)
  await writeFile(file, built.bytes)
  if (os === 'Windows') execFileSync('unzip', ['-q', file], { cwd: dir })
  else execFileSync('tar', ['xzf', file], { cwd: dir })
  return join(dir, os === 'Windows' ? 'flyctl.exe' : 'flyctl')
}

describe('release server', () => {
  it('points the launcher at the repository stand-in by default', async () => {
    const plain = await startReleaseServer()
    try {
      expect(plain.standinBinary).toBe(join(repoRoot(), 'standin', 'bin', 'flyctl'))
    } finally {
      await plain.close()
    }
  })

  it('builds the same bytes every time, so checksums are stable across servers', async () => {
    const other = await startReleaseServer({ standinBinary: server.standinBinary })
    try {
      for (const os of ['Linux', 'Windows'] as const) {
        expect(other.archive('0.4.87', os, 'x86_64').sha256).toBe(server.archive('0.4.87', os, 'x86_64').sha256)
      }
    } finally {
      await other.close()
    }
  })

  it.each(['Linux', 'Windows'] as const)(
    '%s archive unpacks with system tools to an executable launcher that execs the stand-in',
    async (os) => {
      const binary = await unpack('0.4.81', os)
      expect((await stat(binary)).mode & 0o777).toBe(0o755)
      const { stdout } = await run(binary, ['deploy', '-a', 'x'])
      expect(stdout).toBe('standin 0.4.81 deploy -a x\n')
    },
  )

  it('answers `version` like flyctl when the stand-in is missing, and refuses the rest', async () => {
    const bare = await startReleaseServer({ standinBinary: join(work, 'absent') })
    try {
      const dir = await mkdtemp(join(work, 'bare-'))
      const built = bare.archive('0.4.82', 'Linux', 'arm64')
      await writeFile(join(dir, 'a.tar.gz'), built.bytes)
      execFileSync('tar', ['xzf', 'a.tar.gz'], { cwd: dir })
      const { stdout } = await run(join(dir, 'flyctl'), ['version'])
      expect(stdout).toBe('flyctl v0.4.82 linux/arm64 Commit: 5b6dac0 BuildDate: 2026-01-15T12:00:00Z\n')
      await expect(run(join(dir, 'flyctl'), ['status'])).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('Error: the flyctl stand-in is not installed'),
      })
    } finally {
      await bare.close()
    }
  })

  it("answers Fly's endpoint in JSON or plain text by Accept, in both spellings of the platform", async () => {
    const json = await fetch(`${server.flyReleasesUrl}/linux/amd64/latest`, { headers: { accept: 'application/json' } })
    expect(await json.json()).toMatchObject({
      version: server.latest,
      prerelease: false,
      download_url: `${server.url}/v${server.latest}/flyctl_${server.latest}_Linux_x86_64.tar.gz`,
    })
    // install.sh asks with `uname -s`/`uname -m`.
    const text = await fetch(`${server.flyReleasesUrl}/Darwin/aarch64/latest`)
    expect(await text.text()).toBe(`${server.url}/v${server.latest}/flyctl_${server.latest}_macOS_arm64.tar.gz`)
  })

  it('refuses GitHub API requests without a User-Agent, as GitHub does', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${server.githubApiUrl}/repos/superfly/flyctl/releases/latest`)
      const req = request({ host: url.hostname, port: url.port, path: url.pathname }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
  })

  it('consumes failNext per request kind and logs every request', async () => {
    server.clearRequests()
    server.setFault({ failNext: { count: 1, kind: 'checksums', status: 500 } })
    const archive = await fetch(`${server.url}/v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz`)
    const first = await fetch(`${server.url}/v0.4.87/checksums.txt`)
    const second = await fetch(`${server.url}/v0.4.87/checksums.txt`)
    expect([archive.status, first.status, second.status]).toEqual([200, 500, 200])
    expect(server.requests.map((r) => `${r.kind} ${r.status}`)).toEqual([
      'archive 200',
      'checksums 500',
      'checksums 200',
    ])
    server.resetFaults()
  })
})
