/**
 * A loopback stand-in for where flyctl comes from: GitHub's release downloads
 * (`/v<ver>/flyctl_<ver>_<OS>_<Arch>.tar.gz`, `.zip` for Windows, and the checksums file), the same
 * layout under `/mirror` (for `flyctl-mirror`), Fly's release endpoint
 * (`/app/flyctl_releases/<os>/<arch>/<channel>`, JSON or plain text) and GitHub's latest-release API
 * (`/repos/superfly/flyctl/releases/latest`). Every request is logged, and faults can be switched on.
 *
 * The archives hold a `flyctl` that is the project's stand-in: a `#!/bin/sh` launcher that pins
 * FLYCTL_STANDIN_VERSION to the archive's version and execs `<repo>/standin/bin/flyctl`. Where that
 * is not installed it still answers `version` the way flyctl does, so the install stage can be
 * tested on its own.
 *
 * Self-contained (Node built-ins only) and erasable TypeScript, so Node 24 runs it directly.
 * Archives are written in-process (a minimal ustar + gzip, a minimal zip), byte for byte the same
 * on every run.
 */
import { createHash } from 'node:crypto'
import { existsSync, realpathSync } from 'node:fs'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { crc32, deflateRawSync, gzipSync } from 'node:zlib'

export type RouteKind = 'archive' | 'checksums' | 'fly' | 'github' | 'other'
export type ReleaseOs = 'Linux' | 'macOS' | 'Windows'
export type ReleaseArch = 'x86_64' | 'arm64'

export interface RequestRecord {
  method: string
  path: string
  kind: RouteKind
  /** True for requests under /mirror. */
  mirror: boolean
  accept: string | undefined
  /** 0 when the connection was reset instead of answered. */
  status: number
}

export interface Faults {
  /** The next `count` requests of `kind` ('any' by default) answer `status` (503 by default). */
  failNext?: { count: number; status?: number; kind?: RouteKind | 'any'; retryAfter?: string }
  /** The next `count` requests of `kind` have their connection destroyed without an answer. */
  resetNext?: { count: number; kind?: RouteKind | 'any' }
  /** These versions do not exist: archives and checksums 404, the endpoints never name them. */
  missingVersions?: string[]
  /** Serve archives with a flipped byte; the checksums file keeps the true digest. */
  corruptArchive?: boolean
  /** The checksums file lists a wrong digest for every archive. */
  wrongChecksum?: boolean
  /** The checksums file has no lines for these systems' archives (the others stay listed). */
  omitChecksumEntries?: ReleaseOs[]
  /** Which name the release's checksums file has. */
  checksumFile?: 'checksums.txt' | 'versioned' | 'none'
  /** Fly's endpoint: answer normally, 503, garbage, or a prerelease as "latest". */
  flyEndpoint?: 'ok' | 'error' | 'garbage' | 'prerelease'
  /** What Fly's endpoint calls latest (a stale one, say); the server's `latest` by default. */
  flyLatest?: string
  /** GitHub's API: answer normally or 503. */
  githubApi?: 'ok' | 'error'
}

export interface ReleaseServerOptions {
  /** The version both "latest" APIs name. */
  latest?: string
  /** What the launcher in each archive execs; `<repo>/standin/bin/flyctl` by default. */
  standinBinary?: string
}

export interface BuiltArchive {
  name: string
  bytes: Buffer
  sha256: string
}

export interface ReleaseServer {
  /** Base laid out like https://github.com/superfly/flyctl/releases/download. */
  url: string
  /** The same layout under /mirror, for the `flyctl-mirror` input. */
  mirrorUrl: string
  /** Replaces https://api.fly.io/app/flyctl_releases. */
  flyReleasesUrl: string
  /** Replaces https://api.github.com. */
  githubApiUrl: string
  latest: string
  /** What each archive's launcher execs. */
  standinBinary: string
  requests: RequestRecord[]
  setFault(faults: Faults): void
  resetFaults(): void
  clearRequests(): void
  archive(version: string, os: ReleaseOs, arch: ReleaseArch): BuiltArchive
  close(): Promise<void>
}

export const DEFAULT_LATEST = '0.4.90'

const ALL_TARGETS: Array<[ReleaseOs, ReleaseArch]> = [
  ['Linux', 'x86_64'],
  ['Linux', 'arm64'],
  ['macOS', 'x86_64'],
  ['macOS', 'arm64'],
  ['Windows', 'x86_64'],
  ['Windows', 'arm64'],
]

const VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/
// Fixed so that archives, and so checksums, are the same on every run.
const ARCHIVE_MTIME = Date.UTC(2026, 0, 15, 12, 0, 0) / 1000

export function repoRoot(): string {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  return existsSync(root) ? realpathSync(root) : root
}

export async function startReleaseServer(options: ReleaseServerOptions = {}): Promise<ReleaseServer> {
  const latest = options.latest ?? DEFAULT_LATEST
  const standinBinary = options.standinBinary ?? `${repoRoot()}/standin/bin/flyctl`
  const requests: RequestRecord[] = []
  const archives = new Map<string, BuiltArchive>()
  let faults: Faults = {}
  let base = ''

  const archive = (version: string, os: ReleaseOs, arch: ReleaseArch): BuiltArchive => {
    const key = `${version}|${os}|${arch}`
    let built = archives.get(key)
    if (!built) {
      built = buildArchive(version, os, arch, standinBinary)
      archives.set(key, built)
    }
    return built
  }

  const consume = (fault: { count: number; kind?: RouteKind | 'any' } | undefined, kind: RouteKind): boolean => {
    if (!fault || fault.count <= 0) return false
    if ((fault.kind ?? 'any') !== 'any' && fault.kind !== kind) return false
    fault.count -= 1
    return true
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    let path = decodeURIComponent(url.pathname)
    const mirror = path.startsWith('/mirror/')
    if (mirror) path = path.slice('/mirror'.length)
    const kind = routeKind(path)
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      kind,
      mirror,
      accept: req.headers.accept,
      status: 0,
    }
    requests.push(record)
    const send = (status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void => {
      record.status = status
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers })
      res.end(req.method === 'HEAD' ? undefined : body)
    }

    if (consume(faults.resetNext, kind)) {
      req.socket.destroy()
      return
    }
    if (faults.failNext && consume(faults.failNext, kind)) {
      const retryAfter = faults.failNext.retryAfter
      send(
        faults.failNext.status ?? 503,
        'Service Unavailable\n',
        'text/plain',
        retryAfter ? { 'retry-after': retryAfter } : {},
      )
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'method not allowed\n', 'text/plain')
      return
    }
    const missing = (version: string): boolean => (faults.missingVersions ?? []).includes(version)

    if (kind === 'archive' || kind === 'checksums') {
      const match = /^\/v([^/]+)\/([^/]+)$/.exec(path)
      const version = match?.[1] ?? ''
      const file = match?.[2] ?? ''
      if (!VERSION.test(version) || missing(version)) {
        send(404, 'Not Found', 'text/plain')
        return
      }
      if (kind === 'checksums') {
        const served = faults.checksumFile ?? 'checksums.txt'
        const name =
          served === 'versioned' ? `flyctl_${version}_checksums.txt` : served === 'checksums.txt' ? 'checksums.txt' : ''
        if (file !== name) {
          send(404, 'Not Found', 'text/plain')
          return
        }
        send(200, checksumsFile(version, archive, faults), 'text/plain; charset=utf-8')
        return
      }
      const asset = parseAssetName(file)
      if (!asset || asset.version !== version) {
        send(404, 'Not Found', 'text/plain')
        return
      }
      const built = archive(version, asset.os, asset.arch)
      send(200, faults.corruptArchive ? corrupt(built.bytes) : built.bytes, 'application/octet-stream')
      return
    }

    if (kind === 'fly') {
      // flyctl internal/update/update.go asks /app/flyctl_releases/<GOOS>/<GOARCH>/<channel>;
      // install.sh asks with `uname -s`/`uname -m`: accept both spellings.
      const match = /^\/app\/flyctl_releases\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path)
      const os = match ? endpointOs(match[1] ?? '') : undefined
      const arch = match ? endpointArch(match[2] ?? '') : undefined
      const channel = match?.[3] ?? ''
      const mode = faults.flyEndpoint ?? 'ok'
      if (mode === 'error') {
        send(503, '{"error":"service unavailable"}', 'application/json')
        return
      }
      if (mode === 'garbage') {
        send(200, '<html><body>upstream hiccup</body></html>', 'text/html')
        return
      }
      const version = channel === 'latest' ? (faults.flyLatest ?? latest) : channel.replace(/^v/, '')
      if (!os || !arch || !VERSION.test(version) || missing(version)) {
        send(404, '', 'text/plain')
        return
      }
      const downloadUrl = `${base}/v${version}/flyctl_${version}_${os}_${arch}.${os === 'Windows' ? 'zip' : 'tar.gz'}`
      if ((req.headers.accept ?? '').includes('application/json')) {
        const release = {
          version,
          prerelease: mode === 'prerelease',
          download_url: downloadUrl,
          timestamp: new Date(ARCHIVE_MTIME * 1000).toISOString(),
        }
        send(200, JSON.stringify(release), 'application/json')
      } else {
        send(200, downloadUrl, 'text/plain')
      }
      return
    }

    if (kind === 'github') {
      // GitHub's API refuses requests without a User-Agent.
      if (!req.headers['user-agent']) {
        send(
          403,
          '{"message":"Request forbidden by administrative rules. Please make sure your request has a User-Agent header"}',
          'application/json',
        )
        return
      }
      if ((faults.githubApi ?? 'ok') === 'error') {
        send(503, '{"message":"Service Unavailable"}', 'application/json')
        return
      }
      const release = {
        tag_name: `v${latest}`,
        name: `v${latest}`,
        draft: false,
        prerelease: false,
        html_url: `https://github.com/superfly/flyctl/releases/tag/v${latest}`,
        assets: ALL_TARGETS.map(([os, arch]) => ({
          name: archive(latest, os, arch).name,
          browser_download_url: `${base}/v${latest}/${archive(latest, os, arch).name}`,
        })),
      }
      send(200, JSON.stringify(release), 'application/json; charset=utf-8')
      return
    }

    send(404, 'Not Found', 'text/plain')
  }

  const sockets = new Set<Socket>()
  const server = createServer(handle)
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  base = `http://127.0.0.1:${port}`

  return {
    url: base,
    mirrorUrl: `${base}/mirror`,
    flyReleasesUrl: `${base}/app/flyctl_releases`,
    githubApiUrl: base,
    latest,
    standinBinary,
    requests,
    setFault(next: Faults): void {
      // Copy the counters so that a caller's object is not consumed behind its back.
      faults = {
        ...faults,
        ...next,
        failNext: next.failNext ? { ...next.failNext } : faults.failNext,
        resetNext: next.resetNext ? { ...next.resetNext } : faults.resetNext,
      }
    },
    resetFaults(): void {
      faults = {}
    },
    clearRequests(): void {
      requests.length = 0
    },
    archive,
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

function routeKind(path: string): RouteKind {
  if (path.startsWith('/app/flyctl_releases/')) return 'fly'
  if (path === '/repos/superfly/flyctl/releases/latest') return 'github'
  if (/^\/v[^/]+\/([^/]*checksums\.txt)$/.test(path)) return 'checksums'
  if (/^\/v[^/]+\/[^/]+$/.test(path)) return 'archive'
  return 'other'
}

function parseAssetName(file: string): { version: string; os: ReleaseOs; arch: ReleaseArch } | undefined {
  const match = /^flyctl_(.+)_(Linux|macOS|Windows)_(x86_64|arm64)\.(tar\.gz|zip)$/.exec(file)
  if (!match) return undefined
  const os = match[2] as ReleaseOs
  if ((os === 'Windows') !== (match[4] === 'zip')) return undefined
  return { version: match[1] ?? '', os, arch: match[3] as ReleaseArch }
}

function endpointOs(word: string): ReleaseOs | undefined {
  const lower = word.toLowerCase()
  if (lower === 'linux') return 'Linux'
  if (lower === 'darwin' || lower === 'macos') return 'macOS'
  if (lower === 'windows') return 'Windows'
  return undefined
}

function endpointArch(word: string): ReleaseArch | undefined {
  const lower = word.toLowerCase()
  if (lower === 'amd64' || lower === 'x86_64') return 'x86_64'
  if (lower === 'arm64' || lower === 'aarch64') return 'arm64'
  return undefined
}

function checksumsFile(
  version: string,
  archive: (version: string, os: ReleaseOs, arch: ReleaseArch) => BuiltArchive,
  faults: Faults,
): string {
  const lines: string[] = []
  for (const [os, arch] of ALL_TARGETS) {
    const built = archive(version, os, arch)
    if (faults.omitChecksumEntries?.includes(os)) continue
    const digest = faults.wrongChecksum ? createHash('sha256').update(`not ${built.name}`).digest('hex') : built.sha256
    lines.push(`${digest}  ${built.name}`)
  }
  return `${lines.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join('\n')}\n`
}

function corrupt(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes)
  const at = Math.floor(copy.length / 2)
  copy[at] = (copy[at] ?? 0) ^ 0xff
  return copy
}

