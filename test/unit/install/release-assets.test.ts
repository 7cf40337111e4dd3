import { describe, expect, it } from 'vitest'
import {
  PINNED_FLYCTL_VERSION,
  assetName,
  checkDigest,
  checkMirror,
  flyLatestUrl,
  githubLatestUrl,
  isTransient,
  parseChecksums,
  parseFlyLatest,
  parseGithubLatest,
  parseVersionOutput,
  parseVersionSpec,
  platformTarget,
  releaseUrls,
  retryAfterMs,
} from '../../../src/install/release-assets.js'
import type { AttemptFailure } from '../../../src/install/release-assets.js'
import { retry, type Backoff } from '../../../src/shared/retry.js'

describe('parseVersionSpec', () => {
  it.each([
    ['', { kind: 'exact', version: PINNED_FLYCTL_VERSION }],
    ['  ', { kind: 'exact', version: PINNED_FLYCTL_VERSION }],
    ['latest', { kind: 'latest' }],
    ['LATEST', { kind: 'latest' }],
    ['0.4.87', { kind: 'exact', version: '0.4.87' }],
    ['v0.4.87', { kind: 'exact', version: '0.4.87' }],
    [' v0.3.100 ', { kind: 'exact', version: '0.3.100' }],
    ['0.4.88-pr1234', { kind: 'exact', version: '0.4.88-pr1234' }],
  ])('%j reads as %j', (input, expected) => {
    expect(parseVersionSpec(input)).toEqual(expected)
  })

  it.each(['0.4', '^0.4.87', '~0.4', '0.4.x', 'vlatest', '00.4.87', 'stable', '0.4.87; rm -rf /'])(
    'refuses %j naming the input',
    (input) => {
      expect(() => parseVersionSpec(input)).toThrow(/^flyctl-version: .*not a flyctl version.*0\.4\.87/)
    },
  )
})

describe('platformTarget', () => {
  // flyctl .goreleaser.yml: OS Linux|macOS|Windows, Arch x86_64|arm64, Windows zips flyctl.exe.
  it.each([
    ['linux', 'x64', 'flyctl_0.4.87_Linux_x86_64.tar.gz', 'linux/amd64', 'x64', 'flyctl', 'fly'],
    ['linux', 'arm64', 'flyctl_0.4.87_Linux_arm64.tar.gz', 'linux/arm64', 'arm64', 'flyctl', 'fly'],
    ['darwin', 'x64', 'flyctl_0.4.87_macOS_x86_64.tar.gz', 'darwin/amd64', 'x64', 'flyctl', 'fly'],
    ['darwin', 'arm64', 'flyctl_0.4.87_macOS_arm64.tar.gz', 'darwin/arm64', 'arm64', 'flyctl', 'fly'],
    ['win32', 'x64', 'flyctl_0.4.87_Windows_x86_64.zip', 'windows/amd64', 'x64', 'flyctl.exe', 'fly.exe'],
    ['win32', 'arm64', 'flyctl_0.4.87_Windows_arm64.zip', 'windows/arm64', 'arm64', 'flyctl.exe', 'fly.exe'],
  ])('%s/%s -> %s', (platform, arch, asset, goPair, toolArch, binary, alias) => {
    const target = platformTarget(platform, arch)
    expect(assetName('0.4.87', target)).toBe(asset)
    expect(`${target.goos}/${target.goarch}`).toBe(goPair)
    expect(target.toolArch).toBe(toolArch)
    expect(target.binary).toBe(binary)
    expect(target.alias).toBe(alias)
  })

  it.each([
    ['freebsd', 'x64'],
    ['aix', 'ppc64'],
    ['linux', 'ia32'],
    ['linux', 's390x'],
    ['win32', 'arm'],
  ])('refuses %s/%s with the supported set', (platform, arch) => {
    expect(() => platformTarget(platform, arch)).toThrow(
      new RegExp(`no release for ${platform}/${arch}.*Linux, macOS and Windows.*x64 or arm64`),
    )
  })
})

