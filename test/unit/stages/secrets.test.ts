import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SecretListSchema } from '../../../src/fly/schemas.js'
import {
  formatSecretsImport,
  gatewayAuthProblem,
  parseSecretsLikeFlyctl,
  planSecrets,
  SecretFormatError,
} from '../../../src/stages/secrets.js'

const existing = (...names: string[]) =>
  SecretListSchema.parse(names.map((name) => ({ name, digest: 'd', status: 'Deployed' })))

function parsed(text: string): Map<string, string> {
  const result = parseSecretsLikeFlyctl(text)
  if (!result.ok) throw new Error(result.error)
  return result.secrets
}

describe('parseSecretsLikeFlyctl matches flyctl internal/command/secrets/parser_test.go', () => {
  it('skips comments and blank lines', () => {
    expect(parsed('\n# A comment plus a new line with spaces\n   \nFOO=BAR\n# Another comment\nQUX=NAH\n')).toEqual(
      new Map([
        ['FOO', 'BAR'],
        ['QUX', 'NAH'],
      ]),
    )
  })
  it('reads windows line endings', () => {
    expect(parsed('FOO=BAR\r\nQUX=NAH\r\n')).toEqual(
      new Map([
        ['FOO', 'BAR'],
        ['QUX', 'NAH'],
      ]),
    )
  })
  it('reads multi-line values', () => {
    const text =
      '\nFOO=BAR\nMULTILINE="""SOMETHING\nANOTHER LINE\n\nENDSHERE"""\nTRAILERENV=what\nFIN="""Here is the end,\nmy only friend"""\n'
    expect(Object.fromEntries(parsed(text))).toEqual({
      FOO: 'BAR',
      MULTILINE: 'SOMETHING\nANOTHER LINE\n\nENDSHERE',
      TRAILERENV: 'what',
      FIN: 'Here is the end,\nmy only friend',
    })
  })
  it('keeps commas, spaces, and strips quotes and trailing comments', () => {
    expect(parsed('FOO=BAR,BAZ').get('FOO')).toBe('BAR,BAZ')
    expect(parsed('FOO=BAR BAZ').get('FOO')).toBe('BAR BAZ')
    expect(parsed('FOO="BAR BAZ"').get('FOO')).toBe('BAR BAZ')
    expect(parsed('FOO = BAR').get('FOO')).toBe('BAR')
    expect(parsed('FOO="BAR BAZ" # comment').get('FOO')).toBe('BAR BAZ')
    expect(Object.fromEntries(parsed("FOO='BAR BAZ'\nKEY='value'"))).toEqual({ FOO: 'BAR BAZ', KEY: 'value' })
  })
  it('reads single-line triple quotes and their edge cases', () => {
    const text =
      'EMPTY=""""""\nSINGLE="""x"""\nWITHSPACES="""  spaces  """\nMIXED="""line1"""\nNORMAL=regular\nSPACED = """another"""'
    expect(Object.fromEntries(parsed(text))).toEqual({
      EMPTY: '',
      SINGLE: 'x',
      WITHSPACES: '  spaces  ',
      MIXED: 'line1',
      NORMAL: 'regular',
      SPACED: 'another',
    })
  })
  it('refuses a line without =', () => {
    expect(parseSecretsLikeFlyctl('JUSTANAME\n').ok).toBe(false)
  })
})