// -----------------------------------------------------------------------------------------------
// Archives

const GOOS: Record<ReleaseOs, string> = { Linux: 'linux', macOS: 'darwin', Windows: 'windows' }
const GOARCH: Record<ReleaseArch, string> = { x86_64: 'amd64', arm64: 'arm64' }

export function buildArchive(version: string, os: ReleaseOs, arch: ReleaseArch, standinBinary: string): BuiltArchive {
  const script = launcherScript(version, `${GOOS[os]}/${GOARCH[arch]}`, standinBinary)
  const windows = os === 'Windows'
  const name = `flyctl_${version}_${os}_${arch}.${windows ? 'zip' : 'tar.gz'}`
  const bytes = windows
    ? zipArchive([{ name: 'flyctl.exe', data: Buffer.from(script), mode: 0o755 }])
    : gzipSync(tarArchive([{ name: 'flyctl', data: Buffer.from(script), mode: 0o755 }]))
  return { name, bytes, sha256: createHash('sha256').update(bytes).digest('hex') }
}

/**
 * The archive's `flyctl`: the stand-in under this archive's version, or, when the stand-in is
 * missing, flyctl's own `version` line (internal/buildinfo/buildinfo.go) and an error for the rest.
 */
export function launcherScript(version: string, platform: string, standinBinary: string): string {
  const quoted = `'${standinBinary.replace(/'/g, `'\\''`)}'`
  return [
    '#!/bin/sh',
    `# flyctl ${version} (${platform}) from standin/github/release-server.ts: the project's flyctl stand-in.`,
    `FLYCTL_STANDIN_VERSION='${version}'`,
    'export FLYCTL_STANDIN_VERSION',
    `standin=${quoted}`,
    'if [ -x "$standin" ]; then exec "$standin" "$@"; fi',
    'if [ "$1" = version ]; then',
    `  echo "flyctl v${version} ${platform} Commit: 5b6dac0 BuildDate: ${new Date(ARCHIVE_MTIME * 1000).toISOString().replace('.000Z', 'Z')}"`,
    '  exit 0',
    'fi',
    'echo "Error: the flyctl stand-in is not installed at $standin" >&2',
    'exit 1',
    '',
  ].join('\n')
}

