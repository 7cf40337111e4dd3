// The inputs of previews (docs/CONTRACT.md, "Previews"): `mode`, `secrets-prefix`, `github-token`, and the
// pull request read from GITHUB_EVENT_PATH (GitHub's `pull_request` webhook payload).
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError, describePlan, parseInputs, type InputKey } from '../../../src/inputs/parse-inputs.js'
import { parsePullRequestEvent } from '../../../src/inputs/preview-inputs.js'
import { Redactor } from '../../../src/shared/redact.js'

let workspace: string

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-inputs-'))
  fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM node:24\n')
})
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

/** A pull_request payload as GitHub sends it (trimmed to what matters). */
function prEvent(action: string, number: number, head = 'openclaw/gw'): string {
  return JSON.stringify({
    action,
    number,
    pull_request: {
      number,
      state: action === 'closed' ? 'closed' : 'open',
      head: { sha: 'a1b2c3d', repo: { full_name: head } },
      base: { repo: { full_name: 'openclaw/gw' } },
    },
    repository: { full_name: 'openclaw/gw' },
  })
}

function eventEnv(payload: string, eventName = 'pull_request'): NodeJS.ProcessEnv {
  const file = path.join(workspace, `event-${Math.random().toString(36).slice(2)}.json`)
  fs.writeFileSync(file, payload)
  return { GITHUB_EVENT_NAME: eventName, GITHUB_EVENT_PATH: file, GITHUB_REPOSITORY: 'openclaw/gw' }
}

function parse(inputs: Partial<Record<InputKey, string>>, env: NodeJS.ProcessEnv = {}) {
  const redactor = new Redactor()
  const plan = parseInputs({
    read: (name) => inputs[name] ?? '',
    env,
    redactor,
    workspace,
    runnerTemp: '/tmp/rt',
    pinnedFlyctlVersion: '0.4.87',
  })
  return { plan, redactor }
}

function problems(inputs: Partial<Record<InputKey, string>>, env: NodeJS.ProcessEnv = {}) {
  try {
    parse({ app: 'my-openclaw', 'api-token': 'tok-abcdef', ...inputs }, env)
  } catch (err) {
    expect(err).toBeInstanceOf(InputError)
    return (err as InputError).problems
  }
  throw new Error('expected the inputs to be refused')
}

const SECRETS = {
  OPENCLAW_GATEWAY_TOKEN: 'gw-tok-1234',
  ANTHROPIC_API_KEY: 'sk-ant-prod-1',
  DISCORD_BOT_TOKEN: 'discord-prod-token',
  TELEGRAM_BOT_TOKEN: 'telegram-prod-token',
  SLACK_BOT_TOKEN: 'slack-prod-token',
  PREVIEW_TELEGRAM_BOT_TOKEN: 'telegram-preview-token',
  PREVIEW_ANTHROPIC_API_KEY: 'sk-ant-preview-1',
  UNRELATED_THING: 'x-unrelated',
  github_token: 'ghs_never',
}

