import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { hashBuildContext } from '../../../src/fingerprint/build-context.js'
import { decideSkip, type SkipInputs } from '../../../src/fingerprint/decide.js'
import { baseImages } from '../../../src/fingerprint/dockerfile.js'
import {
  computeFingerprint,
  FINGERPRINT_ENV,
  normalizeConfig,
  parseFingerprint,
  type FingerprintInputs,
} from '../../../src/fingerprint/fingerprint.js'
import { isLoopbackHost, parseImageRef } from '../../../src/fingerprint/image-ref.js'
import { parseBearerChallenge, resolveDigest } from '../../../src/fingerprint/registry.js'
import type { Machine } from '../../../src/fly/schemas.js'
import { startRegistry, type RegistryStandin } from '../../../standin/registry/registry.ts'

describe('baseImages', () => {
  it('expands global ARGs (a build arg wins), skips stages and scratch, joins continuations', () => {
    const text = [
      '# syntax=docker/dockerfile:1',
      'ARG TAG=24',
      'ARG REG',
      'FROM --platform=linux/amd64 node:${TAG}-slim AS build',
      'RUN echo hi \\',
      '  && echo there',
      'FROM build AS test',
      'FROM ${REG:-ghcr.io}/openclaw/openclaw:2026.9.6',
      'FROM scratch',
      'COPY --from=build /a /a',
    ].join('\n')
    expect(baseImages(text, new Map()).images.map((i) => i.ref)).toEqual([
      'node:24-slim',
      'ghcr.io/openclaw/openclaw:2026.9.6',
    ])
    expect(baseImages(text, new Map([['TAG', '22']])).images[0]).toEqual({ ref: 'node:22-slim', line: 4 })
  })

  it('an ARG without a value in FROM is a problem, not a guess', () => {
    const r = baseImages('ARG BASE\nFROM $BASE\n', new Map())
    expect(r.images).toEqual([])
    expect(r.problems[0]).toContain('line 2')
  })
})

describe('parseImageRef', () => {
  it('normalises the way docker does', () => {
    expect(parseImageRef('node:24')).toEqual({ domain: 'docker.io', repository: 'library/node', tag: '24' })
    expect(parseImageRef('ghcr.io/openclaw/openclaw')).toEqual({
      domain: 'ghcr.io',
      repository: 'openclaw/openclaw',
      tag: 'latest',
    })
    expect(parseImageRef('localhost:5000/a/b:1')).toMatchObject({
      domain: 'localhost:5000',
      repository: 'a/b',
      tag: '1',
    })
    expect(parseImageRef(`node@sha256:${'a'.repeat(64)}`)?.digest).toBe(`sha256:${'a'.repeat(64)}`)
    expect(parseImageRef('Bad/Name')).toBeUndefined()
  })
  it('only loopback hosts are plain http', () => {
    expect(isLoopbackHost('127.0.0.1:5000')).toBe(true)
    expect(isLoopbackHost('localhost')).toBe(true)
    expect(isLoopbackHost('[::1]:80')).toBe(true)
    expect(isLoopbackHost('127.example.com')).toBe(false)
    expect(isLoopbackHost('ghcr.io')).toBe(false)
  })
})

