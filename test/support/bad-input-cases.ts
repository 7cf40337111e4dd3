/**
 * The bad-input cases, shared by both tiers: every case is refused before anything changes on Fly,
 * with an error that names the input (or `names`), says `says` and `fix`, and shows no secret value.
 * test/unit/run/bad-inputs.test.ts runs every case through run() in-process (and checks
 * docs/ERRORS.md against CASES); test/e2e/bad-inputs.test.ts runs a few of them (E2E_CASES there, by title)
 * as the action's process against the flyctl stand-in. Pure data and helpers: no vitest, no stand-in.
 */
import fs from 'node:fs'
import path from 'node:path'
import { API_TOKEN, GATEWAY_TOKEN } from './tokens.ts'

export interface BadInput {
  input: string
  /** The value set (files are written into the workspace by writeWorkspaceFiles). */
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
  /** Secret values of the case that must appear nowhere the run leaves (besides GATEWAY_TOKEN and API_TOKEN). */
  secretValues?: string[]
}

/** The secrets every case runs with; neither may appear anywhere a run leaves. */
export { API_TOKEN, GATEWAY_TOKEN }
export const APP = 'my-openclaw'

const TOKEN_SECRET = `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`

export const CASES: BadInput[] = [
  {
    input: 'app',
    value: 'My_App',
    says: 'is not a Fly app name',
    fix: 'use 3 to 63 lower-case letters, digits and hyphens',
  },
  { input: 'port', value: '70000', says: 'Input `port`', fix: 'must be at most 65535' },
  { input: 'port', value: 'abc', says: 'must be a whole number', fix: 'from 1 to 65535' },
  { input: 'create', value: 'yes', says: 'got "yes"', fix: 'must be `true` or `false`' },
  { input: 'prune-secrets', value: 'on', says: 'got "on"', fix: 'must be `true` or `false`' },
  { input: 'memory', value: 'lots', says: 'got "lots"', fix: 'must be a size like `2048mb`' },
  { input: 'memory', value: '512mb', says: '512MB is too small', fix: 'set `memory: 2048mb`' },
  { input: 'bind', value: 'public', says: 'got "public"', fix: 'must be one of loopback, lan, tailnet, auto, custom' },
  {
    input: 'bind',
    value: 'loopback',
    shown: 'loopback (public app)',
    says: 'the deployment is public but the gateway binds loopback',
    fix: 'add --bind lan',
  },
  { input: 'health-timeout', value: '5', says: 'Input `health-timeout`', fix: 'must be at least 30 seconds' },
  { input: 'volume-size', value: '0', says: 'Input `volume-size`', fix: 'must be at least 1 GB' },
  { input: 'region', value: 'Mars!', says: 'is not a Fly region code', fix: 'three letters such as `iad`' },
  {
    input: 'secrets',
    value: 'not a line',
    says: 'is not a valid variable name',
    fix: 'write `NAME=VALUE` or a bare `NAME`',
  },
  {
    input: 'secrets',
    value: '',
    shown: '(no OPENCLAW_GATEWAY_TOKEN, bind lan)',
    says: 'neither among the synced secrets nor already set on the app',
    fix: 'openssl rand -hex 32',
  },
  { input: 'secrets-json', value: '{not json', says: 'is not valid JSON', fix: 'pass `${{ toJSON(secrets) }}`' },
  {
    input: 'secrets-json',
    value: '["a"]',
    says: 'must be a JSON object of name to value',
    fix: 'such as `${{ toJSON(secrets) }}`',
  },
  { input: 'env', value: 'NOEQUALS', says: 'has no `=VALUE`', fix: 'write one `NAME=VALUE` a line' },
  {
    input: 'env',
    value: 'NODE_OPTIONS=--max-old-space-size=4096',
    says: "at or above the VM's 2048 MB",
    fix: 'keep the heap below the memory',
  },
  {
    input: 'config',
    value: 'missing.toml',
    says: 'file "missing.toml" not found',
    fix: 'give the path of your fly.toml relative to `working-directory`',
  },
  {
    input: 'config',
    value: 'bad.toml',
    shown: 'bad.toml (unterminated string)',
    names: 'bad.toml:1:',
    says: 'invalid TOML',
    fix: 'Fix the file so that `fly config validate` accepts it',
  },
  {
    input: 'gateway-config',
    value: 'openclaw.json',
    shown: 'openclaw.json (not JSON5)',
    names: 'openclaw.json:1:',
    says: 'invalid JSON5',
    fix: 'Fix the syntax',
  },
  {
    input: 'command',
    value: 'node dist/index.js gateway --allow-unconfigured --port 4000 --bind lan',
    shown: '... --port 4000 ... (port 3000)',
    says: 'internal_port is 3000 but the gateway listens on 4000',
    names: '`port`',
    fix: 'make internal_port match the gateway port',
  },
  // Fly refuses both with mounts, and the rendered config always mounts the state volume.
  {
    input: 'strategy',
    value: 'canary',
    says: '`canary` cannot be used with a volume',
    fix: 'use `rolling` (the default) or `immediate`',
  },
  {
    input: 'strategy',
    value: 'bluegreen',
    says: '`bluegreen` cannot be used with a volume',
    fix: 'use `rolling` (the default) or `immediate`',
  },
  {
    input: 'strategy',
    value: 'bluegreen',
    shown: '`bluegreen`, `config` without `[mounts]`',
    with: { config: 'nomounts.toml' },
    says: 'the rendered config mounts one',
    fix: 'use `rolling` (the default) or `immediate`',
  },
  {
    input: 'strategy',
    value: 'canary',
    shown: '`canary`, `config` without `[mounts]`',
    with: { config: 'nomounts.toml' },
    says: 'the rendered config mounts one',
    fix: 'use `rolling` (the default) or `immediate`',
  },
  { input: 'health-url', value: 'ftp://x', says: 'got "ftp://x"', fix: 'must be an http(s) URL' },
  {
    input: 'flyctl-version',
    value: 'v1.x',
    says: 'is not a flyctl version',
    fix: 'use an exact version such as `0.4.87`, or `latest`',
  },
  {
    input: 'working-directory',
    value: 'nope',
    says: 'is not a directory',
    fix: 'check out the repository first, or fix the path',
  },
  // What Fly itself refused only after it had been changed, now refused in the preflight.
  { input: 'region', value: 'mrs', says: '"mrs" is not a Fly region', fix: 'set `region` to one of them' },
  {
    input: 'memory',
    value: '100gb',
    says: 'is more than shared-cpu-2x allows 512 to 4096 MB',
    fix: 'set `memory` to at most 4096mb',
  },
  { input: 'vm-size', value: 'shared-cpu-3x', says: 'is not a Fly machine size', fix: 'set `vm-size` to one of' },
  {
    input: 'machine-memory',
    value: '64gb',
    says: 'is more than shared-cpu-2x allows',
    fix: 'set `machine-memory` to at most 4096mb',
  },
  {
    input: 'config',
    value: 'bigvm.toml',
    shown: 'bigvm.toml (`memory = "64gb"`)',
    names: 'bigvm.toml:',
    says: 'is more than shared-cpu-2x allows',
    fix: 'at most 4096mb',
  },
  {
    input: 'dockerfile',
    value: '',
    shown: '(none in working-directory)',
    with: { 'working-directory': 'nodocker' },
    says: 'so `fly deploy` has nothing to build',
    fix: 'set `image` to a built image',
  },
  {
    input: 'dry-run',
    value: 'true',
    shown: '`true`, no Dockerfile',
    names: '`dockerfile`',
    with: { 'working-directory': 'nodocker' },
    says: 'so `fly deploy` has nothing to build',
    fix: 'add the Dockerfile',
  },
  // Secret values that `fly secrets import` cannot carry, named, never shown.
  {
    input: 'secrets',
    value: `${TOKEN_SECRET}\nOPENCLAW_NOTE=quote"""d-secret-7c1`,
    shown: 'a value holding `"""`',
    says: 'its value holds """',
    fix: 'encode the value',
    secretValues: ['quote"""d-secret-7c1'],
  },
  {
    input: 'secrets-json',
    value: '{"OPENCLAW_BLOB":"nul-secret-5d2\\u0000tail"}',
    shown: 'a value holding a NUL',
    says: 'holds a NUL byte',
    fix: 'remove it from the value',
    secretValues: ['nul-secret-5d2'],
  },
  {
    input: 'secrets-json',
    value: '{"OPENCLAW_PEM":"cr-secret-8e4a\\r\\nline2"}',
    shown: 'a value holding a carriage return',
    says: 'holds a carriage return',
    fix: 'LF line endings only',
    secretValues: ['cr-secret-8e4a'],
  },
  {
    input: 'secrets-json',
    value: `{"OPENCLAW_HUGE":"${'long-secret-'.repeat(6000)}"}`,
    shown: 'a value with a line over 64 KiB',
    says: '64 KiB or longer',
    fix: 'split the value or store it as a file',
    secretValues: ['long-secret-'.repeat(6000)],
  },
  // deploy-args, read like pflag reads them.
  { input: 'deploy-args', value: '-afoo', says: '-a --app chooses the app', fix: 'remove it from deploy-args' },
  { input: 'deploy-args', value: '-ya other', says: '-a --app chooses the app', fix: 'remove it from deploy-args' },
  { input: 'deploy-args', value: '--app=other', says: '--app chooses the app', fix: 'remove it from deploy-args' },
  {
    input: 'deploy-args',
    value: '-cother.toml',
    says: '-c --config replaces the rendered and validated fly.toml',
    fix: 'remove it from deploy-args',
  },
  {
    input: 'deploy-args',
    value: '-iregistry.example/foreign:1',
    says: '-i --image chooses the image',
    fix: 'remove it from deploy-args',
  },
  {
    input: 'deploy-args',
    value: '-tFlyV1-leaked-deploy-token-93',
    shown: '`-t<token>`',
    says: '-t --access-token chooses the Fly token',
    fix: 'remove it from deploy-args',
    secretValues: ['FlyV1-leaked-deploy-token-93'],
  },
  {
    input: 'deploy-args',
    value: '--vm-memory 512',
    says: '--vm-memory chooses the machine size',
    fix: 'remove it from deploy-args',
  },
  {
    input: 'deploy-args',
    value: '--remote-only stray',
    says: '"stray" is not a flag',
    fix: 'set `working-directory` for the build context',
  },
  // Secret boundaries.
  {
    input: 'secrets',
    value: `${TOKEN_SECRET}\nFLY_API_TOKEN=${API_TOKEN}`,
    shown: 'a `FLY_API_TOKEN` line',
    says: 'the Fly token stays with flyctl',
    fix: 'remove the line',
  },
  {
    input: 'secrets',
    value: `${TOKEN_SECRET}\nACTIONS_RUNTIME_TOKEN=runtime-secret-4b1`,
    shown: 'an `ACTIONS_*` line',
    says: 'belong to the GitHub runner',
    fix: 'remove the line',
    secretValues: ['runtime-secret-4b1'],
  },
  {
    input: 'env',
    value: 'ANTHROPIC_API_KEY=sk-ant-env-secret-61',
    says: 'is a secret name (it matches `secrets-include`)',
    fix: 'pass it in `secrets`',
    secretValues: ['sk-ant-env-secret-61'],
  },
  {
    input: 'env',
    value: `DEBUG_TOKEN=${GATEWAY_TOKEN}`,
    shown: '`DEBUG_TOKEN=<the gateway token>`',
    says: 'holds the value of the secret OPENCLAW_GATEWAY_TOKEN',
    fix: 'remove the line',
  },
  {
    input: 'build-args',
    value: `NPM_TOKEN=${GATEWAY_TOKEN}`,
    shown: '`NPM_TOKEN=<the gateway token>`',
    says: "build arguments go onto flyctl's command line",
    fix: 'read secrets at run time',
  },
  {
    input: 'secrets-json',
    value: `{"openclaw_gateway_token":"lower-secret-2f9c"}`,
    shown: '`{"openclaw_gateway_token": ...}` (lower case)',
    with: { secrets: '' },
    says: 'held "openclaw_gateway_token", which was dropped',
    fix: 'rename the repository secret to upper case',
    secretValues: ['lower-secret-2f9c'],
  },
  // The gateway command through sh -c, and release-aware gateway-config rules.
  {
    input: 'command',
    value: "sh -c 'cd /app && exec node dist/index.js gateway --port 4000 --bind lan'",
    shown: "`sh -c '... exec node ... --port 4000 ...'`",
    names: '`port`',
    says: 'internal_port is 3000 but the gateway listens on 4000',
    fix: 'make internal_port match the gateway port',
  },
  {
    input: 'gateway-config',
    value: 'no-origins.json5',
    shown: 'no `allowedOrigins`, image 2026.3.1',
    with: { image: 'ghcr.io/openclaw/openclaw:2026.3.1' },
    says: 'gateway release 2026.3.1 (from image ghcr.io/openclaw/openclaw:2026.3.1): it refuses to start',
    fix: 'allowedOrigins: ["https://my-openclaw.fly.dev"]',
  },
  {
    input: 'gateway-config',
    value: 'commented.json5',
    shown: 'commented.json5 (bad `gateway.bind`)',
    names: 'commented.json5:4',
    says: 'gateway.bind is "public"',
    fix: 'use "lan"',
  },
]