describe('mode and the preview defaults', () => {
  it('deploy is the default; no prefix; channel tokens pass the default secrets-include', () => {
    const { plan } = parse({ app: 'my-openclaw', 'api-token': 'tok', 'secrets-json': JSON.stringify(SECRETS) })
    expect(plan.mode).toBe('deploy')
    expect(plan.secretsPrefix).toBe('')
    expect([...plan.secrets.keys()].sort()).toEqual([
      'ANTHROPIC_API_KEY',
      'DISCORD_BOT_TOKEN',
      'OPENCLAW_GATEWAY_TOKEN',
      'SLACK_BOT_TOKEN',
      'TELEGRAM_BOT_TOKEN',
    ])
    expect(plan.pullRequest).toBeUndefined()
  })

  it('preview leaves channel tokens out by default and maps PREVIEW_<NAME> to <NAME>, winning over the plain name', () => {
    const { plan } = parse(
      { app: 'my-openclaw', 'api-token': 'tok', mode: 'preview', 'secrets-json': JSON.stringify(SECRETS) },
      eventEnv(prEvent('opened', 7)),
    )
    expect(plan.secretsPrefix).toBe('PREVIEW_')
    expect([...plan.secrets.keys()].sort()).toEqual([
      'ANTHROPIC_API_KEY',
      'OPENCLAW_GATEWAY_TOKEN',
      'TELEGRAM_BOT_TOKEN',
    ])
    expect(plan.secrets.get('TELEGRAM_BOT_TOKEN')).toBe('telegram-preview-token')
    expect(plan.secrets.get('ANTHROPIC_API_KEY')).toBe('sk-ant-preview-1')
    expect(Object.fromEntries(plan.secretsPrefixed)).toEqual({
      TELEGRAM_BOT_TOKEN: 'PREVIEW_TELEGRAM_BOT_TOKEN',
      ANTHROPIC_API_KEY: 'PREVIEW_ANTHROPIC_API_KEY',
    })
    expect(plan.pullRequest).toEqual({
      eventName: 'pull_request',
      action: 'opened',
      number: 7,
      repository: 'openclaw/gw',
      headSha: 'a1b2c3d',
    })
    expect(plan.repository).toBe('openclaw/gw')
  })

  it('an explicit secrets-include lets a preview take production channel tokens (the user opted in)', () => {
    const { plan } = parse(
      {
        app: 'my-openclaw',
        'api-token': 'tok',
        mode: 'preview',
        'secrets-include': 'OPENCLAW_*,SLACK_*',
        'secrets-json': JSON.stringify(SECRETS),
      },
      eventEnv(prEvent('synchronize', 7)),
    )
    expect([...plan.secrets.keys()].sort()).toEqual([
      'ANTHROPIC_API_KEY',
      'OPENCLAW_GATEWAY_TOKEN',
      'SLACK_BOT_TOKEN',
      'TELEGRAM_BOT_TOKEN',
    ])
  })

  it('secrets-prefix is generic: a fleet member takes TEAM_A_<NAME> over <NAME>, also outside secrets-include and from `secrets` lines', () => {
    const json = {
      OPENAI_API_KEY: 'sk-shared',
      TEAM_A_OPENAI_API_KEY: 'sk-team-a',
      TEAM_A_CUSTOM_NOTE: 'note-a',
      TEAM_B_OPENAI_API_KEY: 'sk-team-b',
      OPENCLAW_GATEWAY_TOKEN: 'gw-a',
    }
    const { plan } = parse({
      app: 'team-a-gw',
      'api-token': 'tok',
      'secrets-prefix': 'TEAM_A_',
      'secrets-json': JSON.stringify(json),
      secrets: 'TEAM_A_OPENCLAW_GATEWAY_TOKEN=gw-a-line\nOPENCLAW_GATEWAY_TOKEN=gw-plain-line',
    })
    expect(plan.mode).toBe('deploy')
    expect(Object.fromEntries(plan.secrets)).toEqual({
      OPENAI_API_KEY: 'sk-team-a',
      CUSTOM_NOTE: 'note-a',
      OPENCLAW_GATEWAY_TOKEN: 'gw-a-line',
    })
    expect(plan.secretSources.get('OPENCLAW_GATEWAY_TOKEN')).toBe('secrets')
    expect(plan.secretSources.get('OPENAI_API_KEY')).toBe('secrets-json')
  })

  it('github-token is masked, and the printable plan shows neither token', () => {
    const { plan, redactor } = parse(
      { app: 'my-openclaw', 'api-token': 'fly-tok-123', mode: 'cleanup-previews', 'github-token': 'ghs_abcdef123456' },
      { GITHUB_REPOSITORY: 'openclaw/gw' },
    )
    expect(plan.githubToken).toBe('ghs_abcdef123456')
    expect(redactor.redact('token ghs_abcdef123456')).toBe('token ***')
    const printable = JSON.stringify(describePlan(plan))
    expect(printable).not.toContain('ghs_abcdef123456')
    expect(printable).not.toContain('fly-tok-123')
    expect(plan.repository).toBe('openclaw/gw')
  })
})

describe('refused before anything reaches Fly, naming the input', () => {
  it('an unknown mode', () => {
    expect(problems({ mode: 'previews' })).toEqual([
      { input: 'mode', message: 'must be one of deploy, preview, cleanup-previews; got "previews"' },
    ])
  })

  it('preview on a push event names mode and the fix', () => {
    const [p] = problems({ mode: 'preview' }, eventEnv('{"ref":"refs/heads/main"}', 'push'))
    expect(p?.input).toBe('mode')
    expect(p?.message).toContain('this run is a `push` event')
    expect(p?.message).toContain('examples/preview.yml')
  })

  it('preview without an event file, or with a payload that has no pull request', () => {
    expect(problems({ mode: 'preview' }, { GITHUB_EVENT_NAME: 'pull_request' })[0]?.message).toContain('cannot be read')
    expect(problems({ mode: 'preview' }, eventEnv('{"action":"opened"}'))[0]?.message).toContain(
      'has no pull_request number',
    )
  })

  it('an empty Fly token on a fork pull request says why, naming api-token', () => {
    const found = problems({ mode: 'preview', 'api-token': '' }, eventEnv(prEvent('opened', 9, 'someone/gw')))
    expect(found.map((p) => p.input)).toEqual(['api-token', 'api-token', 'allow-fork-previews'])
    expect(found[1]?.message).toContain('comes from the fork someone/gw')
    expect(found[1]?.message).toContain('no repository secrets')
  })

  it('a preview name over 63 characters names app', () => {
    const app = `a${'b'.repeat(56)}c`
    const [p] = problems({ app, mode: 'preview' }, eventEnv(prEvent('opened', 1234)))
    expect(p?.input).toBe('app')
    expect(p?.message).toContain(`${app}-pr-1234 would be 66 characters`)
    expect(p?.message).toContain('at most 55 characters')
  })

  it('cleanup-previews without github-token', () => {
    const [p] = problems({ mode: 'cleanup-previews' }, { GITHUB_REPOSITORY: 'openclaw/gw' })
    expect(p?.input).toBe('github-token')
    expect(p?.message).toContain('github.token')
  })

  it('a prefix that cannot start a variable name', () => {
    expect(problems({ 'secrets-prefix': 'TEAM-A_' })[0]).toMatchObject({ input: 'secrets-prefix' })
  })
})

