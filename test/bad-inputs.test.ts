import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readJournal } from '../standin/inspect.ts'
import { GATEWAY_TOKEN, startStandinWorld, writeDockerfile, type StandinWorld } from './helpers/standin.ts'

/**
 * Issue 9, bad input: every case runs dist/index.js against the stand-in and must be refused
 * (exit 1) before any call that changes Fly, with an error that names the input and says the fix.
 * docs/ERRORS.md is the user-facing table of these errors; it is checked against CASES below
 * (UPDATE_ERRORS_TABLE=1 rewrites it). Unit tests of the parsers are in test/inputs.test.ts.
 */
interface BadInput {
  input: string
  /** The value set (files are written into the workspace by beforeAll). */
  value: string
  /** How the value shows in the table, when it is not the value itself. */
  shown?: string
  /** Part of the error that says what is wrong. */
  says: string
  /** Part of the error that says how to fix it. */
  fix: string
  /** Other inputs of the case. */
  with?: Record<string, string>
  /**
   * What the error names instead of `input` in backticks: the file given (a file that does not
   * parse is named by its path and line), or the other input of a contradictory pair.
   */
  names?: string
}

const TOKEN_SECRET = `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`

export const CASES: BadInput[] = [
  { input: 'app', value: 'My_App', says: 'is not a Fly app name', fix: 'use 3 to 63 lower-case letters, digits and hyphens' },
  { input: 'port', value: '70000', says: 'Input `port`', fix: 'must be at most 65535' },
  { input: 'port', value: 'abc', says: 'must be a whole number', fix: 'from 1 to 65535' },
  { input: 'create', value: 'yes', says: 'got "yes"', fix: 'must be `true` or `false`' },
  { input: 'prune-secrets', value: 'on', says: 'got "on"', fix: 'must be `true` or `false`' },
  { input: 'memory', value: 'lots', says: 'got "lots"', fix: 'must be a size like `2048mb`' },
  { input: 'memory', value: '512mb', says: '512MB is too small', fix: 'set `memory: 2048mb`' },
  { input: 'bind', value: 'public', says: 'got "public"', fix: 'must be one of loopback, lan, tailnet, auto, custom' },
  { input: 'bind', value: 'loopback', shown: 'loopback (public app)', says: 'the deployment is public but the gateway binds loopback', fix: 'add --bind lan' },
  { input: 'health-timeout', value: '5', says: 'Input `health-timeout`', fix: 'must be at least 10 seconds' },
  { input: 'volume-size', value: '0', says: 'Input `volume-size`', fix: 'must be at least 1 GB' },
  { input: 'region', value: 'Mars!', says: 'is not a Fly region code', fix: 'three letters such as `iad`' },
  { input: 'secrets', value: 'not a line', says: 'is not a valid variable name', fix: 'write `NAME=VALUE` or a bare `NAME`' },
  {
    input: 'secrets',
    value: '',
    shown: '(no OPENCLAW_GATEWAY_TOKEN, bind lan)',
    says: 'neither among the synced secrets nor already set on the app',
    fix: 'openssl rand -hex 32',
  },
  { input: 'secrets-json', value: '{not json', says: 'is not valid JSON', fix: 'pass `${{ toJSON(secrets) }}`' },
  { input: 'secrets-json', value: '["a"]', says: 'must be a JSON object of name to value', fix: 'such as `${{ toJSON(secrets) }}`' },
  { input: 'env', value: 'NOEQUALS', says: 'has no `=VALUE`', fix: 'write one `NAME=VALUE` a line' },
  {
    input: 'env',
    value: 'NODE_OPTIONS=--max-old-space-size=4096',
    says: "at or above the VM's 2048 MB",
    fix: 'keep the heap below the memory',
  },
  { input: 'config', value: 'missing.toml', says: 'file "missing.toml" not found', fix: 'give the path of your fly.toml relative to `working-directory`' },
  { input: 'config', value: 'bad.toml', shown: 'bad.toml (unterminated string)', names: 'bad.toml:1:', says: 'invalid TOML', fix: 'Fix the file so that `fly config validate` accepts it' },
  { input: 'gateway-config', value: 'openclaw.json', shown: 'openclaw.json (not JSON5)', names: 'openclaw.json:1:', says: 'invalid JSON5', fix: 'Fix the syntax' },
  {
    input: 'command',
    value: 'node dist/index.js gateway --allow-unconfigured --port 4000 --bind lan',
    shown: '... --port 4000 ... (port 3000)',
    says: 'internal_port is 3000 but the gateway listens on 4000',
    names: '`port`',
    fix: 'make internal_port match the gateway port',
  },
  { input: 'strategy', value: 'canary', says: '`canary` cannot be used with a volume', fix: 'use `rolling` or `immediate`' },
  { input: 'health-url', value: 'ftp://x', says: 'got "ftp://x"', fix: 'must be an http(s) URL' },
  { input: 'flyctl-version', value: 'v1.x', says: 'is not a flyctl version', fix: 'use an exact version such as `0.4.87`, or `latest`' },
  { input: 'working-directory', value: 'nope', says: 'is not a directory', fix: 'check out the repository first, or fix the path' },
]

