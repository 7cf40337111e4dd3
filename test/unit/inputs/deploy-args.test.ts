import { describe, expect, it } from 'vitest'
import { parseDeployArgs } from '../../../src/inputs/deploy-args.js'
import { dropReason, envProblems, secretValueProblem, buildArgProblems } from '../../../src/inputs/secret-boundaries.js'
import { globToRegExp } from '../../../src/inputs/parse-inputs.js'

/** deploy-args read with pflag's rules (spf13/pflag flagset.go parseLongArg/parseShortArg). */
describe('deploy-args as flyctl parses them', () => {
  const refused = (text: string[]) => parseDeployArgs(text).problems
  it.each([
    [['-afoo'], '-a --app'],
    [['-ya', 'other'], '-a --app'],
    [['-cother.toml'], '-c --config'],
    [['-iregistry/foreign:1'], '-i --image'],
    [['-tFlyV1-secret'], '-t --access-token'],
    [['--vm-memory', '512'], '--vm-memory'],
    [['--app=other'], '--app'],
    [['--env', 'A=1'], '--env'],
    [['stray'], 'is not a flag'],
    [['--', '--remote-only'], 'is not a flag'],
    [['--bogus'], 'is not a `fly deploy` flag'],
    [['-yz'], '-z is not'],
  ])('%j is refused (%s)', (argv, says) => {
    const problems = refused(argv)
    expect(problems.join('\n')).toContain(says)
    expect(problems.join('\n')).toContain('Fix:')
    expect(problems.join('\n')).not.toContain('FlyV1-secret')
  })
  it('lets build and transport flags through, with their values', () => {
    const r = parseDeployArgs([
      '--remote-only',
      '--depot',
      '--no-cache',
      '--build-target',
      'prod',
      '--label=a=b',
      '--recreate-builder',
      '-y',
      '--ha',
    ])
    expect(r.problems).toEqual([])
    expect(r.flags.map((f) => f.name)).toEqual([
      'remote-only',
      'depot',
      'no-cache',
      'build-target',
      'label',
      'recreate-builder',
      'yes',
      'ha',
    ])
    expect(r.flags.find((f) => f.name === 'build-target')?.value).toBe('prod')
  })
})

describe('secret boundaries (docs/CONTRACT.md, "Secret boundaries")', () => {
  const include = ['OPENCLAW_*', 'FLY_*', 'ACTIONS_*', '*'].map(globToRegExp)
  it('never syncs the Fly token, GitHub tokens or ACTIONS_* names, whatever secrets-include says', () => {
    for (const name of ['FLY_API_TOKEN', 'FLY_ACCESS_TOKEN', 'github_token', 'GITHUB_TOKEN', 'ACTIONS_RUNTIME_TOKEN'])
      expect(dropReason(name, 'x', include, 'tok')).toMatch(/never synced/)
    expect(dropReason('MY_FLY', 'tok', include, 'tok')).toMatch(/Fly token/)
    expect(dropReason('openclaw_gateway_token', 'x', include, 'tok')).toMatch(/upper-case/)
    expect(dropReason('OPENCLAW_GATEWAY_TOKEN', 'x', include, 'tok')).toBeUndefined()
  })
  it('names what fly secrets import cannot carry, never the value', () => {
    expect(secretValueProblem('a"""b')).toMatch(/"""/)
    expect(secretValueProblem('a\0b')).toMatch(/NUL/)
    expect(secretValueProblem('a\rb')).toMatch(/carriage return/)
    expect(secretValueProblem('x'.repeat(65536))).toMatch(/64 KiB/)
    expect(secretValueProblem('fine\nmulti')).toBeUndefined()
  })
  it('keeps secrets out of [env] and build-args', () => {
    const view = {
      secrets: new Map([['ANTHROPIC_API_KEY', 'sk-ant-123456']]),
      apiToken: 'FlyV1 tok',
      include: ['OPENCLAW_*', 'ANTHROPIC_*'].map(globToRegExp),
    }
    expect(envProblems([['OPENCLAW_GATEWAY_TOKEN', 'x']], view).join()).toMatch(/is a secret name/)
    expect(envProblems([['OPENCLAW_STATE_DIR', '/data']], view)).toEqual([])
    expect(envProblems([['KEY', 'sk-ant-123456']], view).join()).toMatch(/value of the secret ANTHROPIC_API_KEY/)
    expect(buildArgProblems([['T', 'FlyV1 tok']], view).join()).toMatch(/`api-token`/)
    expect(JSON.stringify(envProblems([['KEY', 'sk-ant-123456']], view))).not.toContain('sk-ant-123456')
  })
})
