/**
 * The pure half of the install stage: version specs, platform mapping, release asset names and
 * URLs, checksum files, the answers of the two "latest" APIs, and which HTTP failures are worth another try. Nothing here
 * touches the network, the disk or the environment; install-flyctl.ts is the edge.
 */
import { basename, dirname, join } from 'node:path'
import { z } from 'zod'

/** The flyctl release the action is tested against; the default of `flyctl-version`. */
export const PINNED_FLYCTL_VERSION = '0.4.87'

/** Name under which flyctl is kept in the runner's tool cache. */
export const TOOL_NAME = 'flyctl'

export const DEFAULT_ENDPOINTS = {
  /** Fly's release endpoint; `<base>/<goos>/<goarch>/latest`. */
  flyReleases: 'https://api.fly.io/app/flyctl_releases',
  /** GitHub's REST API; `<base>/repos/superfly/flyctl/releases/latest`. */
  githubApi: 'https://api.github.com',
  /** What `flyctl-mirror` replaces; `<base>/v<ver>/<asset>`. */
  githubDownload: 'https://github.com/superfly/flyctl/releases/download',
} as const

export type Endpoints = { -readonly [K in keyof typeof DEFAULT_ENDPOINTS]: string }

// ---------------------------------------------------------------------------------------------
// Versions

/** An exact release: `0.4.87`, or a prerelease such as `0.4.88-pr1234` (goreleaser's `.Version`). */
const EXACT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/

export type VersionSpec = { kind: 'latest' } | { kind: 'exact'; version: string }

/**
 * Read the `flyctl-version` input. Empty means the pinned version; `latest` (any case) is resolved
 * later; an exact version may carry the tag's `v`. Ranges are refused: the tool cache would then
 * need the network to know what they mean, and a deploy should name what it runs.
 */
export function parseVersionSpec(input: string | undefined): VersionSpec {
  const text = (input ?? '').trim()
  if (text === '') return { kind: 'exact', version: PINNED_FLYCTL_VERSION }
  if (text.toLowerCase() === 'latest') return { kind: 'latest' }
  const version = stripV(text)
  if (EXACT_VERSION.test(version)) return { kind: 'exact', version }
  throw new Error(
    `flyctl-version: "${text}" is not a flyctl version. Use an exact release such as ` +
      `"${PINNED_FLYCTL_VERSION}" (or "v${PINNED_FLYCTL_VERSION}"), or "latest"; ranges are not accepted.`,
  )
}

/** A version as an API reported it (`v0.4.87` or `0.4.87`), or undefined when it is not one. */
export function exactVersionOrUndefined(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined
  const version = stripV(text.trim())
  return EXACT_VERSION.test(version) ? version : undefined
}

function stripV(text: string): string {
  return /^v\d/i.test(text) ? text.slice(1) : text
}

// ---------------------------------------------------------------------------------------------
// Platforms

export interface PlatformTarget {
  /** goreleaser's OS word in asset names. */
  os: 'Linux' | 'macOS' | 'Windows'
  /** goreleaser's arch word in asset names. */
  arch: 'x86_64' | 'arm64'
  /** Go's names, which Fly's release endpoint takes (flyctl internal/update/update.go, runtime.GOOS/GOARCH). */
  goos: 'linux' | 'darwin' | 'windows'
  goarch: 'amd64' | 'arm64'
  /** Node's arch name, the tool cache's arch key. */
  toolArch: 'x64' | 'arm64'
  archive: 'tar.gz' | 'zip'
  /** The binary inside the archive, and the alias installed beside it. */
  binary: 'flyctl' | 'flyctl.exe'
  alias: 'fly' | 'fly.exe'
}

const OS_BY_PLATFORM: Partial<Record<NodeJS.Platform, Pick<PlatformTarget, 'os' | 'goos'>>> = {
  linux: { os: 'Linux', goos: 'linux' },
  darwin: { os: 'macOS', goos: 'darwin' },
  win32: { os: 'Windows', goos: 'windows' },
}

const ARCH_BY_NODE_ARCH: Record<string, Pick<PlatformTarget, 'arch' | 'goarch' | 'toolArch'>> = {
  x64: { arch: 'x86_64', goarch: 'amd64', toolArch: 'x64' },
  arm64: { arch: 'arm64', goarch: 'arm64', toolArch: 'arm64' },
}

