import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError, describePlan, globToRegExp, parseInputs, type InputKey } from '../../../src/inputs/parse-inputs.js'
import { parseMemoryMb } from '../../../src/shared/units.js'
import { Redactor } from '../../../src/shared/redact.js'
import { splitShellWords } from '../../../src/shared/shell-words.js'

let workspace: string

beforeAll(() => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'inputs-'))
  fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM node:24\n')
  fs.writeFileSync(path.join(workspace, 'fly.toml'), 'app = "x"\n')
  fs.writeFileSync(path.join(workspace, 'openclaw.json'), '{}\n')
})
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

function parse(inputs: Partial<Record<InputKey, string>>, env: NodeJS.ProcessEnv = {}) {
  const redactor = new Redactor()
  const plan = parseInputs({
    read: (name) => inputs[name] ?? '',
    env,
    redactor,
    workspace,
    runnerTemp: '/tmp/runner-temp',
    pinnedFlyctlVersion: '0.4.87',
  })
  return { plan, redactor }
}

/** The problems of a bad run, as {input, message} pairs. */
function problems(inputs: Partial<Record<InputKey, string>>, env: NodeJS.ProcessEnv = {}) {
  try {
    parse({ app: 'my-openclaw', 'api-token': 'tok-abcdef', ...inputs }, env)
  } catch (err) {
    expect(err).toBeInstanceOf(InputError)
    return (err as InputError).problems
  }
  throw new Error('expected the inputs to be refused')
}

describe('parseInputs with good inputs', () => {
  it('applies the documented defaults and leaves config-overridable values unset', () => {
    const { plan } = parse({ app: 'my-openclaw', 'api-token': 'FlyV1 fm2_abc,fm2_def' })
    expect(plan).toMatchObject({
      app: 'my-openclaw',
      org: 'personal',
      create: true,
      private: false,
      volumeSizeGb: 1,
      pruneSecrets: false,
      healthTimeoutSec: 300,
      fixStaleLock: true,
      rollback: true,
      flyctlVersion: '0.4.87',
      dryRun: false,
      workingDirectory: workspace,
      dockerfile: path.join(workspace, 'Dockerfile'),
      deployArgs: [],
      buildArgs: [],
      env: [],
      healthChannels: [],
    })
    // Unset so that a `config` file keeps its own values; render applies the guide's defaults.
    for (const key of ['region', 'port', 'bind', 'command', 'vmSize', 'memoryMb', 'volume', 'stateDir'] as const) {
      expect(plan[key]).toBeUndefined()
    }
  })

  it('takes the token from FLY_API_TOKEN when the input is empty, and masks it', () => {
    const { plan, redactor } = parse({ app: 'my-openclaw' }, { FLY_API_TOKEN: 'env-token-123' })
    expect(plan.apiToken).toBe('env-token-123')
    expect(redactor.redact('token env-token-123 here')).toBe('token *** here')
  })

  it('parses every typed input', () => {
    const { plan } = parse({
      app: 'my-openclaw',
      'api-token': 'tok-abcdef',
      region: 'lhr',
      port: '8080',
      bind: 'loopback',
      private: 'TRUE',
      memory: '2gb',
      'machine-memory': '4096',
      'volume-size': '3',
      'state-dir': '/data',
      strategy: 'rolling',
      'deploy-args': `--remote-only --label 'a b' --build-target "c\\"d"`,
      'machine-command': 'node dist/index.js gateway --port 8080 --bind lan',
      'health-timeout': '60',
      'health-channels': 'discord, telegram\nslack',
      'health-url': 'https://example.com/healthz/',
      'flyctl-version': 'v0.4.90',
      'flyctl-mirror': 'http://127.0.0.1:9999/releases',
      env: '# comment\nFOO=bar=baz\n\nEMPTY=',
      'build-args': 'OPENCLAW_VERSION=2026.9.6',
      config: 'fly.toml',
      'gateway-config': 'openclaw.json',
    })
    expect(plan).toMatchObject({
      region: 'lhr',
      port: 8080,
      bind: 'loopback',
      private: true,
      memoryMb: 2048,
      machineMemoryMb: 4096,
      volumeSizeGb: 3,
      strategy: 'rolling',
      deployArgs: ['--remote-only', '--label', 'a b', '--build-target', 'c"d'],
      machineCommand: { argv: ['node', 'dist/index.js', 'gateway', '--port', '8080', '--bind', 'lan'] },
      healthTimeoutSec: 60,
      healthChannels: ['discord', 'telegram', 'slack'],
      healthUrl: 'https://example.com/healthz',
      flyctlVersion: '0.4.90',
      env: [
        ['FOO', 'bar=baz'],
        ['EMPTY', ''],
      ],
      buildArgs: [['OPENCLAW_VERSION', '2026.9.6']],
      config: path.join(workspace, 'fly.toml'),
      gatewayConfig: path.join(workspace, 'openclaw.json'),
    })
  })

  it('merges secrets lines (including multi-line values from the env) over secrets-json, masked', () => {
    const multi = '-----BEGIN KEY-----\nline-two-secret\n-----END KEY-----'
    const { plan, redactor } = parse(
      {
        app: 'my-openclaw',
        'api-token': 'tok-abcdef',
        secrets: 'OPENCLAW_GATEWAY_TOKEN=from-lines-1234\nSIGNAL_KEY',
        'secrets-json': JSON.stringify({
          github_token: 'ghs_never',
          OPENCLAW_GATEWAY_TOKEN: 'from-json-5678',
          ANTHROPIC_API_KEY: 'sk-ant-9999',
          UNRELATED_SECRET: 'dropped-0000',
        }),
      },
      { SIGNAL_KEY: multi },
    )
    expect([...plan.secrets.keys()].sort()).toEqual(['ANTHROPIC_API_KEY', 'OPENCLAW_GATEWAY_TOKEN', 'SIGNAL_KEY'])
    expect(plan.secrets.get('OPENCLAW_GATEWAY_TOKEN')).toBe('from-lines-1234')
    expect(plan.secrets.get('SIGNAL_KEY')).toBe(multi)
    expect(plan.secretSources.get('ANTHROPIC_API_KEY')).toBe('secrets-json')
    // Every value that was read is masked, including the ones that were dropped.
    for (const value of [
      'from-lines-1234',
      'from-json-5678',
      'sk-ant-9999',
      'ghs_never',
      'dropped-0000',
      'line-two-secret',
    ]) {
      expect(redactor.redact(`x ${value} y`)).toBe('x *** y')
    }
    const printable = JSON.stringify(describePlan(plan))
    for (const value of ['from-lines-1234', 'sk-ant-9999', 'tok-abcdef', 'line-two-secret'])
      expect(printable).not.toContain(value)
    expect(printable).toContain('ANTHROPIC_API_KEY')
  })

  it('selects secrets-json names with secrets-include globs', () => {
    const { plan } = parse({
      app: 'my-openclaw',
      'api-token': 'tok-abcdef',
      'secrets-json': JSON.stringify({ MY_A: 'aaaa', MY_B: 'bbbb', OTHER: 'cccc', OPENCLAW_X: 'dddd' }),
      'secrets-include': 'MY_?,\nOTHER',
    })
    expect([...plan.secrets.keys()].sort()).toEqual(['MY_A', 'MY_B', 'OTHER'])
  })
})