describe('release URLs', () => {
  const linux = platformTarget('linux', 'x64')

  it('follow the layout of GitHub releases under any base, trailing slashes or not', () => {
    for (const base of [
      'https://github.com/superfly/flyctl/releases/download',
      'https://github.com/superfly/flyctl/releases/download/',
    ]) {
      expect(releaseUrls(base, '0.4.87', linux)).toEqual({
        asset: 'flyctl_0.4.87_Linux_x86_64.tar.gz',
        archiveUrl: 'https://github.com/superfly/flyctl/releases/download/v0.4.87/flyctl_0.4.87_Linux_x86_64.tar.gz',
        checksumUrls: [
          { name: 'checksums.txt', url: 'https://github.com/superfly/flyctl/releases/download/v0.4.87/checksums.txt' },
          {
            name: 'flyctl_0.4.87_checksums.txt',
            url: 'https://github.com/superfly/flyctl/releases/download/v0.4.87/flyctl_0.4.87_checksums.txt',
          },
        ],
      })
    }
  })

  it('ask Fly with Go names and GitHub at the repository latest release', () => {
    // flyctl internal/update/update.go: flyctl_releases/<runtime.GOOS>/<runtime.GOARCH>/<channel>
    expect(flyLatestUrl('https://api.fly.io/app/flyctl_releases', platformTarget('darwin', 'arm64'))).toBe(
      'https://api.fly.io/app/flyctl_releases/darwin/arm64/latest',
    )
    expect(githubLatestUrl('https://api.github.com/')).toBe(
      'https://api.github.com/repos/superfly/flyctl/releases/latest',
    )
  })

  it('accept an http(s) mirror and refuse anything else by the input name', () => {
    expect(checkMirror('https://mirror.example/flyctl/')).toBe('https://mirror.example/flyctl')
    expect(() => checkMirror('mirror.example/flyctl')).toThrow(/^flyctl-mirror: .*not a URL/)
    expect(() => checkMirror('file:///srv/flyctl')).toThrow(/^flyctl-mirror: .*http\(s\)/)
  })
})

describe('checksums', () => {
  const a = 'a'.repeat(64)
  const b = 'B'.repeat(64)

  it('parses goreleaser lines, binary-mode stars, CRLF, and skips the rest', () => {
    const text = `${a}  flyctl_0.4.87_Linux_x86_64.tar.gz\r\n\n# comment\n${b} *flyctl_0.4.87_Windows_x86_64.zip\nnot a line\n`
    expect([...parseChecksums(text)]).toEqual([
      ['flyctl_0.4.87_Linux_x86_64.tar.gz', a],
      ['flyctl_0.4.87_Windows_x86_64.zip', 'b'.repeat(64)],
    ])
  })

  it('accepts a matching digest in either case', () => {
    const checksums = parseChecksums(`${a}  x.tar.gz\n`)
    expect(() => checkDigest({ asset: 'x.tar.gz', actual: a.toUpperCase(), checksums, checksumUrl: 'u' })).not.toThrow()
  })

  it('names the file, the expected and the actual digest on a mismatch', () => {
    const checksums = parseChecksums(`${a}  x.tar.gz\n`)
    const actual = 'c'.repeat(64)
    expect(() =>
      checkDigest({ asset: 'x.tar.gz', actual, checksums, checksumUrl: 'https://m/v1/checksums.txt' }),
    ).toThrow(
      `checksum mismatch for x.tar.gz: https://m/v1/checksums.txt expects sha256 ${a}, the downloaded file has ${actual}`,
    )
  })

  it('treats a missing entry as an error naming the file and the actual digest', () => {
    const checksums = parseChecksums(`${a}  other.tar.gz\n`)
    expect(() =>
      checkDigest({ asset: 'x.tar.gz', actual: b, checksums, checksumUrl: 'https://m/v1/checksums.txt' }),
    ).toThrow(`x.tar.gz has no entry in https://m/v1/checksums.txt (actual sha256 ${b})`)
  })
})

