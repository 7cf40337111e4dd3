// The flyctl stand-in's `apps list` and `apps destroy` (standin/command/apps.ts), run as a
// process over a temp state root with the real machine runtime and the fake gateway.
// Texts from superfly/flyctl internal/command/apps/{list,destroy}.go; JSON from fly-go types.go App.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AppListSchema, MachineListSchema } from '../../../src/fly/schemas.js'
import { readState, seedApp } from '../../../standin/platform/inspect.ts'
import { stopAll } from '../../../standin/machines/runtime.ts'
import { isAlive, isRunning } from '../../../standin/machines/procs.ts'
import { readRuntime } from '../../../standin/machines/runtime.ts'

const FLYCTL = path.resolve('standin/bin/flyctl')
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-apps-'))
const stateDir = path.join(scratch, 'state')
const workDir = path.join(scratch, 'work')
fs.mkdirSync(workDir, { recursive: true })
fs.mkdirSync(stateDir, { recursive: true })

afterAll(async () => {
  await stopAll(stateDir)
  fs.rmSync(scratch, { recursive: true, force: true })
})

function flyctl(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FLYCTL_STANDIN_STATE: stateDir,
      FLY_API_TOKEN: 'test-token',
    }
    const child = spawn(FLYCTL, args, { cwd: workDir, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

const FLY_TOML = `app = "demo-pr-7"
primary_region = "iad"
[env]
  OPENCLAW_STATE_DIR = "/data"
  OPENCLAW_DEPLOY_PREVIEW = "openclaw/demo#7"
[processes]
  app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"
[http_service]
  internal_port = 3000
[[vm]]
  memory = "2048mb"
[mounts]
  source = "openclaw_data"
  destination = "/data"
`

describe('apps list and apps destroy', () => {
  it('refuse without -y, name a missing app, and destroy an app with its machines, volume, IPs and secrets', async () => {
    await seedApp(stateDir, 'demo')
    await seedApp(stateDir, 'demo-pr-7')
    fs.writeFileSync(path.join(workDir, 'fly.toml'), FLY_TOML)
    fs.writeFileSync(
      path.join(workDir, 'Dockerfile'),
      'FROM node:24-slim\nLABEL fly-standin.workload=fake-gateway:ready\n',
    )
    expect(
      (await flyctl(['secrets', 'import', '--stage', '-a', 'demo-pr-7'], 'OPENCLAW_GATEWAY_TOKEN=tok-demo-pr-7\n'))
        .code,
    ).toBe(0)
    const deployed = await flyctl(['deploy', '--ha=false', '-y'])
    expect(deployed.code, deployed.stderr).toBe(0)

    // list.go: render.JSON([]fly.App): Name, Organization.Slug, Status, fly-go field order.
    const listed = await flyctl(['apps', 'list', '--json'])
    expect(listed.code).toBe(0)
    const apps = AppListSchema.parse(JSON.parse(listed.stdout))
    expect(apps.map((a) => [a.Name, a.Organization?.Slug, a.Status])).toEqual([
      ['demo', 'personal', 'pending'],
      ['demo-pr-7', 'personal', 'deployed'],
    ])
    expect(Object.keys(JSON.parse(listed.stdout)[0]).slice(0, 6)).toEqual([
      'ID',
      'InternalNumericID',
      'Name',
      'State',
      'Status',
      'Deployed',
    ])
    expect((await flyctl(['apps', 'list', '-q'])).stdout).toBe('demo\ndemo-pr-7\n')
    expect((await flyctl(['apps', 'ls'])).stdout).toMatch(/^NAME\s+OWNER\s+STATUS\s+LATEST DEPLOY\n/)

    const machines = MachineListSchema.parse(
      JSON.parse((await flyctl(['machines', 'list', '-a', 'demo-pr-7', '--json'])).stdout),
    )
    expect(machines).toHaveLength(1)
    expect(machines[0]?.config.env?.OPENCLAW_DEPLOY_PREVIEW).toBe('openclaw/demo#7')
    const pid = readRuntime(stateDir, 'demo-pr-7', machines[0]?.id as string).pid as number
    expect(isAlive(pid)).toBe(true)
    const volumeIds = (await readState(stateDir)).apps['demo-pr-7']?.volumes.map((v) => v.id) ?? []
    expect(volumeIds).toHaveLength(1)

    // destroy.go: no prompt in CI, so -y is required.
    const unconfirmed = await flyctl(['apps', 'destroy', 'demo-pr-7'])
    expect(unconfirmed).toMatchObject({ code: 1, stdout: '' })
    expect(unconfirmed.stderr).toBe(
      'Destroying an app is not reversible.\nError: yes flag must be specified when not running interactively\n',
    )
    expect((await flyctl(['apps', 'destroy', '-y'])).stderr).toBe('Error: no app names provided\n')
    expect((await flyctl(['apps', 'destroy', 'nope-pr-1', '-y'])).stderr).toBe('Error: Could not find App\n')

    const destroyed = await flyctl(['apps', 'destroy', 'demo-pr-7', '-y'])
    expect(destroyed).toMatchObject({ code: 0, stdout: 'Destroyed app demo-pr-7\n' })
    expect(isRunning(pid)).toBe(false)
    const state = await readState(stateDir)
    expect(Object.keys(state.apps)).toEqual(['demo'])
    for (const id of volumeIds) expect(fs.existsSync(path.join(stateDir, 'volumes', id))).toBe(false)
    expect(fs.existsSync(path.join(stateDir, 'apps', 'demo-pr-7'))).toBe(false)
    // Gone, as flyctl then says for any command on it; a second destroy says the same.
    expect((await flyctl(['machines', 'list', '-a', 'demo-pr-7', '--json'])).stderr).toBe('Error: Could not find App\n')
    expect((await flyctl(['apps', 'rm', 'demo-pr-7', '-y'])).stderr).toBe('Error: Could not find App\n')
  }, 60_000)
})
