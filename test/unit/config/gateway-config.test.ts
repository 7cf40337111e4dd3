import { describe, expect, it } from 'vitest'
import {
  GATEWAY_CONFIG_GUEST_PATH,
  checkGatewayConfig,
  findJson5KeyLine,
  parseGatewayConfig,
  type GatewayCheckContext,
} from '../../../src/config/gateway-config.js'
import { ConfigFileError } from '../../../src/config/toml-source.js'
import { fixture } from '../../support/render-fixtures.js'

const SOURCE = '/ws/openclaw.json5'
const parse = (text: string) => parseGatewayConfig({ sourcePath: SOURCE, localPath: '/tmp/r/openclaw.json', text })
const ctx = (over: Partial<GatewayCheckContext> = {}): GatewayCheckContext => ({
  app: 'my-claw',
  isPublic: true,
  commandBind: 'lan',
  commandPort: 3000,
  allowUnconfigured: true,
  knownNames: new Set(['OPENCLAW_GATEWAY_TOKEN']),
  mountDestination: '/data',
  ...over,
})
const rulesOf = (text: string, over: Partial<GatewayCheckContext> = {}) =>
  checkGatewayConfig(parse(text), ctx(over)).map((f) => `${f.level}:${f.rule}`)

describe('parseGatewayConfig', () => {
  it('reads JSON5 with comments, unquoted keys and trailing commas', () => {
    const parsed = parse(fixture('openclaw-json', 'public.json5'))
    expect(parsed.guestPath).toBe(GATEWAY_CONFIG_GUEST_PATH)
    expect(parsed.settings).toMatchObject({
      mode: 'local',
      bind: 'lan',
      port: 3000,
      authMode: 'token',
      allowedOrigins: ['https://my-claw.fly.dev'],
    })
    expect(parsed.lineOf('gateway.controlUi.allowedOrigins')).toBe(9)
    expect(parsed.lineOf('gateway.auth')).toBe(7)
  })

  it('reports invalid JSON5 with file, line and column', () => {
    let error: unknown
    try {
      parse(fixture('openclaw-json', 'invalid.json5'))
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigFileError)
    expect(error).toMatchObject({ file: SOURCE, line: 5, column: 17 })
    expect((error as Error).message).toMatch(/^\/ws\/openclaw\.json5:5:17: invalid JSON5: invalid character '\\?"'/)
  })

  it('refuses a file that is not one object', () => {
    expect(() => parse('[1, 2]')).toThrow(/must hold one object/)
  })

  it('findJson5KeyLine walks nested keys in order', () => {
    expect(findJson5KeyLine('{\n a: { port: 1 },\n gateway: {\n  "port": 2,\n }\n}', 'gateway.port')).toBe(4)
    expect(findJson5KeyLine('{}', 'gateway.port')).toBeUndefined()
  })
})

