import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { writeFaults } from '../../standin/platform/inspect.ts'
import type { ActionResult } from '../../standin/runner/runner.ts'
import { writeDockerfile, type StandinWorld } from '../support/standin.ts'
import { errorText } from '../support/workflow-commands.ts'
import { newWorld, useWorlds } from '../support/world.ts'

/**
 * Secret hygiene: run end-to-end scenarios (success, dry run, flyctl errors that echo a
 * secret, a retried transient error, an unhealthy release with rollback, cancellation, bad input)
 * with distinctive secret values, then scan everything the action and the stand-in produced for
 * each value, raw, base64- and URL-encoded, and each line of the multi-line one. The only place a
 * value may appear is a `::add-mask::` line on stdout: that is how the runner learns to mask it.
 */
const APP = 'hygiene-claw'
const S = {
  apiToken: 'FlyV1 fm2_hygiene+api/token=Zq8xK',
  gatewayToken: 'gw-hygiene-5f0c7a9e31d84b26',
  anthropic: 'sk-ant-hyg/iene+key=0042&x=1',
  github: 'ghs_hygieneGithubToken0099',
  unrelated: 'unrelated-hygiene-value-77',
  telegram: 'tg:hygiene 123456:ABC-DEF',
  pem: '-----BEGIN HYGIENE KEY-----\nMIIhygieneLineTwoAbc123==\nMIIhygieneLineThreeDef456\n-----END HYGIENE KEY-----',
}

/** Every form a value may travel in. */
function forms(value: string): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['raw', value],
    ['base64', Buffer.from(value).toString('base64')],
    ['url-encoded', encodeURIComponent(value)],
  ]
  const lines = value.split('\n').map((l) => l.trim())
  if (lines.length > 1) for (const [i, l] of lines.entries()) if (l.length >= 8) out.push([`line ${i + 1}`, l])
  return out
}
const NEEDLES = Object.entries(S).flatMap(([name, value]) => forms(value).map(([form, text]) => ({ name, form, text })))

/** Where a needle was found: `source: secret (form)`. */
function scan(source: string, text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n.text)).map((n) => `${source}: ${n.name} (${n.form})`)
}

function scanRun(label: string, r: ActionResult): string[] {
  // Exactly the runner's masking commands are allowed to carry a value.
  const stdout = r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n')
  const found = [...scan(`${label} stdout`, stdout), ...scan(`${label} stderr`, r.stderr)]
  for (const [file, text] of Object.entries(r.commandFiles)) found.push(...scan(`${label} ${file}`, text))
  for (const [name, value] of Object.entries(r.outputs)) found.push(...scan(`${label} output ${name}`, value))
  return found
}

/** Every file under dir, except the ones named (the platform's own secret store, test inputs). */
function scanTree(label: string, dir: string, skip: Set<string>): string[] {
  const found: string[] = []
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || skip.has(entry.name)) continue
    const file = path.join(entry.parentPath, entry.name)
    found.push(...scan(`${label} ${path.relative(dir, file)}`, fs.readFileSync(file, 'latin1')))
  }
  return found
}

useWorlds()

