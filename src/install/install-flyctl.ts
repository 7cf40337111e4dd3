/**
 * Install stage: flyctl through the runner's tool cache, the edge over release-assets.ts.
 *
 * Cache first: an exact version found in the tool cache is used without a single network request
 * (Fly's setup-flyctl asks api.fly.io before it looks). `latest` is resolved through Fly's release
 * endpoint, with GitHub's latest-release API as the fallback. A download comes from `flyctl-mirror`
 * or GitHub releases, is checked against the release's checksums file, extracted, cached under
 * `flyctl/<version>/<arch>`, given a `fly` alias beside `flyctl`, run once (`flyctl version`), and
 * put on PATH.
 */
import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { chmod, copyFile, cp, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as core from '@actions/core'
import { HttpClient } from '@actions/http-client'
import type { HttpClientResponse } from '@actions/http-client'
import * as tc from '@actions/tool-cache'
import { Flyctl } from '../fly/flyctl.js'
import { Redactor } from '../shared/redact.js'
import {
  DEFAULT_ENDPOINTS,
  STALE_STAGING_MS,
  TOOL_NAME,
  asidePath,
  checkDigest,
  checkMirror,
  describeFailure,
  flyLatestUrl,
  githubLatestUrl,
  parseChecksums,
  parseFlyLatest,
  parseGithubLatest,
  parseVersionOutput,
  parseVersionSpec,
  platformTarget,
  isDestinationTaken,
  isPrivateFolder,
  isTransient,
  releaseUrls,
  retryAfterMs,
  stagingPath,
  toolCachePath,
} from './release-assets.js'
import type { AttemptFailure, Endpoints, PlatformTarget } from './release-assets.js'
import { DEFAULT_BACKOFF, retry, type Backoff } from '../shared/retry.js'
import { info } from '../shared/runner-output.js'

export { PINNED_FLYCTL_VERSION } from './release-assets.js'

export interface InstallRequest {
  /** `latest`, `0.4.87` or `v0.4.87`; empty means the pinned version. */
  version: string
  /** Replaces https://github.com/superfly/flyctl/releases/download (the `flyctl-mirror` input). */
  mirror?: string
  platform?: NodeJS.Platform
  arch?: string
  /** Base URLs, overridable for tests; see DEFAULT_ENDPOINTS. */
  endpoints?: { flyReleases?: string; githubApi?: string; githubDownload?: string }
  log?: (line: string) => void
  /** Backoff of downloads and GitHub's API; tests shorten the delays. */
  retry?: Partial<Backoff>
  /** Job cancellation: ends the backoff between tries at once. */
  signal?: AbortSignal
  /** The runner's environment (RUNNER_TOOL_CACHE, RUNNER_TEMP; the base of flyctl's own), from main.ts. */
  env: NodeJS.ProcessEnv
  /** flyctl's config folder for its `version` runs (FLY_CONFIG_DIR; see FlyctlOptions.configDir). */
  configDir?: string
}

/** What a `flyctl version` check runs with: the runner's environment and flyctl's config folder. */
type VersionRun = Pick<InstallRequest, 'env' | 'configDir'>

export interface InstalledFlyctl {
  /** The exact version installed (what `latest` resolved to). */
  version: string
  /** Absolute path of the flyctl binary. */
  binary: string
  /** The tool-cache directory put on PATH; holds `flyctl` and `fly`. */
  dir: string
  fromCache: boolean
}

const USER_AGENT = 'openclaw-fly-deploy'
// An idle socket for this long counts as a transient failure (http-client's own default is 3 minutes).
const SOCKET_TIMEOUT_MS = 30_000
const VERSION_TIMEOUT_MS = 30_000

export async function installFlyctl(req: InstallRequest): Promise<InstalledFlyctl> {
  const log = req.log ?? info
  const spec = parseVersionSpec(req.version)
  const target = platformTarget(req.platform ?? process.platform, req.arch ?? process.arch)
  const endpoints: Endpoints = { ...DEFAULT_ENDPOINTS, ...definedOnly(req.endpoints) }
  const mirror = req.mirror?.trim() ? checkMirror(req.mirror.trim()) : undefined
  const backoff: Backoff = { ...DEFAULT_BACKOFF, ...definedOnly(req.retry) }
  requireEnv(req.env, 'RUNNER_TOOL_CACHE')
  const net = new Net(backoff, log, req.signal)

  const version = spec.kind === 'exact' ? spec.version : await resolveLatest(net, endpoints, target, log)

  const cached = tc.find(TOOL_NAME, version, target.toolArch)
  if (cached) {
    const installed = await useCached(cached, version, target, log, req)
    if (installed) {
      core.addPath(installed.dir)
      return installed
    }
  }

  requireEnv(req.env, 'RUNNER_TEMP')
  const downloadBase = mirror ?? endpoints.githubDownload
  const dir = await downloadAndCache(net, downloadBase, version, target, mirror !== undefined, log, req)
  const binary = join(dir, target.binary)
  core.addPath(dir)
  log(`flyctl ${version} installed in ${dir}; \`flyctl\` and \`fly\` are on PATH`)
  return { version, binary, dir, fromCache: false }
}

/**
 * A tool-cache hit, made whole: add `fly` when another installer cached flyctl without it, and run
 * it once. A cached binary that does not run is replaced by a fresh download rather than trusted.
 */
async function useCached(
  dir: string,
  version: string,
  target: PlatformTarget,
  log: (line: string) => void,
  runAs: VersionRun,
): Promise<InstalledFlyctl | undefined> {
  const binary = join(dir, target.binary)
  try {
    await ensureAlias(dir, target)
    // A copy this action verified and placed, unchanged since, needs no `flyctl version` run.
    if (!(await unchangedSinceVerified(dir, target, version))) await verifyBinary(binary, version, log, runAs)
  } catch (err) {
    log(`flyctl ${version} in the tool cache (${dir}) is unusable, downloading it again: ${(err as Error).message}`)
    return undefined
  }
  log(`flyctl ${version} found in the tool cache: ${dir}`)
  return { version, binary, dir, fromCache: true }
}

async function resolveLatest(
  net: Net,
  endpoints: Endpoints,
  target: PlatformTarget,
  log: (line: string) => void,
): Promise<string> {
  const flyUrl = flyLatestUrl(endpoints.flyReleases, target)
  let flyProblem: string
  try {
    // One try: GitHub is the retry.
    const body = await net.text(flyUrl, { accept: 'application/json' }, 1)
    const version = parseFlyLatest(body)
    if (version) {
      log(`flyctl latest is ${version} (${flyUrl})`)
      return version
    }
    flyProblem = `answered something that is not a stable release: ${JSON.stringify(body.slice(0, 120))}`
  } catch (err) {
    flyProblem = (err as Error).message
  }
  const githubUrl = githubLatestUrl(endpoints.githubApi)
  log(`Fly's release endpoint ${flyUrl} failed (${flyProblem}); asking GitHub: ${githubUrl}`)
  let githubProblem: string
  try {
    const body = await net.text(githubUrl, {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
    })
    const version = parseGithubLatest(body)
    if (version) {
      log(`flyctl latest is ${version} (${githubUrl})`)
      return version
    }
    githubProblem = `answered without a release tag: ${JSON.stringify(body.slice(0, 120))}`
  } catch (err) {
    githubProblem = (err as Error).message
  }
  throw new Error(
    `flyctl-version: could not resolve "latest". Fly's release endpoint: ${flyProblem}. GitHub: ${githubProblem}. ` +
      'Set flyctl-version to an exact version (for example 0.4.87) to install without asking.',
  )
}

async function downloadAndCache(
  net: Net,
  downloadBase: string,
  version: string,
  target: PlatformTarget,
  fromMirror: boolean,
  log: (line: string) => void,
  runAs: VersionRun,
): Promise<string> {
  const urls = releaseUrls(downloadBase, version, target)
  const work = join(requireEnv(runAs.env, 'RUNNER_TEMP'), `flyctl-${randomUUID()}`)
  await mkdir(work, { recursive: true })
  try {
    const archivePath = join(work, urls.asset)
    log(`Downloading flyctl ${version}: ${urls.archiveUrl}`)
    let actual: string
    try {
      actual = await net.download(urls.archiveUrl, archivePath)
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) {
        throw new Error(
          `flyctl ${version} for ${target.os}/${target.arch} was not found: ${urls.archiveUrl} answered 404. ` +
            (fromMirror
              ? 'Check flyctl-version, and that flyctl-mirror holds this release in the layout of GitHub releases.'
              : 'Check flyctl-version against https://github.com/superfly/flyctl/releases.'),
          { cause: err },
        )
      }
      throw err
    }

    const { checksums, url: checksumUrl } = await fetchChecksums(net, urls.checksumUrls, version)
    checkDigest({ asset: urls.asset, actual, checksums, checksumUrl })
    log(`sha256 ${actual} matches ${checksumUrl}`)

    const extracted = join(work, 'extracted')
    if (target.archive === 'zip') await tc.extractZip(archivePath, extracted)
    else await tc.extractTar(archivePath, extracted)
    const binary = join(extracted, target.binary)
    if (!(await isFile(binary))) {
      throw new Error(
        `${urls.asset} from ${urls.archiveUrl} holds no ${target.binary}; it is not a flyctl release archive.`,
      )
    }
    if (target.os !== 'Windows') await chmod(binary, 0o755)
    // The alias goes into the cached directory itself, so every later cache hit has it.
    await ensureAlias(extracted, target)
    // Verified before it enters the cache: a binary that does not run never reaches other runs.
    await verifyBinary(binary, version, log, runAs)
    return await placeInToolCache(extracted, version, target, log, runAs)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** goreleaser has called the file `checksums.txt` and `flyctl_<ver>_checksums.txt`; a 404 moves on to the next name. */
async function fetchChecksums(
  net: Net,
  candidates: Array<{ name: string; url: string }>,
  version: string,
): Promise<{ checksums: Map<string, string>; url: string }> {
  for (const { url } of candidates) {
    try {
      return { checksums: parseChecksums(await net.text(url)), url }
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) continue
      throw err
    }
  }
  throw new Error(
    `flyctl ${version} has no checksums file (404 at ${candidates.map((c) => c.url).join(' and ')}), ` +
      'so the download cannot be verified and was not installed. Check flyctl-version and flyctl-mirror.',
  )
}

/**
 * `fly` beside `flyctl`, as Fly's install.sh and Homebrew formula do: a symlink, or a copy on
 * Windows. Made under a private name and renamed over `fly` (atomic, and it replaces a dangling
 * link), so two runs adding it to the same cached folder at once both succeed.
 */
async function ensureAlias(dir: string, target: PlatformTarget): Promise<void> {
  const alias = join(dir, target.alias)
  if (await isFile(alias)) return
  const temporary = join(dir, `.${target.alias}-${randomUUID()}`)
  try {
    if (target.os === 'Windows') await copyFile(join(dir, target.binary), temporary)
    else await symlink(target.binary, temporary)
    await rename(temporary, alias)
  } finally {
    await rm(temporary, { force: true })
  }
}

/**
 * Put a verified flyctl folder into the tool cache so that no run ever sees it half-written.
 * @actions/tool-cache's `cacheDir` is not atomic (tool-cache.js `cacheDir` and `_createToolPath`):
 * it deletes `<tool>/<ver>/<arch>` and its `.complete`, copies item by item, then writes
 * `.complete`; a second run doing the same at once deletes files the first is copying or running,
 * and a third can find the marker beside a half-copied folder. Here the copy goes into a private
 * staging folder beside the destination and is renamed into place in one step, and only then is
 * `.complete` written. A run that loses the race uses the winner's copy once it runs.
 */
async function placeInToolCache(
  source: string,
  version: string,
  target: PlatformTarget,
  log: (line: string) => void,
  runAs: VersionRun,
): Promise<string> {
  const root = requireEnv(runAs.env, 'RUNNER_TOOL_CACHE')
  const dest = toolCachePath(root, version, target.toolArch)
  const id = randomUUID()
  const staging = stagingPath(dest, id)
  try {
    await mkdir(dirname(dest), { recursive: true })
  } catch (err) {
    throw toolCacheError(err, root, dirname(dest), version)
  }
  await sweepStaleFolders(dirname(dest))
  try {
    await cp(source, staging, { recursive: true, verbatimSymlinks: true })
    await markVerified(staging, target, version)
    if (!(await renameUnlessTaken(staging, dest))) {
      // The same bytes as the copy verified above need no second `flyctl version`.
      const binary = join(dest, target.binary)
      if ((await sameBytes(join(source, target.binary), binary)) || (await runsAsVersion(binary, version, runAs))) {
        log(`flyctl ${version} was put into the tool cache by another run meanwhile; using that copy`)
      } else {
        // An older installer's leftover: move it aside in one step, then put ours in its place.
        log(`the tool cache's ${dest} does not hold a working flyctl ${version}; replacing it`)
        await replaceBroken(staging, dest, asidePath(dest, id))
      }
    }
    await writeFile(`${dest}.complete`, '')
    return dest
  } catch (err) {
    throw toolCacheError(err, root, dest, version)
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

/**
 * The marker a verified copy carries into the tool cache: the version it reported and its
 * binary's size and modification time. A later run whose binary still matches uses it as is
 * (no call a run does not need); any other copy (another installer's, or one changed
 * since) runs `flyctl version` first, as before.
 */
const VERIFIED_MARKER = '.fly-deploy-verified.json'

async function markVerified(dir: string, target: PlatformTarget, version: string): Promise<void> {
  const info = await stat(join(dir, target.binary))
  await writeFile(join(dir, VERIFIED_MARKER), JSON.stringify({ version, size: info.size, mtimeMs: info.mtimeMs }))
}

async function unchangedSinceVerified(dir: string, target: PlatformTarget, version: string): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(dir, VERIFIED_MARKER), 'utf8')) as {
      version?: unknown
      size?: unknown
      mtimeMs?: unknown
    }
    const info = await stat(join(dir, target.binary))
    return marker.version === version && marker.size === info.size && marker.mtimeMs === info.mtimeMs
  } catch {
    return false
  }
}