describe('checkGatewayConfig', () => {
  it('the public fixture passes', () => {
    expect(rulesOf(fixture('openclaw-json', 'public.json5'))).toEqual([])
  })

  it("the guide's openclaw.json on a public deployment: no allowedOrigins is an error only for 2026.2.26-2026.5", () => {
    const findings = checkGatewayConfig(parse(fixture('openclaw-json', 'guide.json')), ctx())
    expect(findings.map((f) => f.rule)).toEqual(['gateway-bind', 'control-ui-origins'])
    const origins = findings.find((f) => f.rule === 'control-ui-origins')
    // Release unknown: a warning, so the guide's own example deploys.
    expect(origins).toMatchObject({ level: 'warning', file: SOURCE, input: 'gateway-config', line: 41 })
    expect(origins?.message).toContain('allowedOrigins: ["https://my-claw.fly.dev"]')
    expect(origins?.message).toContain('the gateway release is unknown')
    const level = (version: string) =>
      checkGatewayConfig(
        parse(fixture('openclaw-json', 'guide.json')),
        ctx({ release: { version, source: 'image x' } }),
      ).find((f) => f.rule === 'control-ui-origins')?.level
    expect([level('2026.2.25'), level('2026.2.26'), level('2026.5.30'), level('2026.6.0'), level('2026.9.6')]).toEqual([
      'warning',
      'error',
      'error',
      'warning',
      'warning',
    ])
    // Not needed: private, loopback, Control UI off, or the host-header fallback chosen.
    expect(rulesOf('{ gateway: { mode: "local" } }', { isPublic: false })).toEqual([])
    expect(rulesOf('{ gateway: { mode: "local" } }', { commandBind: 'loopback' })).toEqual([])
    expect(rulesOf('{ gateway: { mode: "local", controlUi: { enabled: false } } }')).toEqual([])
    expect(
      rulesOf('{ gateway: { mode: "local", controlUi: { dangerouslyAllowHostHeaderOriginFallback: true } } }'),
    ).toEqual([])
  })

  const ok = 'controlUi: { allowedOrigins: ["https://my-claw.fly.dev"] }'

  it('gateway.mode: missing is fine with --allow-unconfigured, an error without; remote warns or errors', () => {
    expect(rulesOf(`{ gateway: { ${ok} } }`)).toEqual([])
    expect(rulesOf(`{ gateway: { ${ok} } }`, { allowUnconfigured: false })).toEqual(['error:gateway-mode'])
    expect(rulesOf(`{ gateway: { mode: "remote", ${ok} } }`)).toEqual(['warning:gateway-mode'])
    expect(rulesOf(`{ gateway: { mode: "remote", ${ok} } }`, { allowUnconfigured: false })).toEqual([
      'error:gateway-mode',
    ])
  })

  it('gateway.bind and gateway.port: invalid values are errors, disagreement with the command a warning', () => {
    expect(rulesOf(`{ gateway: { mode: "local", bind: "0.0.0.0", ${ok} } }`)).toEqual(['error:gateway-bind'])
    expect(rulesOf(`{ gateway: { mode: "local", bind: "auto", ${ok} } }`)).toEqual(['warning:gateway-bind'])
    expect(rulesOf(`{ gateway: { mode: "local", bind: "custom", ${ok} } }`, { commandBind: 'custom' })).toEqual([
      'error:gateway-bind',
    ])
    expect(rulesOf(`{ gateway: { mode: "local", port: "3000", ${ok} } }`)).toEqual(['error:gateway-port'])
    expect(rulesOf(`{ gateway: { mode: "local", port: 18789, ${ok} } }`)).toEqual(['warning:gateway-port'])
    expect(rulesOf(`{ gateway: { mode: "local", port: 3000, bind: "lan", ${ok} } }`)).toEqual([])
  })

  it('gateway.auth: none on a non-loopback bind, password without one, trusted-proxy without proxies; a literal token warns', () => {
    expect(rulesOf(`{ gateway: { mode: "local", auth: { mode: "none" }, ${ok} } }`)).toEqual(['error:gateway-auth'])
    expect(rulesOf(`{ gateway: { mode: "local", auth: { mode: "none" } } }`, { commandBind: 'loopback' })).toEqual([])
    expect(rulesOf(`{ gateway: { mode: "local", auth: { mode: "password" }, ${ok} } }`)).toEqual(['error:gateway-auth'])
    expect(
      rulesOf(`{ gateway: { mode: "local", auth: { mode: "password" }, ${ok} } }`, {
        knownNames: new Set(['OPENCLAW_GATEWAY_PASSWORD']),
      }),
    ).toEqual([])
    expect(rulesOf(`{ gateway: { mode: "local", auth: { mode: "trusted-proxy" }, ${ok} } }`)).toEqual([
      'error:gateway-auth',
    ])
    expect(
      rulesOf(`{ gateway: { mode: "local", auth: { mode: "trusted-proxy" }, trustedProxies: ["fdaa::/16"], ${ok} } }`),
    ).toEqual([])
    expect(rulesOf(`{ gateway: { mode: "local", auth: { mode: "sometimes" }, ${ok} } }`)).toEqual([
      'error:gateway-auth',
    ])
    const literal = checkGatewayConfig(
      parse(`{\n  gateway: {\n    mode: "local",\n    auth: { token: "abc123" },\n    ${ok},\n  },\n}`),
      ctx(),
    )
    expect(literal).toEqual([expect.objectContaining({ level: 'warning', rule: 'gateway-auth', line: 4 })])
    expect(literal[0]?.message).not.toContain('abc123')
    expect(rulesOf(`{ gateway: { mode: "local", auth: { token: "\${MISSING_TOKEN}" }, ${ok} } }`)).toEqual([
      'error:gateway-auth',
    ])
  })

  it('the delivered path must not be under the volume', () => {
    expect(rulesOf(`{ gateway: { mode: "local", ${ok} } }`, { mountDestination: '/etc' })).toEqual([
      'error:gateway-config-path',
    ])
    expect(rulesOf(`{ gateway: { mode: "local", ${ok} } }`, { mountDestination: '/etc/open' })).toEqual([])
  })
})

describe('JSON5 key positions come from a parser', () => {
  it('never lands on a comment or a string that names the key', () => {
    const text =
      '{\n  // gateway: { port: 1 } was here\n  note: "gateway: port:",\n  /* gateway: */ gateway: {\n    port: 3000,\n  },\n}'
    expect(findJson5KeyLine(text, 'gateway')).toBe(4)
    expect(findJson5KeyLine(text, 'gateway.port')).toBe(5)
  })
  it('falls back to the deepest key present, and to nothing for text that does not parse', () => {
    expect(findJson5KeyLine('{\n a: 1,\n "gateway": {\n }\n}', 'gateway.controlUi.allowedOrigins')).toBe(3)
    expect(findJson5KeyLine('{ oops', 'gateway')).toBeUndefined()
  })
})