/** Map Node's platform and arch to flyctl's release assets (flyctl .goreleaser.yml). */
export function platformTarget(platform: NodeJS.Platform | string, arch: string): PlatformTarget {
  const os = OS_BY_PLATFORM[platform as NodeJS.Platform]
  const cpu = ARCH_BY_NODE_ARCH[arch]
  if (!os || !cpu) {
    throw new Error(
      `flyctl has no release for ${platform}/${arch}: this action installs it on Linux, macOS and Windows ` +
        'runners with x64 or arm64 CPUs. Use such a runner (for example ubuntu-latest).',
    )
  }
  const windows = os.os === 'Windows'
  return {
    ...os,
    ...cpu,
    archive: windows ? 'zip' : 'tar.gz',
    binary: windows ? 'flyctl.exe' : 'flyctl',
    alias: windows ? 'fly.exe' : 'fly',
  }
}

/** `flyctl_0.4.87_Linux_x86_64.tar.gz`: goreleaser's archive name for a release. */
export function assetName(version: string, target: PlatformTarget): string {
  return `flyctl_${version}_${target.os}_${target.arch}.${target.archive}`
}

/** The names the checksums file has had, in the order to try them. */
export function checksumFileNames(version: string): string[] {
  return ['checksums.txt', `flyctl_${version}_checksums.txt`]
}

export interface ReleaseUrls {
  asset: string
  archiveUrl: string
  checksumUrls: Array<{ name: string; url: string }>
}

export function releaseUrls(downloadBase: string, version: string, target: PlatformTarget): ReleaseUrls {
  const base = `${trimSlash(downloadBase)}/v${version}`
  const asset = assetName(version, target)
  return {
    asset,
    archiveUrl: `${base}/${asset}`,
    checksumUrls: checksumFileNames(version).map((name) => ({ name, url: `${base}/${name}` })),
  }
}

export function flyLatestUrl(flyReleasesBase: string, target: PlatformTarget): string {
  return `${trimSlash(flyReleasesBase)}/${target.goos}/${target.goarch}/latest`
}

export function githubLatestUrl(githubApiBase: string): string {
  return `${trimSlash(githubApiBase)}/repos/superfly/flyctl/releases/latest`
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

/** A mirror must be an http(s) URL; anything else is refused with the input's name. */
export function checkMirror(mirror: string): string {
  let parsed: URL
  try {
    parsed = new URL(mirror)
  } catch {
    throw new Error(
      `flyctl-mirror: "${mirror}" is not a URL. Give the base that replaces ${DEFAULT_ENDPOINTS.githubDownload}.`,
    )
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(
      `flyctl-mirror: "${mirror}" must be an http(s) URL laid out like ${DEFAULT_ENDPOINTS.githubDownload}.`,
    )
  }
  return trimSlash(mirror)
}

// ---------------------------------------------------------------------------------------------
// Checksums

/**
 * Parse a goreleaser checksums file: `<sha256>  <file>` per line (sha256sum's format; a `*` before
 * the name marks binary mode). Blank lines and lines that are not entries are skipped.
 */
export function parseChecksums(text: string): Map<string, string> {
  const entries = new Map<string, string>()
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(raw)
    if (match?.[1] && match[2]) entries.set(match[2], match[1].toLowerCase())
  }
  return entries
}

/** Compare the archive's digest with the checksums file; an error names the file and both digests. */
export function checkDigest(args: {
  asset: string
  actual: string
  checksums: Map<string, string>
  checksumUrl: string
}): void {
  const expected = args.checksums.get(args.asset)
  if (expected === undefined) {
    throw new Error(
      `${args.asset} has no entry in ${args.checksumUrl} (actual sha256 ${args.actual}). ` +
        'The release or the mirror is incomplete; check flyctl-version and flyctl-mirror.',
    )
  }
  if (expected !== args.actual.toLowerCase()) {
    throw new Error(
      `checksum mismatch for ${args.asset}: ${args.checksumUrl} expects sha256 ${expected}, ` +
        `the downloaded file has ${args.actual}. The download was corrupted or the mirror serves a different build; ` +
        'nothing was installed.',
    )
  }
}

// ---------------------------------------------------------------------------------------------
// The two "latest" answers

const FlyRelease = z.object({
  version: z.string(),
  prerelease: z.boolean().optional(),
  download_url: z.string().optional(),
  timestamp: z.string().optional(),
})

/**
 * Read Fly's release endpoint (flyctl internal/update/update.go `Release`). With
 * `Accept: application/json` it answers `{version, prerelease, download_url, timestamp}`; older
 * deployments answer the download URL as plain text. A prerelease or an unparsable version as
 * "latest" is nonsense, and undefined sends the caller to GitHub.
 */
export function parseFlyLatest(body: string): string | undefined {
  const text = body.trim()
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return versionFromDownloadUrl(text)
  }
  const parsed = FlyRelease.safeParse(data)
  if (!parsed.success || parsed.data.prerelease === true) return undefined
  return exactVersionOrUndefined(parsed.data.version)
}