/** Calls that only read; anything else would be a change on Fly. */
export const READING =
  /^(version|status|apps list|secrets list|volumes list|releases|machines? list|ips list|platform regions)\b/

/** A case's name: its test title in both tiers, and the key the e2e tier picks its cases by. */
export function caseTitle(c: BadInput): string {
  return `${c.input}: ${c.shown ?? (c.value.slice(0, 80) || '(empty)')}`
}

/** The case of this title; a title that names no case (a renamed case) throws. */
export function caseTitled(title: string): BadInput {
  const found = CASES.find((c) => caseTitle(c) === title)
  if (!found) throw new Error(`no bad-input case is titled ${JSON.stringify(title)} (test/support/bad-input-cases.ts)`)
  return found
}

/** The inputs a case runs with: the app, the Fly token and the gateway token, the case's others, its value. */
export function caseInputs(c: BadInput): Record<string, string> {
  return { app: APP, 'api-token': API_TOKEN, secrets: TOKEN_SECRET, ...c.with, [c.input]: c.value }
}

/** Every value of the case that must appear nowhere the run leaves. */
export function secretValuesOf(c: BadInput): string[] {
  return [GATEWAY_TOKEN, API_TOKEN, ...(c.secretValues ?? [])]
}

/** The places (`[where, text]`) that hold one of the case's secret values, as `where: value`. */
export function leaks(c: BadInput, places: Array<[string, string]>): string[] {
  return secretValuesOf(c).flatMap((value) =>
    places.filter(([, text]) => text.includes(value)).map(([where]) => `${where}: ${value.slice(0, 40)}`),
  )
}