/** rename(2), or false when a copy is already in place (see isDestinationTaken). */
async function renameUnlessTaken(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to)
    return true
  } catch (err) {
    if (isDestinationTaken((err as NodeJS.ErrnoException).code)) return false
    throw err
  }
}

/**
 * Swap a broken folder out for ours: moved aside in one step, ours renamed in. Another run doing
 * the same at once may move it first (ENOENT) or put its own copy in first (taken): both fine,
 * since every copy renamed into place was verified.
 */
async function replaceBroken(staging: string, dest: string, aside: string): Promise<void> {
  try {
    await rename(dest, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  try {
    await renameUnlessTaken(staging, dest)
  } finally {
    await rm(aside, { recursive: true, force: true })
  }
}

/** Compared by SHA-256, streamed: flyctl is some 80 MB. */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const digest = async (file: string): Promise<string> => {
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
    return hash.digest('hex')
  }
  try {
    const [x, y] = await Promise.all([digest(a), digest(b)])
    return x === y
  } catch {
    return false
  }
}

async function runsAsVersion(binary: string, version: string, runAs: VersionRun): Promise<boolean> {
  try {
    await verifyBinary(binary, version, () => {}, runAs)
    return true
  } catch {
    return false
  }
}

/** Staging folders of runs that were killed (SIGKILL leaves no `finally`) are removed after an hour. */
async function sweepStaleFolders(versionDir: string): Promise<void> {
  const now = Date.now()
  for (const name of await readdir(versionDir).catch(() => [] as string[])) {
    if (!isPrivateFolder(name)) continue
    const folder = join(versionDir, name)
    const age = now - ((await stat(folder).catch(() => undefined))?.mtimeMs ?? now)
    if (age > STALE_STAGING_MS) await rm(folder, { recursive: true, force: true })
  }
}

/** Run `flyctl version` once: the binary must start and report the version we asked for. */
async function verifyBinary(
  binary: string,
  version: string,
  log: (line: string) => void,
  { env, configDir }: VersionRun,
): Promise<void> {
  const flyctl = new Flyctl({ binary, token: '', redactor: new Redactor(), env, configDir })
  const result = await flyctl.run(['version'], { timeoutMs: VERSION_TIMEOUT_MS, retry: { safe: 'reading' } })
  const line = result.stdout.trim().split(/\r?\n/)[0] ?? ''
  const reported = parseVersionOutput(result.stdout)
  if (reported !== version) {
    throw new Error(
      `${binary} reports ${reported ? `v${reported}` : `no version ("${line}")`} but flyctl ${version} was expected; ` +
        'the release or the mirror serves a different build.',
    )
  }
  log(line)
}

// -----------------------------------------------------------------------------------------------
// HTTP with the retry loop of shared/retry.ts and the transient failures of release-assets.ts

class HttpStatusError extends Error {
  readonly url: string
  readonly status: number
  readonly retryAfter: string | undefined
  constructor(url: string, status: number, retryAfter: string | undefined, tries = 1) {
    super(`${url} answered HTTP ${status}${tries > 1 ? ` (${tries} tries)` : ''}`)
    this.name = 'HttpStatusError'
    this.url = url
    this.status = status
    this.retryAfter = retryAfter
  }
}

class Net {
  private readonly client = new HttpClient(USER_AGENT, [], {
    // The retries are ours: http-client's own would not back off on resets and timeouts.
    allowRetries: false,
    allowRedirects: true,
    maxRedirects: 10,
    socketTimeout: SOCKET_TIMEOUT_MS,
  })

  constructor(
    private readonly backoff: Backoff,
    private readonly log: (line: string) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** GET a small text body (checksums, API answers). */
  text(url: string, headers: Record<string, string> = {}, attempts?: number): Promise<string> {
    return this.withRetry(url, attempts, async () => {
      const response = await this.client.get(url, headers)
      await this.expectOk(url, response)
      return response.readBody()
    })
  }

  /** Stream a body into `dest`, hashing as it arrives; resolves to the SHA-256 hex digest. */
  download(url: string, dest: string): Promise<string> {
    return this.withRetry(url, undefined, async () => {
      const response = await this.client.get(url)
      await this.expectOk(url, response)
      const hash = createHash('sha256')
      let received = 0
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk)
          received += chunk.length
          done(null, chunk)
        },
      })
      await pipeline(response.message, tap, createWriteStream(dest))
      const expected = Number(response.message.headers['content-length'])
      if (Number.isFinite(expected) && received !== expected) {
        throw new Error(`${url}: body truncated (${received} of ${expected} bytes)`)
      }
      return hash.digest('hex')
    })
  }

  private async expectOk(url: string, response: HttpClientResponse): Promise<void> {
    const status = response.message.statusCode ?? 0
    if (status === 200) return
    // Read the body so that the socket is released.
    await response.readBody().catch(() => '')
    const retryAfter = response.message.headers['retry-after']
    throw new HttpStatusError(url, status, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
  }

  private async withRetry<T>(url: string, attempts: number | undefined, attempt: () => Promise<T>): Promise<T> {
    const backoff = attempts === undefined ? this.backoff : { ...this.backoff, attempts }
    let tries = 0
    try {
      return await retry(
        (n) => {
          tries = n
          return attempt()
        },
        {
          backoff,
          isRetryable: (err) => isTransient(toFailure(err)),
          retryAfterMs: (err) => retryAfterMs(toFailure(err), backoff.maxDelayMs),
          signals: [this.signal],
          onRetry: ({ error, attempt: n, delayMs }) =>
            this.log(
              `${url}: ${describeFailure(toFailure(error))}; retrying in ${(delayMs / 1000).toFixed(1)}s (try ${n + 1} of ${backoff.attempts})`,
            ),
        },
      )
    } catch (err) {
      if (err instanceof HttpStatusError) throw new HttpStatusError(url, err.status, err.retryAfter, tries)
      throw new Error(`${url}: ${describeFailure(toFailure(err))}${tries > 1 ? ` (${tries} tries)` : ''}`, {
        cause: err,
      })
    }
  }
}

