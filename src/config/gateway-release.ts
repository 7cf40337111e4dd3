import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Which OpenClaw gateway release a deploy ships, when the files say so: the `image` tag, the
 * Dockerfile's `ARG OPENCLAW_VERSION=<v>` or `FROM ...openclaw...:<v>`, or the workspace's
 * package.json when the workspace is the openclaw repository. Release-dependent rules (RELEASE_RULES)
 * are errors only for a release known to be affected, warnings otherwise.
 */

export interface GatewayRelease {
  version: string
  /** Where it was read, for the plan and the summary: `image ghcr.io/...:v`, `Dockerfile:3`, `package.json`. */
  source: string
}

const VERSION = /^v?(\d{4}\.\d{1,2}\.\d{1,2})(?:[-+.][0-9A-Za-z.-]*)?$/

/** The release of an openclaw image reference such as `ghcr.io/openclaw/openclaw:2026.9.6`. */
export function releaseOfImage(ref: string): string | undefined {
  const at = ref.split('@')[0] ?? ref
  const slash = at.lastIndexOf('/')
  const colon = at.lastIndexOf(':')
  if (colon <= slash || !/openclaw/i.test(at.slice(0, colon))) return undefined
  return VERSION.exec(at.slice(colon + 1))?.[1]
}

/** `ARG OPENCLAW_VERSION=<v>` wins (it is what the build installs), else an openclaw base image's tag. */
export function releaseOfDockerfile(text: string, file: string): GatewayRelease | undefined {
  const lines = text.split(/\r?\n/)
  const args = new Map<string, string>()
  let fromImage: GatewayRelease | undefined
  for (const [index, line] of lines.entries()) {
    const arg = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=["']?([^"'\s]+)["']?\s*$/i.exec(line)
    if (arg) {
      args.set(arg[1] as string, arg[2] as string)
      const version = arg[1] === 'OPENCLAW_VERSION' ? VERSION.exec(arg[2] as string)?.[1] : undefined
      if (version) return { version, source: `${file}:${index + 1} (ARG OPENCLAW_VERSION)` }
    }
    const from = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line)
    if (from && !fromImage) {
      const ref = (from[1] as string).replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (m, name: string) => args.get(name) ?? m,
      )
      const version = releaseOfImage(ref)
      if (version) fromImage = { version, source: `${file}:${index + 1} (FROM ${ref})` }
    }
  }
  return fromImage
}

/** The workspace's package.json, when it is the openclaw repository itself. */
export function releaseOfPackageJson(text: string): string | undefined {
  try {
    const pkg = JSON.parse(text) as { name?: unknown; version?: unknown }
    return pkg.name === 'openclaw' && typeof pkg.version === 'string' ? VERSION.exec(pkg.version)?.[1] : undefined
  } catch {
    return undefined
  }
}

export interface ReleaseSources {
  /** The image deployed (`image`, or `[build] image` of the config). */
  image?: string
  /** The Dockerfile built, when no image is. */
  dockerfile?: { path: string; shown: string }
  workingDirectory: string
}

/** Edge: reads the files named by `sources` and returns the first release found. */
export function findGatewayRelease(sources: ReleaseSources): GatewayRelease | undefined {
  if (sources.image) {
    const version = releaseOfImage(sources.image)
    return version ? { version, source: `image ${sources.image}` } : undefined
  }
  const read = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, 'utf8') : undefined)
  const dockerfile = sources.dockerfile && read(sources.dockerfile.path)
  const fromDockerfile =
    dockerfile !== undefined && sources.dockerfile
      ? releaseOfDockerfile(dockerfile, sources.dockerfile.shown)
      : undefined
  if (fromDockerfile) return fromDockerfile
  const pkg = read(join(sources.workingDirectory, 'package.json'))
  const version = pkg === undefined ? undefined : releaseOfPackageJson(pkg)
  return version ? { version, source: 'package.json (the openclaw repository)' } : undefined
}

// ---------------------------------------------------------------------------------------------
// Release-dependent rules

/** Compares `2026.2.26`-style versions numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

export interface ReleaseRule {
  /** The releases it concerns, in words (shown in every message). */
  concerns: string
  /** From (inclusive) and before (exclusive). */
  from: string
  before: string
}

export const RELEASE_RULES = {
  // openclaw issue #71823: a non-loopback bind without gateway.controlUi.allowedOrigins exits at start.
  'control-ui-origins': { concerns: '2026.2.26 to 2026.5.x', from: '2026.2.26', before: '2026.6.0' },
} satisfies Record<string, ReleaseRule>

/** 'error' when the release is known and inside the rule's range, else 'warning'. */
export function releaseLevel(rule: ReleaseRule, release: GatewayRelease | undefined): 'error' | 'warning' {
  if (!release) return 'warning'
  return compareVersions(release.version, rule.from) >= 0 && compareVersions(release.version, rule.before) < 0
    ? 'error'
    : 'warning'
}

/** How a message says which release was judged. */
export function describeRelease(release: GatewayRelease | undefined): string {
  return release
    ? `gateway release ${release.version} (from ${release.source})`
    : 'the gateway release is unknown (no openclaw image tag, Dockerfile FROM/ARG OPENCLAW_VERSION, or openclaw package.json)'
}

// ---------------------------------------------------------------------------------------------
// What a release serves and where it keeps its lock

/**
 * The gateway's own probes (the release's docs/gateway/health.md): `/healthz` since 2026.3.1,
 * `/startupz` since 2026.8.1. A release older than a path answers it with the Control UI page and
 * 200, so a check on the wrong path passes for any gateway: only the path the release serves is used.
 */
export const PROBE_RELEASES = { startupz: '2026.8.1', healthz: '2026.3.1' } as const

/**
 * The first release with the state-local lock tree (`<state-dir>/tmp/openclaw-<uid>/`): its
 * docs/gateway/gateway-lock.md ("Three layers", "State and config locks") first appears in
 * openclaw@2026.8.1; 2026.7.35 still documents the two-layer lock in the process temp dir. Such a
 * release reclaims a dead owner's lock by itself, and its guide says not to delete the tree while
 * an owner may run.
 */
export const STATE_LOCAL_LOCK_RELEASE = '2026.8.1'

export type GatewayProbe = { kind: 'http'; path: '/startupz' | '/healthz' } | { kind: 'tcp' }

/** The check the known release serves: /startupz, /healthz, else (older or unknown) a TCP connect. */
export function probeForRelease(release: Pick<GatewayRelease, 'version'> | undefined): GatewayProbe {
  if (release && compareVersions(release.version, PROBE_RELEASES.startupz) >= 0)
    return { kind: 'http', path: '/startupz' }
  if (release && compareVersions(release.version, PROBE_RELEASES.healthz) >= 0)
    return { kind: 'http', path: '/healthz' }
  return { kind: 'tcp' }
}

/** True for a known release that keeps its lock in the state-local tree (never deleted by the action). */
export function hasStateLocalLocks(version: string | undefined): boolean {
  return version !== undefined && compareVersions(version, STATE_LOCAL_LOCK_RELEASE) >= 0
}