/** The files the cases name, written into the workspace (beside its Dockerfile). */
export function writeWorkspaceFiles(workspace: string): void {
  fs.writeFileSync(path.join(workspace, 'bad.toml'), 'app = "unterminated\n[[vm]]\n')
  fs.writeFileSync(path.join(workspace, 'openclaw.json'), '{ gateway: { port: 3000, }, oops }')
  fs.writeFileSync(path.join(workspace, 'nomounts.toml'), 'app = "my-openclaw"\nprimary_region = "iad"\n')
  fs.writeFileSync(
    path.join(workspace, 'bigvm.toml'),
    'app = "my-openclaw"\n\n[[vm]]\n  size = "shared-cpu-2x"\n  memory = "64gb"\n',
  )
  fs.writeFileSync(path.join(workspace, 'no-origins.json5'), '{ gateway: { mode: "local", bind: "lan" } }\n')
  // The comment names gateway.bind first: the annotation must point at the real key (line 4).
  fs.writeFileSync(
    path.join(workspace, 'commented.json5'),
    '{\n  // gateway: { bind: "lan" } is what the guide uses\n  gateway: { mode: "local",\n    bind: "public" },\n}\n',
  )
  fs.mkdirSync(path.join(workspace, 'nodocker'))
}

/** Every file under `dir` (the rendered fly.toml, the openclaw.json copy), with its path. */
export function filesUnder(dir: string): Array<[string, string]> {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => [path.join(e.parentPath, e.name), fs.readFileSync(path.join(e.parentPath, e.name), 'latin1')])
}