/** Calls that only read; anything else in the journal would be a change on Fly. */
const READING = /^(version|status|apps list|secrets list|volumes list|releases|machines? list|ips list)\b/

const START = '<!-- errors-table:start (generated from test/bad-inputs.test.ts; UPDATE_ERRORS_TABLE=1 to rewrite) -->'
const END = '<!-- errors-table:end -->'
const ERRORS_MD = path.resolve(import.meta.dirname, '../docs/ERRORS.md')

function cell(text: string): string {
  return text.includes('`') ? text.replace(/\|/g, '\\|') : `\`${text.replace(/\|/g, '\\|')}\``
}

export function renderTable(cases: BadInput[]): string {
  const rows = cases.map((c) => `| \`${c.input}\` | ${c.shown ?? (c.value === '' ? '(empty)' : cell(c.value))} | ${c.says.replace(/\|/g, '\\|')} | ${c.fix.replace(/\|/g, '\\|')} |`)
  return ['| input | bad value | the error says | how to fix (from the same error) |', '|---|---|---|---|', ...rows].join('\n')
}

/** The error the action reported: setFailed's `::error::` line, unescaped. */
function errorText(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .map((l) => l.replace(/^::error[^:]*::/, '').replaceAll('%0A', '\n').replaceAll('%0D', '\r').replaceAll('%25', '%'))
    .join('\n')
}

describe('bad inputs are refused before anything changes on Fly', () => {
  let world: StandinWorld

  beforeAll(async () => {
    world = await startStandinWorld('bad-inputs-')
    writeDockerfile(world.dirs, 'fake-gateway:ready')
    fs.writeFileSync(path.join(world.dirs.workspace, 'bad.toml'), 'app = "unterminated\n[[vm]]\n')
    fs.writeFileSync(path.join(world.dirs.workspace, 'openclaw.json'), '{ gateway: { port: 3000, }, oops }')
  })
  afterAll(async () => {
    await world?.stop()
  })

  it('has at least 15 distinct cases', () => {
    expect(new Set(CASES.map((c) => `${c.input}=${c.value}`)).size).toBe(CASES.length)
    expect(CASES.length).toBeGreaterThanOrEqual(15)
  })

  it.each(CASES.map((c) => [`${c.input}: ${c.shown ?? (c.value || '(empty)')}`, c] as const))('%s', async (_title, c) => {
    const before = (await readJournal(world.state)).length
    const result = await world.run({ app: 'my-openclaw', secrets: TOKEN_SECRET, ...c.with, [c.input]: c.value })
    const calls = (await readJournal(world.state)).slice(before).map((e) => e.argv.join(' '))
    const error = errorText(result.stdout)

    expect(result.exitCode).toBe(1)
    expect(error).toContain(c.names ?? `\`${c.input}\``)
    expect(error).toContain(c.says)
    expect(error).toContain(c.fix)
    expect(calls.filter((call) => !READING.test(call))).toEqual([])
    // The app was never created, so nothing can have changed on the platform.
    expect(calls.some((call) => call.startsWith('apps create'))).toBe(false)
  }, 120_000)

  it('docs/ERRORS.md carries exactly these cases', () => {
    const table = renderTable(CASES)
    if (process.env.UPDATE_ERRORS_TABLE === '1') {
      const doc = fs.readFileSync(ERRORS_MD, 'utf8')
      const start = doc.indexOf(START)
      const end = doc.indexOf(END)
      fs.writeFileSync(ERRORS_MD, `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`)
    }
    const doc = fs.readFileSync(ERRORS_MD, 'utf8')
    const start = doc.indexOf(START)
    const end = doc.indexOf(END)
    expect(start, `${ERRORS_MD} lacks the table markers`).toBeGreaterThanOrEqual(0)
    expect(doc.slice(start + START.length, end).trim()).toBe(table)
  })
})