describe('secret values that must not reach the app, or would mask the log', () => {
  const token = 'FlyV1 fm2_lJPECAAAAAAAAmacaroonOne,fm2_lJPEAAAAAAAAmacaroonTwo'
  it('drops a secrets-json value that contains the Fly token, or one of its macaroons, naming it and never the value', () => {
    const { plan } = parse({
      app: 'my-openclaw',
      'api-token': token,
      'secrets-json': JSON.stringify({
        WRAPPED: `prefix-${token}-suffix`,
        ONE_PART: 'x fm2_lJPEAAAAAAAAmacaroonTwo y',
        OPENCLAW_GATEWAY_TOKEN: 'gw-token-1234',
      }),
      'secrets-include': '*',
    })
    expect([...plan.secrets.keys()]).toEqual(['OPENCLAW_GATEWAY_TOKEN'])
    expect(plan.secretsDropped).toEqual([
      { name: 'WRAPPED', why: expect.stringMatching(/contains the Fly token/) },
      { name: 'ONE_PART', why: expect.stringMatching(/contains the Fly token/) },
    ])
    expect(JSON.stringify(plan.secretsDropped)).not.toContain('macaroon')
  })

  it('refuses a secrets line whose value contains the Fly token, naming the secret only', () => {
    const found = problems({ 'api-token': token, secrets: `WRAPPED=prefix-${token}-suffix` })
    const text = new InputError(found).message
    expect(text).toMatch(/"WRAPPED" cannot be synced: its value contains the Fly token/)
    expect(text).not.toContain('macaroon')
  })

  it('warns by name about values under 4 characters, never quoting them', () => {
    const { plan } = parse({
      app: 'my-openclaw',
      'api-token': 'tok-abcdef',
      secrets: 'REGION=iad\nDEBUG=1\nLONG_ENOUGH=abcd',
    })
    expect(plan.secretWarnings).toHaveLength(2)
    expect(plan.secretWarnings?.[0]).toMatch(
      /^secret REGION has a value of 3 characters: the runner masks .* everywhere in the job's log/,
    )
    expect(plan.secretWarnings?.[1]).toMatch(/^secret DEBUG has a value of 1 character:/)
    expect(plan.secretWarnings?.join('\n')).not.toMatch(/iad|=1/)
  })
})