function cell(text: string): string {
  return text.includes('`') ? text.replace(/\|/g, '\\|') : `\`${text.replace(/\|/g, '\\|')}\``
}

export function renderTable(cases: BadInput[]): string {
  const rows = cases.map(
    (c) =>
      `| \`${c.input}\` | ${c.shown ?? (c.value === '' ? '(empty)' : cell(c.value))} | ${c.says.replace(/\|/g, '\\|')} | ${c.fix.replace(/\|/g, '\\|')} |`,
  )
  return [
    '| input | bad value | the error says | how to fix (from the same error) |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n')
}

export const ERRORS_MD = path.resolve(import.meta.dirname, '../../docs/ERRORS.md')
export const ERRORS_TABLE_START =
  '<!-- errors-table:start (generated from test/support/bad-input-cases.ts; UPDATE_ERRORS_TABLE=1 to rewrite) -->'
export const ERRORS_TABLE_END = '<!-- errors-table:end -->'

/**
 * docs/ERRORS.md's table as it is (`found`, undefined when the markers are missing) and as CASES
 * render it (`expected`); with UPDATE_ERRORS_TABLE=1 the file is rewritten first.
 */
export function errorsTable(): { found: string | undefined; expected: string } {
  const expected = renderTable(CASES)
  if (process.env.UPDATE_ERRORS_TABLE === '1') {
    const doc = fs.readFileSync(ERRORS_MD, 'utf8')
    const start = doc.indexOf(ERRORS_TABLE_START)
    const end = doc.indexOf(ERRORS_TABLE_END)
    if (start >= 0 && end > start)
      fs.writeFileSync(ERRORS_MD, `${doc.slice(0, start + ERRORS_TABLE_START.length)}\n${expected}\n${doc.slice(end)}`)
  }
  const doc = fs.readFileSync(ERRORS_MD, 'utf8')
  const start = doc.indexOf(ERRORS_TABLE_START)
  const end = doc.indexOf(ERRORS_TABLE_END)
  return {
    found: start >= 0 && end > start ? doc.slice(start + ERRORS_TABLE_START.length, end).trim() : undefined,
    expected,
  }
}
