import { describe, expect, it } from 'vitest'
import { releaseOfDockerfile, releaseOfImage, releaseOfPackageJson } from '../../../src/config/gateway-release.js'

/** The gateway release, from the image tag, the Dockerfile, or the openclaw repository. */
describe('finding the gateway release', () => {
  it('reads an openclaw image tag, and only an openclaw one', () => {
    expect(releaseOfImage('ghcr.io/openclaw/openclaw:2026.9.6')).toBe('2026.9.6')
    expect(releaseOfImage('registry:5000/openclaw:v2026.3.1-slim@sha256:abc')).toBe('2026.3.1')
    expect(releaseOfImage('node:24-slim')).toBeUndefined()
    expect(releaseOfImage('ghcr.io/openclaw/openclaw:latest')).toBeUndefined()
  })
  it('reads ARG OPENCLAW_VERSION before FROM, and expands ARGs in FROM', () => {
    expect(
      releaseOfDockerfile(
        'FROM node:24\nARG OPENCLAW_VERSION=2026.4.29\nRUN npm i -g openclaw@$OPENCLAW_VERSION\n',
        'Dockerfile',
      ),
    ).toEqual({
      version: '2026.4.29',
      source: 'Dockerfile:2 (ARG OPENCLAW_VERSION)',
    })
    expect(releaseOfDockerfile('ARG TAG=2026.9.6\nFROM ghcr.io/openclaw/openclaw:${TAG}\n', 'Dockerfile')).toEqual({
      version: '2026.9.6',
      source: 'Dockerfile:2 (FROM ghcr.io/openclaw/openclaw:2026.9.6)',
    })
    expect(releaseOfDockerfile('FROM node:24-slim\n', 'Dockerfile')).toBeUndefined()
  })
  it('reads package.json only when it is the openclaw repository', () => {
    expect(releaseOfPackageJson('{"name":"openclaw","version":"2026.5.2"}')).toBe('2026.5.2')
    expect(releaseOfPackageJson('{"name":"my-bot","version":"2026.5.2"}')).toBeUndefined()
  })
})
