/**
 * A Docker image reference, normalised the way docker/distribution's reference package does
 * (`node:24` is `docker.io/library/node:24`; the first path part is a registry host only when it
 * has a `.` or a `:` or is `localhost`). Pure.
 */
export interface ImageRef {
  /** The registry host as written (`docker.io` for Docker Hub). */
  domain: string
  /** The repository path (`library/node`). */
  repository: string
  /** The tag (`latest` when none is given). */
  tag: string
  /** A pinned digest (`sha256:...`) when the reference carries one. */
  digest?: string
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/
const TAG = /^[\w][\w.-]{0,127}$/
const PATH_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

export function parseImageRef(ref: string): ImageRef | undefined {
  let rest = ref.trim()
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) return undefined
  }
  let tag = 'latest'
  const slash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > slash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) return undefined
  }
  const parts = rest.split('/')
  const first = parts[0] ?? ''
  let domain = 'docker.io'
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first
    parts.shift()
  }
  if (parts.length === 0 || !parts.every((p) => PATH_PART.test(p))) return undefined
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library')
  return { domain, repository: parts.join('/'), tag, ...(digest ? { digest } : {}) }
}

/** `docker.io` is served by `registry-1.docker.io` (distribution's default registry endpoint). */
export function registryHost(ref: ImageRef): string {
  return ref.domain === 'docker.io' || ref.domain === 'index.docker.io' ? 'registry-1.docker.io' : ref.domain
}

/** A loopback host: the only registries reached over plain http (the stand-in's, a local mirror). */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return name === 'localhost' || name === '::1' || /^127(?:\.\d{1,3}){3}$/.test(name)
}

export function formatImageRef(ref: ImageRef): string {
  return `${ref.domain}/${ref.repository}:${ref.tag}${ref.digest ? `@${ref.digest}` : ''}`
}
