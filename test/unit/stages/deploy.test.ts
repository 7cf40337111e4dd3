import { describe, expect, it } from 'vitest'
import { buildDeployArgs, appUrl, formatGoDuration, notServing, readReleases } from '../../../src/stages/deploy.js'
import { MachineSchema, ReleaseListSchema } from '../../../src/fly/schemas.js'
import { makePlan } from '../../support/plan.js'
import { inProcessFlyctl, newFakeFly } from '../../support/fake-flyctl.js'
import { unhealthyMessage } from '../../../src/health/gate.js'

const rendered = { path: '/tmp/runner/fly-deploy/fly.toml' }

describe('formatGoDuration', () => {
  it('prints what Go time.Duration.String prints', () => {
    expect(formatGoDuration(300)).toBe('5m0s')
    expect(formatGoDuration(90)).toBe('1m30s')
    expect(formatGoDuration(45)).toBe('45s')
    expect(formatGoDuration(3600)).toBe('1h0m0s')
    expect(formatGoDuration(3725)).toBe('1h2m5s')
    expect(formatGoDuration(0)).toBe('0s')
  })
})

describe('buildDeployArgs', () => {
  it('deploys the working directory with the rendered config, one machine, no prompts', () => {
    expect(buildDeployArgs(makePlan(), rendered)).toEqual([
      'deploy',
      '/ws',
      '--config',
      rendered.path,
      '--app',
      'my-openclaw',
      '--wait-timeout',
      '5m0s',
      '--ha=false',
      '-y',
    ])
  })

  // The Dockerfile reaches flyctl as `[build] dockerfile` in the rendered config, relative from its
  // folder (flyctl joins that key to the config's directory: internal/command/deploy/deploy_build.go).
  it('passes the build args when building, and no --dockerfile', () => {
    const args = buildDeployArgs(
      makePlan({
        buildArgs: [
          ['NODE_VERSION', '24'],
          ['X', 'a=b'],
        ],
      }),
      rendered,
    )
    expect(args).not.toContain('--dockerfile')
    expect(args.join(' ')).toContain('--build-arg NODE_VERSION=24 --build-arg X=a=b')
    expect(args).not.toContain('--image')
  })

  it('uses --image instead of building when an image is given', () => {
    const args = buildDeployArgs(
      makePlan({ image: 'ghcr.io/openclaw/openclaw:2026.9.6', buildArgs: [['A', '1']] }),
      rendered,
    )
    expect(args.slice(args.indexOf('--image'), args.indexOf('--image') + 2)).toEqual([
      '--image',
      'ghcr.io/openclaw/openclaw:2026.9.6',
    ])
    expect(args).not.toContain('--build-arg')
    expect(args).not.toContain('--dockerfile')
  })

  it('a rollback redeploys the previous image with the same config', () => {
    const args = buildDeployArgs(makePlan({ buildArgs: [['A', '1']] }), rendered, {
      imageOverride: 'registry.fly.io/my-openclaw:deployment-01',
    })
    expect(args).toEqual(
      expect.arrayContaining(['--config', rendered.path, '--image', 'registry.fly.io/my-openclaw:deployment-01']),
    )
    expect(args).not.toContain('--build-arg')
  })

  it('adds strategy, private, wait-timeout from health-timeout, and user deploy-args last', () => {
    const args = buildDeployArgs(
      makePlan({
        strategy: 'immediate',
        private: true,
        healthTimeoutSec: 120,
        deployArgs: ['--remote-only', '--env', 'A=b c'],
      }),
      rendered,
    )
    expect(args).toEqual(
      expect.arrayContaining(['--strategy', 'immediate', '--no-public-ips', '--wait-timeout', '2m0s']),
    )
    expect(args.slice(-3)).toEqual(['--remote-only', '--env', 'A=b c'])
  })
})

describe('readReleases', () => {
  const releases = ReleaseListSchema.parse([
    { Version: 7, Status: 'complete', ImageRef: 'registry.fly.io/app:deployment-7' },
    { Version: 6, Status: 'failed', ImageRef: 'registry.fly.io/app:deployment-6' },
    { Version: 5, Status: 'complete', ImageRef: 'registry.fly.io/app:deployment-5' },
  ])
  it('reads the newest release and the previous one that did not fail', () => {
    expect(readReleases(releases)).toEqual({
      version: 7,
      imageRef: 'registry.fly.io/app:deployment-7',
      previousVersion: 5,
      previousImageRef: 'registry.fly.io/app:deployment-5',
    })
  })
  it('does not depend on the list order', () => {
    expect(readReleases([...releases].reverse())?.version).toBe(7)
  })
  it('has no previous image on a first release, and nothing for no releases', () => {
    expect(readReleases(releases.slice(0, 1))?.previousImageRef).toBeUndefined()
    expect(readReleases([])).toBeUndefined()
  })
})

describe('appUrl', () => {
  it('takes the URL flyctl printed, else the fly.dev default, and none when private', () => {
    expect(appUrl(makePlan(), 'x\nVisit your newly deployed app at https://custom.example/\n')).toBe(
      'https://custom.example/',
    )
    expect(appUrl(makePlan(), '')).toBe('https://my-openclaw.fly.dev/')
    expect(appUrl(makePlan({ private: true }), 'Visit your newly deployed app at https://my-openclaw.fly.dev/')).toBe(
      '',
    )
  })
})

describe('notServing: every app machine runs the new release', () => {
  // notServing reads nothing from Fly: the runner is there for its redaction.
  const flyctl = inProcessFlyctl(newFakeFly())
  const m = (id: string, version: string, image: string, group = 'app') =>
    MachineSchema.parse({
      id,
      state: 'started',
      config: { image, metadata: { fly_process_group: group, fly_release_version: version } },
    })
  const release = { version: 4, imageRef: 'registry.fly.io/a:deployment-4' }

  it('is silent when every app machine has the release and its image', () => {
    expect(
      notServing({ flyctl }, [m('a1', '4', release.imageRef), m('w1', '2', 'old', 'worker')], release),
    ).toBeUndefined()
  })

  it('names a machine left on an old release (a deploy that exited 0 without it)', () => {
    const outcome = notServing(
      { flyctl },
      [m('a1', '4', release.imageRef), m('a2', '3', 'registry.fly.io/a:deployment-3')],
      release,
    )
    expect(outcome?.verdict).toMatchObject({ health: 'unhealthy', cause: 'not-serving', machineId: 'a2' })
    const verdict = outcome?.verdict
    expect(
      verdict?.health === 'unhealthy' && unhealthyMessage({ ...outcome!, verdict }, (t) => flyctl.redact(t)),
    ).toMatch(
      /a machine still serves the old release on machine a2: `fly deploy` exited 0, but machine a2 \(release v3, image registry\.fly\.io\/a:deployment-3\) still serves an old release, not v4/,
    )
  })

  it('also a machine on the release number with another image', () => {
    expect(notServing({ flyctl }, [m('a1', '4', 'registry.fly.io/a:other')], release)?.verdict).toMatchObject({
      cause: 'not-serving',
      machineId: 'a1',
    })
  })
})
