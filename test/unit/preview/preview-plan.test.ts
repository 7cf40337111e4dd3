// The pure part of preview gateways (src/preview/preview-plan.ts): the plan a preview deploys with, the
// destroy decision, which apps cleanup considers, and the pull request comment.
import { describe, expect, it } from 'vitest'
import type { App, Machine } from '../../../src/fly/schemas.js'
import {
  commentBody,
  commentMarker,
  decideDestroy,
  previewCandidates,
  previewTarget,
} from '../../../src/preview/preview-plan.js'
import type { PullRequestRef } from '../../../src/inputs/plan.js'
import { makePlan } from '../../support/plan.js'

const PR: PullRequestRef = { eventName: 'pull_request', action: 'opened', number: 7, repository: 'openclaw/gw' }

const machine = (id: string, env: Record<string, string> | null, state = 'started'): Machine =>
  ({ id, name: id, state, region: 'iad', config: { env } }) as Machine

describe('previewTarget', () => {
  it('names the app, adds the marker, skips channels without a token and lists production tokens a preview would share', () => {
    const plan = makePlan({
      app: 'gw-main',
      env: [
        ['FOO', 'bar'],
        ['OPENCLAW_DEPLOY_PREVIEW', 'forged#1'],
      ],
      secrets: new Map([
        ['OPENCLAW_GATEWAY_TOKEN', 'x'],
        ['TELEGRAM_BOT_TOKEN', 'from-prefix'],
        ['SLACK_BOT_TOKEN', 'from-a-line'],
      ]),
      secretsPrefixed: new Map([['TELEGRAM_BOT_TOKEN', 'PREVIEW_TELEGRAM_BOT_TOKEN']]),
      healthChannels: ['discord', 'telegram', 'slack'],
      healthUrl: 'https://gw-main.fly.dev/healthz',
    })
    const t = previewTarget(plan, PR)
    expect(t.name).toBe('gw-main-pr-7')
    expect(t.marker).toBe('openclaw/gw#7')
    expect(t.plan.app).toBe('gw-main-pr-7')
    expect(t.plan.env).toEqual([
      ['FOO', 'bar'],
      ['OPENCLAW_DEPLOY_PREVIEW', 'openclaw/gw#7'],
    ])
    expect(t.plan.healthChannels).toEqual(['telegram', 'slack'])
    expect(t.skippedChannels).toEqual(['discord'])
    expect(t.sharedChannelTokens).toEqual(['SLACK_BOT_TOKEN'])
    expect(t.plan.healthUrl).toBe('https://gw-main-pr-7.fly.dev/healthz')
    expect(plan.app).toBe('gw-main')
  })
})

describe('decideDestroy', () => {
  const marker = 'openclaw/gw#7'
  it('destroys only when every live machine carries exactly this marker', () => {
    expect(
      decideDestroy('gw-pr-7', 'gw', marker, [
        machine('a', { OPENCLAW_DEPLOY_PREVIEW: marker }),
        machine('b', null, 'destroyed'),
      ]),
    ).toEqual({
      kind: 'destroy',
      machines: 1,
    })
    expect(decideDestroy('gw-pr-7', 'gw', marker, undefined)).toEqual({ kind: 'gone' })
  })

  it('refuses another marker, a missing marker, no machines, and anything not named <app>-pr-<N>', () => {
    const other = decideDestroy('gw-pr-7', 'gw', marker, [
      machine('a', { OPENCLAW_DEPLOY_PREVIEW: marker }),
      machine('b', { OPENCLAW_DEPLOY_PREVIEW: 'fork/gw#7' }),
    ])
    expect(other).toMatchObject({ kind: 'refuse' })
    expect(other.kind === 'refuse' && other.reason).toContain(
      'machine b carries OPENCLAW_DEPLOY_PREVIEW = "fork/gw#7", not "openclaw/gw#7"',
    )
    const none = decideDestroy('gw-pr-7', 'gw', marker, [machine('a', { NODE_ENV: 'production' })])
    expect(none.kind === 'refuse' && none.reason).toContain('carries no OPENCLAW_DEPLOY_PREVIEW')
    expect(decideDestroy('gw-pr-7', 'gw', marker, []).kind).toBe('refuse')
    // The base app is never destroyed, even carrying the marker.
    expect(decideDestroy('gw', 'gw', marker, [machine('a', { OPENCLAW_DEPLOY_PREVIEW: marker })]).kind).toBe('refuse')
  })
})

describe('previewCandidates', () => {
  it('keeps only <base>-pr-<N>', () => {
    const apps = ['gw', 'gw-pr-12', 'gw-pr-3', 'gw-pr-x', 'gw-pr-03', 'gw-prod', 'other-gw-pr-4', 'gw-pr-5-old'].map(
      (Name) => ({ Name }) as App,
    )
    expect(previewCandidates(apps, 'gw')).toEqual([
      { name: 'gw-pr-3', number: 3 },
      { name: 'gw-pr-12', number: 12 },
    ])
  })
})

describe('commentBody', () => {
  it('carries the hidden marker, the URL, release and health; an error in a fence; on close, destroyed', () => {
    const body = commentBody({
      app: 'gw-pr-7',
      outcome: 'failed',
      url: 'https://gw-pr-7.fly.dev/',
      release: 2,
      health: 'unhealthy',
      error: 'boom ```x```',
      sha: 'c0ffee1234567890',
      runUrl: 'https://github.com/o/r/actions/runs/9',
    })
    expect(body.startsWith(commentMarker('gw-pr-7'))).toBe(true)
    expect(body).toContain('| URL | https://gw-pr-7.fly.dev/ |')
    expect(body).toContain('| Release | v2 |')
    expect(body).toContain('| Health | unhealthy |')
    expect(body).toContain('| Commit | `c0ffee123456` |')
    expect(body).toContain("```text\nboom '''x'''\n```")
    expect(commentBody({ app: 'gw-pr-7', outcome: 'destroyed' })).toContain(
      'was destroyed with its machines and volume',
    )
  })
})