describe('parseInputs refuses bad inputs, naming the input and the fix', () => {
  const cases: Array<[string, Partial<Record<InputKey, string>>, InputKey, RegExp]> = [
    ['app name with capitals', { app: 'My_App' }, 'app', /not a Fly app name/],
    ['missing app', { app: '' }, 'app', /is required/],
    ['boolean spelled yes', { create: 'yes' }, 'create', /must be `true` or `false`, got "yes"/],
    ['boolean 1', { 'dry-run': '1' }, 'dry-run', /`true` or `false`/],
    ['port out of range', { port: '70000' }, 'port', /at most 65535/],
    ['port not a number', { port: '30a0' }, 'port', /whole number/],
    ['bind mode unknown', { bind: 'public' }, 'bind', /loopback, lan, tailnet, auto, custom/],
    ['memory without a number', { memory: 'lots' }, 'memory', /size like `2048mb`/],
    ['memory too small to be a VM', { memory: '128mb' }, 'memory', /between 256mb/],
    ['shared-cpu memory not a multiple of 256', { memory: '1000mb' }, 'memory', /multiple of 256 MB.*1024mb/],
    ['region code', { region: 'us-east' }, 'region', /region code/],
    ['volume name', { volume: 'openclaw-data' }, 'volume', /not a volume name/],
    ['state dir relative', { 'state-dir': 'data' }, 'state-dir', /absolute path/],
    ['env line without =', { env: 'FOO' }, 'env', /line 1: "FOO" has no `=VALUE`/],
    ['env duplicate', { env: 'A=1\nA=2' }, 'env', /line 2: "A" is set again \(first on line 1\)/],
    ['env bad name', { env: '1BAD=x' }, 'env', /not a valid variable name/],
    [
      'secrets bare name missing from env',
      { secrets: 'DISCORD_BOT_TOKEN' },
      'secrets',
      /not in the step's environment.*env: DISCORD_BOT_TOKEN/,
    ],
    ['secrets-json not JSON', { 'secrets-json': '{oops' }, 'secrets-json', /not valid JSON/],
    ['secrets-json an array', { 'secrets-json': '["a"]' }, 'secrets-json', /JSON object/],
    ['strategy unknown', { strategy: 'fast' }, 'strategy', /rolling, immediate, bluegreen, canary/],
    [
      'deploy-args with a shell operator',
      { 'deploy-args': '--remote-only; rm -rf /' },
      'deploy-args',
      /unquoted shell operator ";"/,
    ],
    [
      'deploy-args with an unterminated quote',
      { 'deploy-args': `--label 'oops` },
      'deploy-args',
      /unterminated single quote/,
    ],
    [
      'deploy-args that fights an input',
      { 'deploy-args': '--app other' },
      'deploy-args',
      /--app chooses the app, which `app` decides. Fix: remove it from deploy-args/,
    ],
    ['machine-command with command substitution', { 'machine-command': 'node $(whoami)' }, 'machine-command', /"\$\("/],
    ['health-timeout too long', { 'health-timeout': '99999' }, 'health-timeout', /at most 3600/],
    // The gate always runs: a health-timeout of 0 (which would skip it) is refused here.
    ['health-timeout 0', { 'health-timeout': '0' }, 'health-timeout', /at least 30/],
    ['health-url not http', { 'health-url': 'ftp://x' }, 'health-url', /http\(s\) URL/],
    [
      'health-url the cloud metadata service',
      { 'health-url': 'http://169.254.169.254/latest/meta-data/' },
      'health-url',
      /link-local or cloud metadata/,
    ],
    [
      'health-url the metadata service spelled in decimal',
      { 'health-url': 'http://2852039166/' },
      'health-url',
      /link-local or cloud metadata/,
    ],
    [
      'health-url an IPv6 link-local address',
      { 'health-url': 'http://[fe80::1]:8080/' },
      'health-url',
      /link-local or cloud metadata/,
    ],
    [
      'health-url the AWS IPv6 metadata address',
      { 'health-url': 'http://[fd00:ec2::254]/' },
      'health-url',
      /link-local or cloud metadata/,
    ],
    [
      'health-url the metadata service IPv4-mapped',
      { 'health-url': 'http://[::ffff:169.254.169.254]/' },
      'health-url',
      /link-local or cloud metadata/,
    ],
    [
      'health-url public on a private app',
      { private: 'true', 'health-url': 'https://my-openclaw.fly.dev/healthz' },
      'health-url',
      /releases the public IPs/,
    ],
    ['flyctl-version not a version', { 'flyctl-version': '0.4' }, 'flyctl-version', /exact version/],
    ['flyctl-mirror not a URL', { 'flyctl-mirror': 'mirror.local' }, 'flyctl-mirror', /http\(s\) URL/],
    ['config file missing', { config: 'nope.toml' }, 'config', /file "nope.toml" not found/],
    ['gateway-config missing', { 'gateway-config': 'cfg/openclaw.json' }, 'gateway-config', /not found/],
    [
      'image and dockerfile both',
      { image: 'ghcr.io/openclaw/openclaw:1', dockerfile: 'Dockerfile' },
      'image',
      /not both/,
    ],
    [
      'build-args with image',
      { image: 'ghcr.io/openclaw/openclaw:1', 'build-args': 'A=1' },
      'build-args',
      /no effect with `image`/,
    ],
    ['working directory missing', { 'working-directory': 'does/not/exist' }, 'working-directory', /not a directory/],
    [
      'env name also a secret',
      { env: 'OPENCLAW_GATEWAY_TOKEN=x', secrets: 'OPENCLAW_GATEWAY_TOKEN=abcdef' },
      'env',
      /also a synced secret/,
    ],
  ]
  for (const [title, inputs, input, message] of cases) {
    it(title, () => {
      const found = problems(inputs)
      expect(found.map((p) => p.input)).toContain(input)
      expect(found.find((p) => p.input === input)?.message).toMatch(message)
    })
  }

  it('refuses a missing token', () => {
    const found = problems({ 'api-token': '' })
    expect(found).toEqual([{ input: 'api-token', message: expect.stringMatching(/fly tokens create deploy/) }])
  })

  it('never shows the credentials of a URL, also one that does not parse', () => {
    for (const url of [
      'ftp://user:hunter2-pw@example.com/x',
      'https://user:hunter2-pw@exa mple.com/',
      'user:hunter2-pw@example.com',
    ]) {
      const found = problems({ 'health-url': url, 'flyctl-mirror': url })
      const text = new InputError(found).message
      expect(text).toMatch(/health-url/)
      expect(text).toMatch(/\*\*\*@/)
      expect(text).not.toContain('hunter2')
    }
  })

  it('accepts an ordinary public health-url', () => {
    expect(problems({ port: 'x', 'health-url': 'https://169.255.0.1/healthz' }).map((p) => p.input)).not.toContain(
      'health-url',
    )
    expect(problems({ port: 'x', 'health-url': 'https://[2a09:8280:1::1]/healthz' }).map((p) => p.input)).not.toContain(
      'health-url',
    )
  })

  it('reports every problem at once', () => {
    const found = problems({ port: 'x', bind: 'y', create: 'maybe' })
    expect(found.map((p) => p.input).sort()).toEqual(['bind', 'create', 'port'])
  })

  it('never shows a secret value in an error', () => {
    const secret = 'super-secret-value-42'
    const found = problems({
      secrets: `1BAD=${secret}\nGOOD=${secret}\nGOOD=${secret}`,
      'secrets-json': `{"A": "${secret}"`,
    })
    const text = new InputError(found).message
    expect(text).toMatch(/secrets/)
    expect(text).not.toContain(secret)
  })
})