function versionFromDownloadUrl(text: string): string | undefined {
  if (!/^https?:\/\/\S+$/.test(text)) return undefined
  const match = /\/download\/v([^/]+)\//.exec(text)
  return exactVersionOrUndefined(match?.[1])
}

const GithubRelease = z.object({
  tag_name: z.string(),
  prerelease: z.boolean().optional(),
  draft: z.boolean().optional(),
})

/** Read GitHub's latest-release answer (which never is a draft or prerelease); `tag_name` is `v0.4.87`. */
export function parseGithubLatest(body: string): string | undefined {
  let data: unknown
  try {
    data = JSON.parse(body)
  } catch {
    return undefined
  }
  const parsed = GithubRelease.safeParse(data)
  if (!parsed.success || parsed.data.prerelease === true || parsed.data.draft === true) return undefined
  return exactVersionOrUndefined(parsed.data.tag_name)
}

/** The version in `flyctl version` output: `flyctl v0.4.87 linux/amd64 Commit: ... BuildDate: ...` (internal/buildinfo/buildinfo.go). */
export function parseVersionOutput(stdout: string): string | undefined {
  const match = /\bv(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\b/.exec(stdout)
  return exactVersionOrUndefined(match?.[1])
}

// ---------------------------------------------------------------------------------------------
// Retries

/** What went wrong with one HTTP try, as far as the retry decision cares. */
export type AttemptFailure =
  { kind: 'status'; status: number; retryAfter?: string } | { kind: 'network'; code?: string; message: string }

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
])

/** 5xx, 408, 429 and dropped or timed-out connections are worth another try; other answers are final. */
export function isTransient(failure: AttemptFailure): boolean {
  if (failure.kind === 'status') return failure.status >= 500 || failure.status === 408 || failure.status === 429
  if (failure.code && TRANSIENT_CODES.has(failure.code)) return true
  return /timeout|socket hang up|premature|aborted|truncated/i.test(failure.message)
}

/**
 * The wait a server asked for with Retry-After (seconds), honoured up to the backoff's cap; the
 * retry loop (shared/retry.ts) waits the longer of it and its own backoff.
 */
export function retryAfterMs(failure: AttemptFailure, maxDelayMs: number): number | undefined {
  const header = failure.kind === 'status' ? failure.retryAfter : undefined
  if (!header) return undefined
  const seconds = Number(header.trim())
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(maxDelayMs, seconds * 1000) : undefined
}

export function describeFailure(failure: AttemptFailure): string {
  return failure.kind === 'status'
    ? `HTTP ${failure.status}`
    : failure.code
      ? `${failure.code} (${failure.message})`
      : failure.message
}

// ---------------------------------------------------------------------------------------------
// The tool cache, shared by parallel runs

/**
 * `<RUNNER_TOOL_CACHE>/flyctl/<version>/<arch>`, the folder @actions/tool-cache's `find` looks in
 * (tool-cache.js `find`: `path.join(cacheDir, toolName, semver.clean(version), arch)` plus a
 * `<folder>.complete` marker). Our versions are exact already, so `semver.clean` keeps them.
 */
export function toolCachePath(toolCacheRoot: string, version: string, toolArch: string): string {
  return join(toolCacheRoot, TOOL_NAME, version, toolArch)
}

/** Suffixes of this run's private folders beside the destination; never a version folder. */
const STAGING = '.partial'
const ASIDE = '.replaced'

/**
 * Where one run stages its copy before renaming it into place: beside the destination, hence on
 * the same filesystem (rename(2) is atomic there; RUNNER_TEMP may be another disk), and hidden
 * (a leading dot) so that no tool-cache listing takes it for a version or an arch.
 */
export function stagingPath(dest: string, id: string): string {
  return join(dirname(dest), `.${basename(dest)}-${id}${STAGING}`)
}

/** Where a broken folder found at the destination is moved before the good one takes its place. */
export function asidePath(dest: string, id: string): string {
  return join(dirname(dest), `.${basename(dest)}-${id}${ASIDE}`)
}

/** How long a staging folder may sit before it counts as left by a killed run and is swept. */
export const STALE_STAGING_MS = 60 * 60 * 1000

/** A name in `<tool>/<version>/` that a run of ours made for itself and a killed run may have left. */
export function isPrivateFolder(name: string): boolean {
  return name.startsWith('.') && (name.endsWith(STAGING) || name.endsWith(ASIDE))
}

/**
 * rename(2) onto a folder that has files fails with ENOTEMPTY (Linux) or EEXIST (macOS, BSD);
 * Windows answers EPERM (or EACCES) when the destination exists or a file in it is open. Each of
 * these means "another copy is already in place", which the caller checks instead of failing.
 */
export function isDestinationTaken(code: string | undefined): boolean {
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'EACCES'
}
