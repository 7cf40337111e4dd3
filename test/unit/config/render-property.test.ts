import TOML from '@iarna/toml'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { renderFlyConfig } from '../../../src/config/render.js'
import { quoteString, stringifyToml, type TomlTable } from '../../../src/config/toml-source.js'
import { makePlan, userToml } from '../../support/render-fixtures.js'

/** Any text a user can put in an input: every code point, biased towards the ones TOML must escape. */
const nasty = fc.string({
  unit: fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '"',
        "'",
        '\\',
        '\n',
        '\r',
        '\t',
        '\u0000',
        '\u001f',
        '\u007f',
        '\u2028',
        '"""',
        "'''",
        '#',
        '[',
        ']',
        '=',
        '\\u0041',
        'é',
        '😀',
        '\ufeff',
      ),
    },
    { weight: 5, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  ),
  maxLength: 40,
})
const envName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/)

describe('values come out of the TOML exactly as they went in', () => {
  it('env values and the command, over the guide', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(envName, nasty), { maxLength: 4 }), nasty, (env, command) => {
        const result = renderFlyConfig(makePlan({ env, command }))
        const parsed = TOML.parse(result.toml) as Record<string, any>
        const expectedEnv = {
          ...Object.fromEntries([
            ['NODE_ENV', 'production'],
            ['OPENCLAW_PREFER_PNPM', '1'],
            ['OPENCLAW_STATE_DIR', '/data'],
            ['NODE_OPTIONS', '--max-old-space-size=1536'],
          ]),
          ...Object.fromEntries(env),
        }
        expect(parsed.env).toEqual(expectedEnv)
        expect(parsed.processes).toEqual({ app: command })
        // Nothing leaked into other keys or tables.
        expect(Object.keys(parsed).sort()).toEqual([
          'app',
          'build',
          'checks',
          'env',
          'http_service',
          'mounts',
          'primary_region',
          'processes',
          'vm',
        ])
        expect(parsed.app).toBe('my-claw')
      }),
      { numRuns: 300 },
    )
  })

  it('env values over a user file, including keys that need quoting', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            nasty.filter((k) => k.length > 0),
            nasty,
          ),
          { maxLength: 3 },
        ),
        (env) => {
          const result = renderFlyConfig(makePlan({ env }), userToml('services-image.toml'))
          const parsed = TOML.parse(result.toml) as Record<string, any>
          for (const [name, value] of new Map(env))
            expect(Object.getOwnPropertyDescriptor(parsed.env, name)?.value).toBe(value)
          expect(parsed.services).toHaveLength(1)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('quoteString round-trips any string through @iarna/toml', () => {
    fc.assert(
      fc.property(nasty, (value) => {
        expect((TOML.parse(`v = ${quoteString(value)}`) as TomlTable).v).toBe(value)
      }),
      { numRuns: 500 },
    )
  })

  it('stringifyToml round-trips any parsed fly.toml-like document', () => {
    const scalar = fc.oneof(nasty, fc.integer(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }))
    // @iarna/toml drops a [table] whose name is an Object.prototype member (`[a.toString]`), a
    // parser bug of the test's reader, not of the writer: such names are left out here.
    const key = fc
      .oneof(
        fc.stringMatching(/^[a-z_]{1,8}$/),
        nasty.filter((k) => k.length > 0),
      )
      .filter((k) => !(k in Object.prototype) || k === '__proto__')
    const table = fc.dictionary(key, scalar, { maxKeys: 4 })
    const doc = fc.record({
      top: table,
      sub: fc.dictionary(key, table, { maxKeys: 3 }),
      list: fc.array(table, { minLength: 1, maxLength: 3 }),
    })
    fc.assert(
      fc.property(doc, (d) => {
        const input = { ...d.top, section: d.sub, many: d.list }
        const parsed = TOML.parse(stringifyToml(input))
        expect(JSON.parse(JSON.stringify(parsed))).toEqual(JSON.parse(JSON.stringify(input)))
      }),
      { numRuns: 300 },
    )
  })
})
