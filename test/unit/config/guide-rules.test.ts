import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Plan } from '../../../src/inputs/plan.js'
import { renderFlyConfig } from '../../../src/config/render.js'
import { ValidationError, reportFindings, validateFlyConfig, type Finding } from '../../../src/config/guide-rules.js'
import { RUNNER_TEMP, WORKSPACE, fixture, makePlan, userToml } from '../../support/render-fixtures.js'

const TOKEN = new Set(['OPENCLAW_GATEWAY_TOKEN'])

function findingsFor(plan: Plan, opts: { file?: string; known?: Set<string>; gateway?: string } = {}): Finding[] {
  const gateway = opts.gateway
    ? {
        sourcePath: join(WORKSPACE, 'openclaw.json5'),
        localPath: join(RUNNER_TEMP, 'fly-deploy', plan.app, 'openclaw.json'),
        text: opts.gateway,
      }
    : undefined
  const result = renderFlyConfig(plan, opts.file ? userToml(opts.file) : undefined, gateway)
  return validateFlyConfig(result, plan, opts.known ?? TOKEN)
}

const rules = (findings: Finding[]) => findings.map((f) => `${f.level}:${f.rule}`).sort()

describe("validateFlyConfig: the guide's rules", () => {
  it('the guide defaults with a synced token pass every rule', () => {
    expect(findingsFor(makePlan())).toEqual([])
    expect(findingsFor(makePlan({ private: true }))).toEqual([])
  })

  it('non-loopback bind without OPENCLAW_GATEWAY_TOKEN: error naming the bind input and the fix', () => {
    const [finding, ...rest] = findingsFor(makePlan({ bind: 'lan' }), { known: new Set() })
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ level: 'error', rule: 'gateway-token', input: 'bind' })
    expect(finding?.message).toContain('fly secrets set OPENCLAW_GATEWAY_TOKEN=$(openssl rand -hex 32)')
  })

  it('token rule: satisfied by a password secret, by a secret already on the app, by auth in the gateway config; not needed on loopback', () => {
    expect(findingsFor(makePlan(), { known: new Set(['OPENCLAW_GATEWAY_PASSWORD']) })).toEqual([])
    expect(findingsFor(makePlan({ private: true, bind: 'loopback' }), { known: new Set() }).map((f) => f.rule)).toEqual(
      ['private-loopback'],
    )
    const withConfigToken = findingsFor(makePlan(), {
      known: new Set(),
      gateway:
        '{ gateway: { mode: "local", auth: { mode: "token", token: "${GW_TOKEN}" }, controlUi: { allowedOrigins: ["https://my-claw.fly.dev"] } } }',
    })
    expect(rules(withConfigToken)).toEqual(['error:gateway-auth', 'error:gateway-token'])
    const withKnownRef = findingsFor(makePlan(), {
      known: new Set(['GW_TOKEN']),
      gateway:
        '{ gateway: { mode: "local", auth: { mode: "token", token: "${GW_TOKEN}" }, controlUi: { allowedOrigins: ["https://my-claw.fly.dev"] } } }',
    })
    expect(withKnownRef).toEqual([])
  })

  it('a token in plain [env] passes the rule with a warning', () => {
    expect(rules(findingsFor(makePlan({ env: [['OPENCLAW_GATEWAY_TOKEN', 'abc']] }), { known: new Set() }))).toEqual([
      'warning:gateway-token-in-env',
    ])
  })

  it('internal_port different from --port: error pointing at the file and line', () => {
    const findings = findingsFor(makePlan(), { file: 'openclaw-fly.toml' })
    expect(findings).toEqual([
      expect.objectContaining({ level: 'error', rule: 'internal-port', file: join(WORKSPACE, 'fly.toml'), line: 26 }),
    ])
    expect(findings[0]?.message).toMatch(
      /internal_port is 8080 but the gateway listens on 3000 \(--port in the command\)/,
    )
    expect(findingsFor(makePlan({ port: 3000 }), { file: 'openclaw-fly.toml' })).toEqual([])
  })

  it('internal_port against a user command that sets no port: the gateway default 18789', () => {
    const findings = findingsFor(makePlan({ command: 'node dist/index.js gateway --allow-unconfigured --bind lan' }))
    expect(findings.find((f) => f.rule === 'internal-port')?.message).toContain(
      'listens on 18789 (the gateway default)',
    )
  })

  it('memory: below 1024 is an error, 1024 to 2047 a warning, 2048 passes', () => {
    expect(findingsFor(makePlan({ memoryMb: 512 })).find((f) => f.rule === 'memory')).toMatchObject({
      level: 'error',
      input: 'memory',
    })
    expect(findingsFor(makePlan({ memoryMb: 512 })).find((f) => f.rule === 'memory')?.message).toContain(
      '512MB is too small; 2GB recommended',
    )
    expect(rules(findingsFor(makePlan({ memoryMb: 1024 })))).toEqual(['warning:memory'])
    expect(rules(findingsFor(makePlan({ memoryMb: 2048 })))).toEqual([])
    // machine-memory wins, and the message names it.
    expect(
      findingsFor(makePlan({ memoryMb: 4096, machineMemoryMb: 768 })).find((f) => f.rule === 'memory'),
    ).toMatchObject({
      level: 'error',
      input: 'machine-memory',
    })
  })

  it("memory from the file: memory_mb = 512 wins over memory = '1gb' (openclaw's generated fly.toml)", () => {
    const findings = findingsFor(makePlan({ port: 8080 }), { file: 'openclaw-fly-generated.toml' })
    expect(findings.find((f) => f.rule === 'memory')).toMatchObject({
      level: 'error',
      file: join(WORKSPACE, 'fly.toml'),
      line: 23,
    })
    expect(rules(findings)).toEqual(['error:memory', 'warning:auto-stop'])
  })

  it('NODE_OPTIONS heap at or above the VM memory: error on the env entry', () => {
    const findings = findingsFor(makePlan({ env: [['NODE_OPTIONS', '--max-old-space-size=2048']] }))
    expect(findings).toEqual([expect.objectContaining({ level: 'error', rule: 'node-heap', input: 'env' })])
    expect(findingsFor(makePlan({ env: [['NODE_OPTIONS', '--max-old-space-size=2047']] }))).toEqual([])
    // The guide's heap is scaled with the memory input, so changing memory alone never trips it.
    expect(rules(findingsFor(makePlan({ memoryMb: 1024 })))).toEqual(['warning:memory'])
  })

  it('OPENCLAW_STATE_DIR outside the mount: "state not persisting"', () => {
    const findings = findingsFor(makePlan({ env: [['OPENCLAW_STATE_DIR', '/root/.openclaw']] }))
    expect(findings).toEqual([expect.objectContaining({ level: 'error', rule: 'state-dir', input: 'env' })])
    expect(findings[0]?.message).toContain('state not persisting')
    // A subdirectory of the mount is on the volume (openclaw's fly.private.toml uses /data/.openclaw).
    expect(findingsFor(makePlan({ private: true, bind: 'lan' }), { file: 'openclaw-fly.private.toml' })).toEqual([])
  })

  it("a public deployment binding loopback: error with the guide's fix; private loopback only warns", () => {
    const publicLoopback = findingsFor(makePlan({ bind: 'loopback' }))
    expect(publicLoopback).toEqual([
      expect.objectContaining({ level: 'error', rule: 'public-loopback', input: 'bind' }),
    ])
    expect(publicLoopback[0]?.message).toContain('app is not listening on the expected address')
    expect(publicLoopback[0]?.message).toContain('--bind lan')
    const noBind = findingsFor(makePlan({ command: 'node dist/index.js gateway --allow-unconfigured --port 3000' }))
    expect(noBind.find((f) => f.rule === 'public-loopback')).toMatchObject({ input: 'command' })
    expect(rules(findingsFor(makePlan({ private: true }), { file: 'openclaw-fly.private.toml' }))).toEqual([
      'warning:private-loopback',
    ])
  })

  it('warnings: no force_https, auto-stop on a public service', () => {
    const findings = findingsFor(makePlan({ port: 8080 }), { file: 'openclaw-fly-generated.toml' })
    expect(findings.find((f) => f.rule === 'auto-stop')).toMatchObject({ level: 'warning', line: 14 })
    const noHttps = renderFlyConfig(makePlan(), {
      path: join(WORKSPACE, 'fly.toml'),
      text: fixture('flytoml', 'guide-fly.toml').replace('force_https = true', 'force_https = false'),
    })
    expect(validateFlyConfig(noHttps, makePlan(), TOKEN)).toEqual([
      expect.objectContaining({ level: 'warning', rule: 'force-https', line: 18 }),
    ])
  })

  it('a gateway config that agrees with the deployment passes; its findings join the rest', () => {
    expect(findingsFor(makePlan(), { gateway: fixture('openclaw-json', 'public.json5') })).toEqual([])
    const guideConfig = findingsFor(makePlan(), { gateway: fixture('openclaw-json', 'guide.json') })
    expect(rules(guideConfig)).toEqual(['warning:control-ui-origins', 'warning:gateway-bind'])
  })

  it('[[services]] with their own checks and a numeric memory pass', () => {
    expect(findingsFor(makePlan(), { file: 'services-image.toml' })).toEqual([])
  })
})

