/**
 * A container registry played in-process for the fingerprint's FROM digests (src/fingerprint/registry.ts):
 * a manifest HEAD answers `Docker-Content-Digest` for a known `repository:tag` and 404 otherwise, as
 * the distribution spec's "Pulling manifests" says. Unit tests of the run pass its `fetch` in
 * RunDeps.registry, so none of them depends on a real registry or the network.
 */
export interface FakeRegistry {
  fetch: typeof fetch
  /** Every request, as `METHOD url`. */
  requests: string[]
  /** `host/repository:tag` to the digest its manifest HEAD answers. */
  digests: Map<string, string>
}

export const OPENCLAW_2026_9_6_DIGEST = `sha256:${'6a'.repeat(32)}`

export function newFakeRegistry(
  digests: Record<string, string> = { 'ghcr.io/openclaw/openclaw:2026.9.6': OPENCLAW_2026_9_6_DIGEST },
): FakeRegistry {
  const registry: FakeRegistry = { requests: [], digests: new Map(Object.entries(digests)), fetch: undefined as never }
  registry.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    registry.requests.push(`${init?.method ?? 'GET'} ${url.href}`)
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname)
    const key = manifest ? `${url.host}/${manifest[1]}:${decodeURIComponent(manifest[2] as string)}` : ''
    const digest = registry.digests.get(key)
    if (!digest) return new Response('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', { status: 404 })
    return new Response(null, { status: 200, headers: { 'Docker-Content-Digest': digest } })
  }) as typeof fetch
  return registry
}
