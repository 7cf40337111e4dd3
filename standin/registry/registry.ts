/**
 * A loopback stand-in for a container registry (Docker registry HTTP API v2, as the OCI
 * distribution spec and docker/distribution's token auth spec describe it), for resolving base
 * image tags in tests and the demo. Point a Dockerfile at it with `FROM 127.0.0.1:<port>/<repo>:<tag>`:
 * the action reaches loopback registries over plain http, every other one over https.
 *
 * - `GET /v2/`: 401 with `WWW-Authenticate: Bearer realm=...,service=...` without a token, 200 with one.
 * - `HEAD|GET /v2/<name>/manifests/<tag|digest>`: without a token 401 UNAUTHORIZED and the challenge
 *   with `scope="repository:<name>:pull"`; with one, the manifest (an OCI image index) with
 *   `Content-Type`, `Content-Length` and `Docker-Content-Digest` (the sha256 of its bytes; HEAD: no
 *   body). An unknown tag is 404 MANIFEST_UNKNOWN, an unknown repository 404 NAME_UNKNOWN.
 * - `GET /token?service=...&scope=repository:<name>:pull`: an anonymous token, `{token,
 *   access_token, expires_in, issued_at}`. For a private repository the token grants nothing (as
 *   Docker Hub answers anonymous callers), so the manifest request stays 401 UNAUTHORIZED.
 * - Faults: `error` answers 500 (UNKNOWN) to everything, `hang` never answers.
 *
 * Self-contained (Node built-ins only) and erasable TypeScript, so Node 24 runs it directly.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type RegistryFault = 'none' | 'error' | 'hang'

export interface RegistryStandin {
  /** `127.0.0.1:<port>`: the registry part of an image reference. */
  host: string
  /** Push a new manifest under `repo:tag` (the tag moves); returns its digest. */
  push(repo: string, tag: string): string
  /** Anonymous tokens grant nothing on this repository. */
  setPrivate(repo: string): void
  fault(mode: RegistryFault): void
  /** Every request, `METHOD path`, in order. */
  readonly requests: string[]
  close(): Promise<void>
}

const INDEX = 'application/vnd.oci.image.index.v1+json'
const SERVICE = 'standin-registry'

interface Manifest {
  body: Buffer
  digest: string
}

function newIndex(repo: string, tag: string): Manifest {
  const layer = `sha256:${randomBytes(32).toString('hex')}`
  const doc = {
    schemaVersion: 2,
    mediaType: INDEX,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: layer,
        size: 1_234,
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
    annotations: { 'org.opencontainers.image.ref.name': `${repo}:${tag}` },
  }
  const body = Buffer.from(JSON.stringify(doc))
  return { body, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` }
}

function errors(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  detail: unknown,
  head: boolean,
  extra: Record<string, string> = {},
): void {
  const body = JSON.stringify({ errors: [{ code, message, detail }] })
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Docker-Distribution-Api-Version': 'registry/2.0',
    ...extra,
  })
  res.end(head ? undefined : body)
}

export async function startRegistry(): Promise<RegistryStandin> {
  const repos = new Map<string, Map<string, Manifest>>()
  const privateRepos = new Set<string>()
  const tokens = new Map<string, Set<string>>()
  const requests: string[] = []
  const sockets = new Set<Socket>()
  let mode: RegistryFault = 'none'
  let host = ''

  const challenge = (scope?: string) =>
    `Bearer realm="http://${host}/token",service="${SERVICE}"${scope ? `,scope="${scope}"` : ''}`
  const grantOf = (req: IncomingMessage): Set<string> | undefined => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')
    return m ? tokens.get(m[1] as string) : undefined
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', `http://${host}`)
    requests.push(`${req.method} ${url.pathname}`)
    if (mode === 'hang') return
    const head = req.method === 'HEAD'
    if (mode === 'error') return errors(res, 500, 'UNKNOWN', 'unknown error', {}, head)
    if (url.pathname === '/token') return issueToken(url, res)
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (!grantOf(req))
        return errors(res, 401, 'UNAUTHORIZED', 'authentication required', null, head, {
          'WWW-Authenticate': challenge(),
        })
      res.writeHead(200, { 'Docker-Distribution-Api-Version': 'registry/2.0', 'Content-Type': 'application/json' })
      return void res.end(head ? undefined : '{}')
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname)
    if (!m || (req.method !== 'GET' && !head))
      return errors(res, 404, 'UNSUPPORTED', 'The operation is unsupported.', null, head)
    const [name, reference] = [m[1] as string, decodeURIComponent(m[2] as string)]
    const scope = `repository:${name}:pull`
    const grant = grantOf(req)
    if (!grant?.has(name)) {
      const detail = [{ Type: 'repository', Class: '', Name: name, Action: 'pull' }]
      return errors(res, 401, 'UNAUTHORIZED', 'authentication required', detail, head, {
        'WWW-Authenticate': challenge(scope),
      })
    }
    const tags = repos.get(name)
    if (!tags) return errors(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry', { name }, head)
    const manifest = tags.get(reference) ?? [...tags.values()].find((x) => x.digest === reference)
    if (!manifest) return errors(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', { Tag: reference }, head)
    res.writeHead(200, {
      'Content-Type': INDEX,
      'Content-Length': String(manifest.body.length),
      'Docker-Content-Digest': manifest.digest,
      'Docker-Distribution-Api-Version': 'registry/2.0',
      ETag: `"${manifest.digest}"`,
    })
    res.end(head ? undefined : manifest.body)
  }

  const issueToken = (url: URL, res: ServerResponse): void => {
    const scope = url.searchParams.get('scope') ?? ''
    const repo = /^repository:([^:]+):.*pull/.exec(scope)?.[1]
    const token = randomBytes(24).toString('base64url')
    // Anonymous: access to public repositories only; a private one gets a token that grants nothing.
    tokens.set(token, new Set(repo && !privateRepos.has(repo) ? [repo] : []))
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }))
  }

  const server = createServer(handle)
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    host,
    push(repo, tag) {
      const manifest = newIndex(repo, tag)
      const tags = repos.get(repo) ?? new Map<string, Manifest>()
      tags.set(tag, manifest)
      repos.set(repo, tags)
      return manifest.digest
    },
    setPrivate: (repo) => void privateRepos.add(repo),
    fault: (m) => {
      mode = m
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