describe('grammar helpers', () => {
  it('parses memory sizes', () => {
    expect(parseMemoryMb('2048mb')).toBe(2048)
    expect(parseMemoryMb('2gb')).toBe(2048)
    expect(parseMemoryMb('2GB')).toBe(2048)
    expect(parseMemoryMb('1.5gb')).toBe(1536)
    expect(parseMemoryMb('2048')).toBe(2048)
    expect(parseMemoryMb('two gb')).toBeUndefined()
    expect(parseMemoryMb('2 tb')).toBe(2 * 1024 * 1024)
  })

  it('splits words like a POSIX shell without expanding anything', () => {
    expect(splitShellWords(`a 'b c' "d \\"e\\" $HOME" f\\ g ''`)).toEqual(['a', 'b c', 'd "e" $HOME', 'f g', ''])
    expect(() => splitShellWords('a | b')).toThrow(/"\|"/)
    expect(splitShellWords(`'a | b'`)).toEqual(['a | b'])
  })

  it('matches globs on whole names', () => {
    expect(globToRegExp('OPENCLAW_*').test('OPENCLAW_GATEWAY_TOKEN')).toBe(true)
    expect(globToRegExp('OPENCLAW_*').test('X_OPENCLAW_A')).toBe(false)
    expect(globToRegExp('A?C').test('ABC')).toBe(true)
  })
})
