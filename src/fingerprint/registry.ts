/**
 * The digest an image tag resolves to now, read from its registry with the Docker registry HTTP
 * API v2 (distribution spec, "Pulling manifests"; the token flow of docker/distribution's
 * docs/spec/auth/token.md): HEAD the manifest; on `401` with `WWW-Authenticate: Bearer realm=...,
 * service=...,scope=...` fetch an anonymous token from the realm and try once more; read
 * `Docker-Content-Digest` (or hash the body of a GET when a registry leaves that header out).
 *
 * A small client of its own rather than a library: the maintained npm clients bring their own
 * HTTP stacks and credential handling for what is two requests here, and this one needs exactly
 * the anonymous flow, a hard time bound and errors that say why a tag could not be resolved.
 */
import { createHash } from 'node:crypto'
import { isLoopbackHost, registryHost, type ImageRef } from './image-ref.js'

/** Manifest media types, index first: the digest of a multi-platform tag is its index's. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

export class RegistryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RegistryError'
  }
}

export interface ResolveOptions {
  fetch?: typeof fetch
  /** The whole resolution's bound (default 5 s): a registry that hangs is a doubt, not a wait. */
  timeoutMs?: number
  signal?: AbortSignal
}

export const DEFAULT_REGISTRY_TIMEOUT_MS = 5_000

/** `Bearer realm="...",service="...",scope="..."` into its parameters; undefined for another scheme. */
export function parseBearerChallenge(header: string | null): Record<string, string> | undefined {
  if (!header || !/^\s*bearer\s/i.test(header)) return undefined
  const params: Record<string, string> = {}
  for (const m of header.replace(/^\s*bearer\s+/i, '').matchAll(/([A-Za-z_]+)="([^"]*)"/g))
    params[(m[1] as string).toLowerCase()] = m[2] as string
  return params
}

export async function resolveDigest(ref: ImageRef, o: ResolveOptions = {}): Promise<string> {
  if (ref.digest) return ref.digest
  const doFetch = o.fetch ?? fetch
  const timeout = AbortSignal.timeout(o.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS)
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout
  const host = registryHost(ref)
  const base = `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`
  const url = `${base}/v2/${ref.repository}/manifests/${encodeURIComponent(ref.tag)}`
  try {
    let headers: Record<string, string> = { Accept: MANIFEST_ACCEPT }
    let response = await doFetch(url, { method: 'HEAD', headers, signal })
    if (response.status === 401) {
      const token = await anonymousToken(doFetch, response.headers.get('www-authenticate'), ref, signal)
      headers = { ...headers, Authorization: `Bearer ${token}` }
      response = await doFetch(url, { method: 'HEAD', headers, signal })
      if (response.status === 401 || response.status === 403)
        throw new RegistryError(
          `${host} needs credentials for ${ref.repository} (a private repository, or one that does not exist)`,
        )
    }
    if (response.status === 404)
      throw new RegistryError(`${host} has no ${ref.repository}:${ref.tag} (404, MANIFEST_UNKNOWN or NAME_UNKNOWN)`)
    if (!response.ok) throw new RegistryError(`${host} answered ${response.status} for ${ref.repository}:${ref.tag}`)
    const digest = response.headers.get('docker-content-digest')
    if (digest && /^sha256:[0-9a-f]{64}$/.test(digest)) return digest
    return await digestOfBody(doFetch, url, headers, signal)
  } catch (err) {
    if (err instanceof RegistryError) throw err
    if (timeout.aborted)
      throw new RegistryError(
        `${host} did not answer within ${Math.round((o.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS) / 1000)} s`,
      )
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    throw new RegistryError(`${host} could not be reached (${cause})`)
  }
}

/** A registry that sends no Docker-Content-Digest on HEAD: the digest is the manifest's sha256. */
async function digestOfBody(
  doFetch: typeof fetch,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  const response = await doFetch(url, { headers, signal })
  if (!response.ok)
    throw new RegistryError(`${new URL(url).host} answered ${response.status} to GET ${new URL(url).pathname}`)
  return `sha256:${createHash('sha256')
    .update(Buffer.from(await response.arrayBuffer()))
    .digest('hex')}`
}

async function anonymousToken(
  doFetch: typeof fetch,
  challenge: string | null,
  ref: ImageRef,
  signal: AbortSignal,
): Promise<string> {
  const params = parseBearerChallenge(challenge)
  const host = registryHost(ref)
  if (!params?.realm)
    throw new RegistryError(
      `${host} needs credentials for ${ref.repository} (it asks for ${challenge?.split(' ')[0] || 'an unknown'} authentication)`,
    )
  let realm: URL
  try {
    realm = new URL(params.realm)
  } catch {
    throw new RegistryError(`${host} named a token endpoint that is not a URL`)
  }
  // Plain http only for loopback: an anonymous token is harmless, but a downgrade is still refused.
  if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopbackHost(realm.host))) {
    throw new RegistryError(`${host} named a token endpoint over ${realm.protocol.replace(':', '')}, which is not used`)
  }
  if (params.service) realm.searchParams.set('service', params.service)
  realm.searchParams.set('scope', params.scope ?? `repository:${ref.repository}:pull`)
  const response = await doFetch(realm, { signal })
  if (!response.ok)
    throw new RegistryError(
      `${host}'s token endpoint answered ${response.status} for ${ref.repository}: it needs credentials`,
    )
  const body = (await response.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown }
  const token =
    typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : ''
  if (!token) throw new RegistryError(`${host}'s token endpoint gave no token for ${ref.repository}`)
  return token
}