describe('no secret value in anything the action or the stand-in produced', () => {
  let world: StandinWorld
  const runs: Array<[string, ActionResult]> = []
  const base = {
    app: APP,
    'api-token': S.apiToken,
    secrets: `OPENCLAW_GATEWAY_TOKEN=${S.gatewayToken}\nOPENCLAW_TLS_KEY\nTELEGRAM_BOT_TOKEN=${S.telegram}`,
    'secrets-json': JSON.stringify({
      github_token: S.github,
      ANTHROPIC_API_KEY: S.anthropic,
      UNRELATED_SECRET: S.unrelated,
    }),
  }
  const env = { OPENCLAW_TLS_KEY: S.pem }
  const run = async (label: string, inputs: Record<string, string>, extra: Parameters<StandinWorld['run']>[1] = {}) => {
    const r = await world.run({ ...base, ...inputs }, { ...extra, env: { ...env, ...extra.env } })
    runs.push([label, r])
    return r
  }

  beforeAll(async () => {
    world = await newWorld('fake-gateway:ready', 'hygiene-')
  })

  it('a deploy that syncs every kind of secret', async () => {
    const r = await run('deploy', {})
    expect(r.exitCode, r.stdout).toBe(0)
    expect(r.outputs['secrets-synced']).toBe(
      'ANTHROPIC_API_KEY,OPENCLAW_GATEWAY_TOKEN,OPENCLAW_TLS_KEY,TELEGRAM_BOT_TOKEN',
    )
    // The runner was told to mask each value (the multi-line one line by line too).
    expect(r.stdout).toContain(`::add-mask::${S.gatewayToken}`)
    expect(r.stdout).toContain('::add-mask::MIIhygieneLineTwoAbc123==')
  }, 240_000)

  it('a dry run, with a transient error on its way retried, its text carrying the token', async () => {
    // One run for both: the retry and its message are the flyctl runner's, in a dry run as in a deploy.
    await writeFaults(world.state, {
      fail: [{ command: 'status', times: 1, stderr: `Error: 503 Service Unavailable (token ${S.apiToken})` }],
    })
    const r = await run('dry-run-retried', { 'dry-run': 'true' })
    expect(r.exitCode, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/transient error \(503 Service Unavailable \(token \*\*\*\)\); retrying/)
  }, 240_000)

  it('flyctl errors that echo secret values are redacted before they are shown', async () => {
    await writeFaults(world.state, {
      fail: [
        {
          command: 'secrets import',
          times: 1,
          stderr:
            `Error: invalid secret OPENCLAW_GATEWAY_TOKEN="${S.gatewayToken}" (base64 ${Buffer.from(S.gatewayToken).toString('base64')}, ` +
            `url ${encodeURIComponent(S.anthropic)}); key line ${S.pem.split('\n')[1]}\ntoken was ${S.apiToken}`,
        },
      ],
    })
    // The same push as the first deploy: the deploy path (secrets import first) is asked for.
    const r = await run('flyctl-error', { 'skip-unchanged': 'false' })
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::.*secrets import.*invalid secret OPENCLAW_GATEWAY_TOKEN="\*\*\*"/)
  }, 240_000)

  it('an unhealthy release, its logs shown, rolled back', async () => {
    writeDockerfile(world.dirs, 'fake-gateway:oom')
    try {
      const r = await run('unhealthy', {})
      expect(r.exitCode).toBe(1)
      expect(r.outputs.health).toBe('unhealthy')
      expect(r.outputs['rolled-back']).toBe('true')
    } finally {
      writeDockerfile(world.dirs, 'fake-gateway:ready')
    }
  }, 240_000)

  it('a cancelled run', async () => {
    await writeFaults(world.state, { latencyMs: { deploy: 20_000 } })
    try {
      // The same push as the first deploy: its deploy, to be cancelled, is asked for.
      const r = await run(
        'cancelled',
        { 'skip-unchanged': 'false' },
        { killWhen: { text: '::group::fly deploy', signal: 'SIGTERM' } },
      )
      expect(r.exitCode).not.toBe(0)
    } finally {
      await writeFaults(world.state, {})
    }
  }, 240_000)

  it('bad inputs that contain secret values', async () => {
    // Both in one run: the inputs' problems are all reported, each naming its input.
    const bad = await run('bad-secrets', {
      secrets: `bad-name=${S.gatewayToken}`,
      'secrets-json': `{"ANTHROPIC_API_KEY": "${S.anthropic}", "x": ${S.unrelated}}`,
    })
    expect(bad.exitCode).toBe(1)
    expect(errorText(bad.stdout)).toMatch(/^- `secrets`: /m)
    expect(errorText(bad.stdout)).toMatch(/^- `secrets-json`: /m)
  }, 240_000)

  it('finds no value anywhere: outputs, logs, summaries, command files, the journal, the platform, the runner temp dir', () => {
    expect(runs.length).toBe(6)
    const found = runs.flatMap(([label, r]) => scanRun(label, r))
    // The platform's own store of values (the app's secrets, what each machine took and runs
    // with) holds them by design, readable by the owner only; faults.json is this test's input.
    const store = new Set(['secrets.json', 'secrets.env.json', 'launch.json'])
    for (const entry of fs.readdirSync(world.state, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && store.has(entry.name))
        expect(fs.statSync(path.join(entry.parentPath, entry.name)).mode & 0o077, entry.name).toBe(0)
    }
    found.push(...scanTree('state', world.state, new Set([...store, 'faults.json'])))
    found.push(...scanTree('runner temp', world.dirs.temp, new Set()))
    expect(found).toEqual([])
    // ...and it can see them: the runner's own masking lines carry them.
    expect(scan('add-mask lines', runs[0]![1].stdout).length).toBeGreaterThan(0)
    // The scan can see: the journal names the calls (argv only, stdin as a flag).
    const journal = fs.readFileSync(path.join(world.state, 'journal.jsonl'), 'utf8')
    expect(journal).toContain('"secrets","import","--stage"')
  })
})