function toFailure(err: unknown): AttemptFailure {
  if (err instanceof HttpStatusError) return { kind: 'status', status: err.status, retryAfter: err.retryAfter }
  const error = err as NodeJS.ErrnoException
  return { kind: 'network', code: error?.code, message: error?.message ?? String(err) }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

/** Errors of the file system that mean the job cannot write there (read-only, not ours, not a folder). */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EDQUOT'])

/** A failure to write the tool cache, naming RUNNER_TOOL_CACHE and the fix rather than a bare errno. */
export function toolCacheError(err: unknown, root: string, where: string, version: string): Error {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  const head = `could not put flyctl ${version} into the tool cache (RUNNER_TOOL_CACHE=${root}) at ${where}`
  if (!UNWRITABLE.has(code)) return new Error(`${head}: ${(err as Error).message}`, { cause: err })
  const why =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'its disk is full'
      : `this job cannot write there (${code}: read-only, another user's, or not a folder)`
  return new Error(
    `${head}: ${why}. Fix: on a self-hosted runner, make RUNNER_TOOL_CACHE a folder the runner's user owns and can write; ` +
      'or give the job `env: RUNNER_TOOL_CACHE: ${{ runner.temp }}/tool-cache` (flyctl is then downloaded once per job)',
    { cause: err },
  )
}

function requireEnv(env: NodeJS.ProcessEnv, name: 'RUNNER_TOOL_CACHE' | 'RUNNER_TEMP'): string {
  const value = env[name]
  if (!value) {
    throw new Error(`${name} is not set: the install stage runs inside a GitHub Actions job (the runner sets it).`)
  }
  return value
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {}
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>
}