describe('fork pull requests (allow-fork-previews)', () => {
  const FORK_SECRETS = {
    ...SECRETS,
    PREVIEW_OPENCLAW_GATEWAY_TOKEN: 'gw-preview-9876',
    PREVIEW_ANTHROPIC_API_KEY: 'sk-ant-preview-2',
    OPENAI_API_KEY: 'sk-openai-prod-4',
  }
  const target = (action = 'opened') => eventEnv(prEvent(action, 12, 'forker/gw'), 'pull_request_target')

  it('a preview of a fork is refused by default, naming allow-fork-previews and why', () => {
    const found = problems({ mode: 'preview', 'secrets-json': JSON.stringify(FORK_SECRETS) }, target())
    expect(found.map((p) => p.input)).toEqual(['allow-fork-previews'])
    expect(found[0]?.message).toContain('comes from the fork forker/gw')
    expect(found[0]?.message).toContain("Dockerfile and openclaw.json would run on Fly with this repository's secrets")
    expect(found[0]?.message).toContain('`allow-fork-previews: true`')
  })

  it('a head that is not GITHUB_REPOSITORY is a fork too, even when the payload names it as the base', () => {
    const env = {
      ...eventEnv(prEvent('opened', 12, 'openclaw/gw'), 'pull_request_target'),
      GITHUB_REPOSITORY: 'openclaw/other',
    }
    expect(problems({ mode: 'preview' }, env).map((p) => p.input)).toEqual(['allow-fork-previews'])
  })

  it('with allow-fork-previews: true only prefixed secrets are synced; plain names are dropped with why', () => {
    const { plan } = parse(
      {
        app: 'my-openclaw',
        'api-token': 'tok-abcdef',
        mode: 'preview',
        'allow-fork-previews': 'true',
        'secrets-json': JSON.stringify(FORK_SECRETS),
      },
      target(),
    )
    expect([...plan.secrets.keys()].sort()).toEqual([
      'ANTHROPIC_API_KEY',
      'OPENCLAW_GATEWAY_TOKEN',
      'TELEGRAM_BOT_TOKEN',
    ])
    expect(plan.secrets.get('OPENCLAW_GATEWAY_TOKEN')).toBe('gw-preview-9876')
    expect(plan.secrets.get('ANTHROPIC_API_KEY')).toBe('sk-ant-preview-2')
    expect(plan.allowForkPreviews).toBe(true)
    const dropped = plan.secretsDropped?.filter((d) => d.why.includes('allow-fork-previews')).map((d) => d.name)
    expect(dropped).toEqual(['OPENAI_API_KEY'])
  })

  it('with allow-fork-previews: true a plain `secrets` line is dropped too', () => {
    const { plan } = parse(
      {
        app: 'my-openclaw',
        'api-token': 'tok-abcdef',
        mode: 'preview',
        'allow-fork-previews': 'true',
        secrets: 'OPENCLAW_GATEWAY_TOKEN=gw-prod-1\nPREVIEW_OPENAI_API_KEY=sk-prev-3',
      },
      target(),
    )
    expect([...plan.secrets.keys()]).toEqual(['OPENAI_API_KEY'])
    expect(plan.secretsDropped?.map((d) => d.name)).toEqual(['OPENCLAW_GATEWAY_TOKEN'])
  })

  it('closing a fork pull request needs no opt-in: it only destroys the preview', () => {
    const { plan } = parse({ app: 'my-openclaw', 'api-token': 'tok-abcdef', mode: 'preview' }, target('closed'))
    expect(plan.pullRequest?.fork).toBe('forker/gw')
  })

  it('a pull request from a branch of this repository is no fork', () => {
    const { plan } = parse(
      { app: 'my-openclaw', 'api-token': 'tok-abcdef', mode: 'preview', 'secrets-json': JSON.stringify(FORK_SECRETS) },
      eventEnv(prEvent('opened', 5)),
    )
    expect(plan.pullRequest?.fork).toBeUndefined()
    expect(plan.secrets.has('OPENAI_API_KEY')).toBe(true)
  })

  it('allow-fork-previews takes true or false only', () => {
    expect(problems({ 'allow-fork-previews': 'yes' })[0]).toMatchObject({ input: 'allow-fork-previews' })
  })
})

describe('parsePullRequestEvent', () => {
  it('reads pull_request_target and a deleted fork', () => {
    const payload = JSON.stringify({
      action: 'closed',
      pull_request: { number: 3, head: { repo: null }, base: { repo: { full_name: 'o/r' } } },
    })
    expect(parsePullRequestEvent('pull_request_target', payload)).toEqual({
      eventName: 'pull_request_target',
      action: 'closed',
      number: 3,
      repository: 'o/r',
      fork: null,
    })
  })
})