describe('formatSecretsImport', () => {
  it('writes plain values bare, one per line', () => {
    expect(
      formatSecretsImport([
        ['ANTHROPIC_API_KEY', 'sk-ant-abc'],
        ['EMPTY', ''],
      ]),
    ).toBe('ANTHROPIC_API_KEY=sk-ant-abc\nEMPTY=\n')
  })

  it('quotes the values flyctl would otherwise change', () => {
    const cases: Record<string, string> = {
      HASH: 'abc#def', // a bare # starts a comment
      LEADING: '  padded', // leading spaces are trimmed
      TRAILING_HASH: 'x # y  ',
      QUOTED: '"already quoted"', // outer quotes are stripped
      SINGLE: "'single'",
      LONE_QUOTE: '"', // Go would panic slicing this bare
      TRIPLE_START: '"""start',
      ODD_QUOTE_HASH: 'a"b#c',
      CR_END: 'value\r', // the scanner drops a CR before the newline
      UNICODE: 'päss wörd ✓',
    }
    const text = formatSecretsImport(Object.entries(cases))
    expect(Object.fromEntries(parsed(text))).toEqual(cases)
    expect(text).toContain('HASH="abc#def"\n')
    expect(text).toContain('LEADING="  padded"\n')
  })

  it('writes multi-line values in flyctl\'s """ form', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n\n-----END PRIVATE KEY-----\n'
    const text = formatSecretsImport([
      ['PEM', pem],
      ['NEXT', 'after'],
    ])
    expect(text).toBe(`PEM="""${pem}"""\nNEXT=after\n`)
    expect(Object.fromEntries(parsed(text))).toEqual({ PEM: pem, NEXT: 'after' })
  })

  it('refuses what cannot round-trip, naming the secret and never the value', () => {
    const refusals: Array<[string, string, RegExp]> = [
      ['MULTI_TRIPLE', 'line one\nhas """ inside', /"""/],
      ['CRLF', 'line one\r\nline two', /CRLF/],
      ['NUL', 'abc\0def', /NUL/],
      ['LONG', 'x'.repeat(70_000), /line limit/],
      ['FIRST_LINE', 'odd " then # comment\nsecond', /first line/],
    ]
    for (const [name, value, reason] of refusals) {
      let caught: unknown
      try {
        formatSecretsImport([
          ['OK', 'fine'],
          [name, value],
        ])
      } catch (err) {
        caught = err
      }
      expect(caught, name).toBeInstanceOf(SecretFormatError)
      const message = (caught as Error).message
      expect(message).toContain(name)
      expect(message).toMatch(reason)
      for (const part of value.split(/[\r\n\0]/).filter((p) => p.length > 3)) expect(message).not.toContain(part)
    }
  })

  it('refuses a name flyctl would read differently', () => {
    expect(() => formatSecretsImport([['BAD=NAME', 'v']])).toThrow(SecretFormatError)
    expect(() => formatSecretsImport([['# COMMENT', 'v']])).toThrow(SecretFormatError)
  })

  it('every value it accepts is read back unchanged by the flyctl parser (property)', () => {
    const chars = fc.constantFrom('a', 'Z', '0', ' ', '#', '"', "'", '=', '\n', '\r', '\\', '$', 'é', '\t', '`')
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.string({ unit: chars, maxLength: 24 })),
        (secrets) => {
          const entries = Object.entries(secrets)
          let text: string
          try {
            text = formatSecretsImport(entries)
          } catch (err) {
            expect(err).toBeInstanceOf(SecretFormatError)
            return
          }
          expect(Object.fromEntries(parsed(text))).toEqual(secrets)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('accepts every single-line value without NUL (property)', () => {
    const chars = fc.constantFrom('a', ' ', '#', '"', "'", '=', '\r', '\\')
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 16 }), (value) => {
        expect(Object.fromEntries(parsed(formatSecretsImport([['S', value]])))).toEqual({ S: value })
      }),
      { numRuns: 2000 },
    )
  })
})

describe('planSecrets', () => {
  it('adds new names, re-imports existing ones, leaves the rest alone without prune', () => {
    expect(planSecrets(['A', 'B'], existing('B', 'C'), false)).toEqual({
      add: ['A'],
      update: ['B'],
      prune: [],
      unchanged: ['C'],
    })
  })
  it('prunes only names outside the synced set, and only with prune', () => {
    expect(planSecrets(['A', 'B'], existing('B', 'C', 'D'), true)).toEqual({
      add: ['A'],
      update: ['B'],
      prune: ['C', 'D'],
      unchanged: [],
    })
  })
  it('never prunes a synced name nor anything without prune (property)', () => {
    const name = fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F')
    fc.assert(
      fc.property(fc.uniqueArray(name), fc.uniqueArray(name), fc.boolean(), (synced, onApp, prune) => {
        const plan = planSecrets(synced, existing(...onApp), prune)
        for (const n of plan.prune) {
          expect(synced).not.toContain(n)
          expect(onApp).toContain(n)
        }
        if (!prune) expect(plan.prune).toEqual([])
        expect([...plan.add, ...plan.update].sort()).toEqual([...synced].sort())
        expect([...plan.update, ...plan.prune, ...plan.unchanged].sort()).toEqual([...onApp].sort())
      }),
    )
  })
})

describe('gatewayAuthProblem (the contract: token among the synced secrets or already set on the app)', () => {
  it('accepts a synced token or password', () => {
    expect(gatewayAuthProblem(planSecrets(['OPENCLAW_GATEWAY_TOKEN'], [], false), true)).toBeUndefined()
    expect(gatewayAuthProblem(planSecrets(['OPENCLAW_GATEWAY_PASSWORD'], [], false), true)).toBeUndefined()
  })
  it('accepts a token already set on the app', () => {
    expect(
      gatewayAuthProblem(planSecrets(['ANTHROPIC_API_KEY'], existing('OPENCLAW_GATEWAY_TOKEN'), false), true),
    ).toBeUndefined()
  })
  it("refuses when no token is anywhere, with the guide's fix", () => {
    expect(gatewayAuthProblem(planSecrets(['ANTHROPIC_API_KEY'], [], false), true)).toMatch(
      /fly secrets set OPENCLAW_GATEWAY_TOKEN/,
    )
  })
  it('refuses when prune-secrets would remove the only token', () => {
    expect(
      gatewayAuthProblem(planSecrets(['ANTHROPIC_API_KEY'], existing('OPENCLAW_GATEWAY_TOKEN'), true), true),
    ).toMatch(/prune-secrets would remove it/)
  })
  it('does not apply to a loopback bind', () => {
    expect(gatewayAuthProblem(planSecrets([], [], false), false)).toBeUndefined()
  })
})