describe('latest answers', () => {
  it.each([
    [
      '{"version":"0.4.90","prerelease":false,"download_url":"https://x/v0.4.90/a.tar.gz","timestamp":"2026-01-01T00:00:00Z"}',
      '0.4.90',
    ],
    ['{"version":"v0.4.90","prerelease":false}', '0.4.90'],
    ['{"version":"0.4.91-pre-3","prerelease":true}', undefined],
    ['{"version":"latest"}', undefined],
    ['{"error":"not found"}', undefined],
    ['<html>oops</html>', undefined],
    ['', undefined],
    // Plain text (no JSON Accept): the download URL.
    ['https://github.com/superfly/flyctl/releases/download/v0.4.90/flyctl_0.4.90_Linux_x86_64.tar.gz\n', '0.4.90'],
    ['https://example.com/nothing-here', undefined],
  ])('Fly endpoint %j -> %j', (body, version) => {
    expect(parseFlyLatest(body)).toBe(version)
  })

  it.each([
    ['{"tag_name":"v0.4.90","prerelease":false,"draft":false}', '0.4.90'],
    ['{"tag_name":"v0.4.90-beta","prerelease":true}', undefined],
    ['{"message":"API rate limit exceeded"}', undefined],
    ['not json', undefined],
  ])('GitHub %j -> %j', (body, version) => {
    expect(parseGithubLatest(body)).toBe(version)
  })

  it('reads the version from `flyctl version` (internal/buildinfo/buildinfo.go format)', () => {
    expect(parseVersionOutput('flyctl v0.4.87 linux/amd64 Commit: 5b6dac0 BuildDate: 2026-01-15T12:00:00Z\n')).toBe(
      '0.4.87',
    )
    expect(parseVersionOutput('fly v0.4.88-pr12 darwin/arm64 Commit: x BuildDate: y BranchName: main')).toBe(
      '0.4.88-pr12',
    )
    expect(parseVersionOutput('flyctl dev')).toBeUndefined()
  })
})

describe('retry policy', () => {
  const policy: Backoff = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 10_000 }

  /** The delays the download's retry loop waits after `failure` (install-flyctl.ts Net.withRetry). */
  async function delaysAfter(failure: AttemptFailure, backoff: Backoff = policy): Promise<number[]> {
    const delays: number[] = []
    await retry(
      async () => {
        throw failure
      },
      {
        backoff,
        isRetryable: (f) => isTransient(f as AttemptFailure),
        retryAfterMs: (f) => retryAfterMs(f as AttemptFailure, backoff.maxDelayMs),
        random: () => 0,
        sleep: async (ms) => {
          delays.push(ms)
          return false
        },
      },
    ).catch(() => undefined)
    return delays
  }

  it.each<[AttemptFailure, boolean]>([
    [{ kind: 'status', status: 500 }, true],
    [{ kind: 'status', status: 502 }, true],
    [{ kind: 'status', status: 503 }, true],
    [{ kind: 'status', status: 408 }, true],
    [{ kind: 'status', status: 429 }, true],
    [{ kind: 'status', status: 404 }, false],
    [{ kind: 'status', status: 403 }, false],
    [{ kind: 'status', status: 401 }, false],
    [{ kind: 'network', code: 'ECONNRESET', message: 'read ECONNRESET' }, true],
    [{ kind: 'network', code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' }, true],
    [{ kind: 'network', message: 'Request timeout: /v0.4.87/checksums.txt' }, true],
    [{ kind: 'network', message: 'socket hang up' }, true],
    [{ kind: 'network', code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND mirror.invalid' }, false],
    [{ kind: 'network', code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' }, false],
  ])('%j transient: %s', async (failure, transient) => {
    expect(isTransient(failure)).toBe(transient)
    expect((await delaysAfter(failure)).length > 0).toBe(transient)
  })

  it('stops after the last attempt', async () => {
    const failure: AttemptFailure = { kind: 'status', status: 503 }
    expect(await delaysAfter(failure)).toHaveLength(3)
    expect(await delaysAfter(failure, { ...policy, attempts: 1 })).toEqual([])
  })

  it('honours Retry-After up to the cap', async () => {
    const once = { ...policy, attempts: 2 }
    expect(await delaysAfter({ kind: 'status', status: 503, retryAfter: '3' }, once)).toEqual([3000])
    expect(await delaysAfter({ kind: 'status', status: 429, retryAfter: '120' }, once)).toEqual([10_000])
    expect(await delaysAfter({ kind: 'status', status: 503, retryAfter: 'soon' }, once)).toEqual([500])
    expect(retryAfterMs({ kind: 'network', message: 'socket hang up' }, 10_000)).toBeUndefined()
  })
})