describe('reportFindings', () => {
  let outFile: string
  let root: string
  let written: string[]
  const originalWrite = process.stdout.write.bind(process.stdout)
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'validate-'))
    outFile = join(root, 'out')
    writeFileSync(outFile, '')
    written = []
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk))
      return true
    }) as typeof process.stdout.write
  })
  afterEach(() => {
    process.stdout.write = originalWrite
    rmSync(root, { recursive: true, force: true })
  })

  it('prints ::error/::warning annotations with the workspace-relative file and line, then throws one error listing every error', () => {
    const findings: Finding[] = [
      {
        level: 'error',
        rule: 'internal-port',
        message: 'internal_port is 8080 but the gateway listens on 3000.',
        file: join(WORKSPACE, 'deploy/fly.toml'),
        line: 26,
      },
      { level: 'error', rule: 'memory', message: '512MB is too small; 2GB recommended.', input: 'memory' },
      {
        level: 'warning',
        rule: 'force-https',
        message: 'no force_https.',
        file: join(WORKSPACE, 'fly.toml'),
        line: 18,
      },
    ]
    let error: unknown
    try {
      reportFindings(findings, WORKSPACE)
    } catch (err) {
      error = err
    }
    const out = written.join('')
    expect(out).toContain(
      '::error title=internal-port (fly-deploy),file=deploy/fly.toml,line=26::internal_port is 8080',
    )
    expect(out).toContain(
      '::error title=memory (fly-deploy)::512MB is too small; 2GB recommended. (from input `memory`)',
    )
    expect(out).toContain('::warning title=force-https (fly-deploy),file=fly.toml,line=18::no force_https.')
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).findings).toHaveLength(2)
    expect((error as Error).message).toMatch(/breaks 2 of the guide's rules; nothing was changed on Fly/)
    expect((error as Error).message).toContain('[memory] (input `memory`) 512MB is too small')
    expect(readFileSync(outFile, 'utf8')).toBe('')
  })

  it('warnings alone do not throw', () => {
    expect(() =>
      reportFindings([{ level: 'warning', rule: 'memory', message: '1GB may work.', input: 'memory' }], WORKSPACE),
    ).not.toThrow()
    expect(written.join('')).toContain('::warning title=memory (fly-deploy)::1GB may work. (from input `memory`)')
  })
})