interface ArchiveEntry {
  name: string
  data: Buffer
  mode: number
}

/** A POSIX ustar stream of regular files (what goreleaser's tar.gz holds). */
export function tarArchive(entries: ArchiveEntry[]): Buffer {
  const blocks: Buffer[] = []
  for (const entry of entries) {
    const header = Buffer.alloc(512)
    header.write(entry.name, 0, 100, 'utf8')
    writeOctal(header, entry.mode, 100, 8)
    writeOctal(header, 0, 108, 8)
    writeOctal(header, 0, 116, 8)
    writeOctal(header, entry.data.length, 124, 12)
    writeOctal(header, ARCHIVE_MTIME, 136, 12)
    header.fill(0x20, 148, 156)
    header.write('0', 156, 1, 'ascii')
    header.write('ustar\u0000', 257, 6, 'ascii')
    header.write('00', 263, 2, 'ascii')
    let sum = 0
    for (const byte of header) sum += byte
    writeOctal(header, sum, 148, 7)
    header[155] = 0x20
    blocks.push(header, entry.data, Buffer.alloc((512 - (entry.data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

function writeOctal(buffer: Buffer, value: number, offset: number, length: number): void {
  buffer.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii')
}

/** A zip of deflated files with Unix modes kept (so unzip restores the executable bit). */
export function zipArchive(entries: ArchiveEntry[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  const dosTime = 0
  const dosDate = ((2026 - 1980) << 9) | (1 << 5) | 15
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8')
    const compressed = deflateRawSync(entry.data)
    const crc = crc32(entry.data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0, 6)
    local.writeUInt16LE(8, 8)
    local.writeUInt16LE(dosTime, 10)
    local.writeUInt16LE(dosDate, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(compressed.length, 18)
    local.writeUInt32LE(entry.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE((3 << 8) | 20, 4) // made by Unix, so the external attributes carry the mode
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0, 8)
    central.writeUInt16LE(8, 10)
    central.writeUInt16LE(dosTime, 12)
    central.writeUInt16LE(dosDate, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(compressed.length, 20)
    central.writeUInt32LE(entry.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(((0o100000 | entry.mode) << 16) >>> 0, 38)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, compressed)
    centrals.push(central, name)
    offset += local.length + name.length + compressed.length
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}
