import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { readJournal } from '../../standin/platform/inspect.ts'
import { API_TOKEN, GATEWAY_TOKEN, type StandinWorld } from '../support/standin.ts'
import { newWorld, useWorlds } from '../support/world.ts'

/**
 * Validation never refuses a good deploy. The guide's own fly.toml ("2) Configure
 * fly.toml") and its example openclaw.json (step 5) deploy healthy with no error, although the
 * example has no gateway.controlUi.allowedOrigins: with the release unknown that rule is a warning
 * (it crashes only 2026.2.26 to 2026.5). The fixtures are the guide's code blocks
 * (test/fixtures/*\/README.md says where each was copied from).
 */
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures')

useWorlds()

describe("the guide's own example", () => {
  let world: StandinWorld
  beforeAll(async () => {
    world = await newWorld('fake-gateway:ready', 'guide-example-')
    fs.copyFileSync(path.join(FIXTURES, 'flytoml', 'guide-fly.toml'), path.join(world.dirs.workspace, 'fly.toml'))
    fs.copyFileSync(
      path.join(FIXTURES, 'openclaw-json', 'guide.json'),
      path.join(world.dirs.workspace, 'openclaw.json'),
    )
  })

  it("the fixtures hold the guide's code blocks", () => {
    const text = fs.readFileSync(path.join(FIXTURES, 'openclaw-json', 'guide.json'), 'utf8')
    const toml = fs.readFileSync(path.join(FIXTURES, 'flytoml', 'guide-fly.toml'), 'utf8')
    const json = JSON.parse(text) as { gateway: unknown }
    expect(text).toContain('"bind": "auto"')
    expect(json.gateway).toEqual({ mode: 'local', bind: 'auto' })
    expect(toml).toContain('app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"')
  })

  it('deploys healthy with no error, and says which release it judged', async () => {
    const result = await world.run({
      app: 'my-openclaw',
      config: 'fly.toml',
      'gateway-config': 'openclaw.json',
      secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`,
      'health-timeout': '60',
    })
    expect(result.stdout.split('\n').filter((l) => l.startsWith('::error'))).toEqual([])
    expect(result.exitCode).toBe(0)
    expect(result.outputs.health).toBe('healthy')
    expect(result.stdout).toMatch(/::warning[^\n]*control-ui-origins[^\n]*the gateway release is unknown/)
    expect(result.summary).toContain('Gateway release')
    const calls = (await readJournal(world.state)).map((e) => e.argv.join(' '))
    expect(calls.findIndex((c) => c.startsWith('platform regions'))).toBeLessThan(
      calls.findIndex((c) => c.startsWith('apps create')),
    )
  }, 180_000)

  it("never syncs the Fly token or GitHub's, whatever secrets-include says, and lists what it dropped", async () => {
    const result = await world.run({
      app: 'my-openclaw',
      config: 'fly.toml',
      'dry-run': 'true',
      'secrets-include': '*',
      'secrets-json': JSON.stringify({
        FLY_API_TOKEN: API_TOKEN,
        github_token: 'ghs_dropped_value_77',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-77',
        lower_name: 'lower-77',
        OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
      }),
    })
    expect(result.exitCode).toBe(0)
    // The plan's synced set (a dry run's secrets-synced output is empty: nothing was synced).
    expect(result.stdout).toMatch(/"secrets": \[\s*"OPENCLAW_GATEWAY_TOKEN"\s*\]/)
    for (const name of ['FLY_API_TOKEN', 'github_token', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'lower_name'])
      expect(result.summary).toContain(`<code>${name}</code>`)
    expect(result.summary).toContain('upper-case environment name')
    for (const value of [API_TOKEN, 'ghs_dropped_value_77', 'oidc-77', 'lower-77'])
      expect(result.summary + result.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(value)
  }, 120_000)
})