describe('resolveDigest against the registry stand-in', () => {
  let registry: RegistryStandin | undefined
  afterEach(async () => {
    await registry?.close()
    registry = undefined
  })

  it('follows 401 + WWW-Authenticate to an anonymous token and reads Docker-Content-Digest; a moved tag moves the digest', async () => {
    registry = await startRegistry()
    const digest = registry.push('team/base', '1')
    const ref = parseImageRef(`${registry.host}/team/base:1`)
    if (!ref) throw new Error('ref')
    expect(await resolveDigest(ref)).toBe(digest)
    expect(registry.requests).toEqual([
      'HEAD /v2/team/base/manifests/1',
      'GET /token',
      'HEAD /v2/team/base/manifests/1',
    ])
    const moved = registry.push('team/base', '1')
    expect(moved).not.toBe(digest)
    expect(await resolveDigest(ref)).toBe(moved)
  })

  it('says why a tag cannot be resolved: unknown tag, private repository, server error, no answer', async () => {
    registry = await startRegistry()
    registry.push('team/base', '1')
    const ref = (s: string) => {
      const r = parseImageRef(`${registry?.host}/${s}`)
      if (!r) throw new Error(s)
      return r
    }
    await expect(resolveDigest(ref('team/base:2'))).rejects.toThrow(/has no team\/base:2 \(404/)
    registry.setPrivate('team/base')
    await expect(resolveDigest(ref('team/base:1'))).rejects.toThrow(/needs credentials/)
    registry.fault('error')
    await expect(resolveDigest(ref('team/base:1'))).rejects.toThrow(/answered 500/)
    registry.fault('hang')
    await expect(resolveDigest(ref('team/base:1'), { timeoutMs: 200 })).rejects.toThrow(/did not answer within/)
  })

  it('parses a Bearer challenge', () => {
    expect(
      parseBearerChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull"',
      ),
    ).toEqual({
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/node:pull',
    })
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined()
  })
})

describe('hashBuildContext', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })
  const context = (files: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctx-'))
    dirs.push(dir)
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), text)
    }
    return dir
  }
  const digestOf = async (dir: string) =>
    (await hashBuildContext({ contextDir: dir, dockerfile: path.join(dir, 'Dockerfile') })).digest

  it('counts what .dockerignore leaves in, with its exceptions; the Dockerfile and .dockerignore always count', async () => {
    const files = {
      Dockerfile: 'FROM a\n',
      '.dockerignore': 'docs/\n*.log\n!keep.log\nDockerfile\n',
      'src/a.js': '1',
      'docs/x.md': 'a',
      'b.log': 'b',
      'keep.log': 'k',
    }
    const base = await digestOf(context(files))
    expect(await digestOf(context({ ...files, 'docs/x.md': 'changed', 'b.log': 'changed' }))).toBe(base)
    expect(await digestOf(context({ ...files, 'src/a.js': '2' }))).not.toBe(base)
    expect(await digestOf(context({ ...files, 'keep.log': 'changed' }))).not.toBe(base)
    expect(await digestOf(context({ ...files, Dockerfile: 'FROM b\n' }))).not.toBe(base)
  })

  it('without an ignore file only fly.toml is left out (flyctl archive.go), and .git is noted', async () => {
    const files = { Dockerfile: 'FROM a\n', 'fly.toml': 'app = "x"', '.git/HEAD': 'ref' }
    const r = await hashBuildContext({ contextDir: context(files), dockerfile: '/elsewhere/Dockerfile' })
    expect(r.includesGit).toBe(true)
    expect(await digestOf(context({ ...files, 'fly.toml': 'app = "y"' }))).toBe(await digestOf(context(files)))
  })
})

const SECRET = 'sk-ant-unit-7c1e0d9b3a'

function inputs(over: Partial<FingerprintInputs> = {}): FingerprintInputs {
  return {
    config: { app: 'a', env: { A: '1' } },
    secrets: new Map([['ANTHROPIC_API_KEY', SECRET]]),
    overrides: {},
    image: { image: 'ghcr.io/openclaw/openclaw:2026.9.6' },
    ...over,
  }
}

describe('the fingerprint', () => {
  it('is stable for one salt, tells which part changed, and never holds a secret value', () => {
    const a = computeFingerprint(inputs(), '0123456789abcdef')
    expect(computeFingerprint(inputs(), '0123456789abcdef').text).toBe(a.text)
    expect(parseFingerprint(a.text)).toEqual(a)
    expect(a.text).not.toContain(SECRET)
    expect(a.text).not.toContain(SECRET.slice(0, 8))
    const b = computeFingerprint(inputs({ secrets: new Map([['ANTHROPIC_API_KEY', `${SECRET}x`]]) }), a.salt)
    expect(Object.entries(b.parts).filter(([k, v]) => a.parts[k as keyof typeof a.parts] !== v)).toEqual([
      ['secrets', b.parts.secrets],
    ])
    // Another salt: another secrets digest for the same values.
    expect(computeFingerprint(inputs(), 'fedcba9876543210').parts.secrets).not.toBe(a.parts.secrets)
  })

  it('normalizeConfig drops the fingerprint and runner paths, and counts [[files]] by content', () => {
    const config = {
      env: { [FINGERPRINT_ENV]: 'v1;...', A: '1' },
      build: { dockerfile: '../../ws/Dockerfile' },
      files: [{ guest_path: '/g', local_path: '/tmp/run-1/x' }],
    }
    expect(normalizeConfig(config, () => 'abc')).toEqual({
      env: { A: '1' },
      build: {},
      files: [{ guest_path: '/g', local_sha256: 'abc' }],
    })
    expect(config.env[FINGERPRINT_ENV]).toBe('v1;...')
  })
})

describe('decideSkip', () => {
  const fp = computeFingerprint(inputs(), '0123456789abcdef')
  const machine = (
    over: Partial<Machine> = {},
    env: Record<string, string> = { [FINGERPRINT_ENV]: fp.text },
  ): Machine =>
    ({
      id: 'm1',
      name: '',
      state: 'started',
      region: 'iad',
      config: { image: 'img:1', env, metadata: { fly_release_version: '4', fly_process_group: 'app' } },
      checks: [{ name: 'gateway', status: 'passing', output: '' }],
      ...over,
    }) as Machine
  const base = (over: Partial<SkipInputs> = {}): SkipInputs => ({
    enabled: true,
    computed: { fingerprint: fp },
    machines: [machine()],
    secrets: [{ name: 'ANTHROPIC_API_KEY', digest: 'd', status: 'Deployed' }],
    synced: ['ANTHROPIC_API_KEY'],
    prune: false,
    drift: [],
    ...over,
  })

  it('skips only when all is equal and healthy', () => {
    expect(decideSkip(base())).toEqual({ skip: true, release: '4', image: 'img:1', machineIds: ['m1'] })
  })

  it('deploys on any change, doubt or unhealthy machine, with a notice for the doubts', () => {
    const changed = computeFingerprint(inputs({ overrides: { memoryMb: 4096 } }), fp.salt)
    expect(decideSkip(base({ computed: { fingerprint: changed } }))).toMatchObject({
      skip: false,
      notice: false,
      changed: ['overrides'],
    })
    expect(decideSkip(base({ enabled: false }))).toMatchObject({ skip: false, why: 'skip-unchanged is false' })
    expect(decideSkip(base({ computed: { doubt: 'the base image x could not be resolved' } }))).toMatchObject({
      skip: false,
      notice: true,
    })
    expect(decideSkip(base({ machines: [machine({ state: 'stopped' })] }))).toMatchObject({ skip: false, notice: true })
    expect(
      decideSkip(base({ machines: [machine({ checks: [{ name: 'gateway', status: 'critical', output: '' }] })] })),
    ).toMatchObject({
      skip: false,
      notice: true,
    })
    expect(decideSkip(base({ machines: [machine({}, {})] }))).toMatchObject({ skip: false, notice: false })
    expect(decideSkip(base({ machines: [] }))).toMatchObject({ skip: false })
    expect(decideSkip(base({ secrets: [{ name: 'ANTHROPIC_API_KEY', digest: 'd', status: 'Staged' }] }))).toMatchObject(
      { skip: false },
    )
    expect(decideSkip(base({ secrets: [] }))).toMatchObject({ skip: false })
    expect(
      decideSkip(base({ prune: true, secrets: [...base().secrets, { name: 'OLD', digest: 'e', status: 'Deployed' }] })),
    ).toMatchObject({ skip: false })
    expect(decideSkip(base({ drift: [{ machineId: 'm1', memoryMb: 4096 }] }))).toMatchObject({ skip: false })
  })
})
