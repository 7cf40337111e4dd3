// The stand-in's machine runtime, driven directly (no flyctl): fresh state roots removed after the
// file, a launch like the one `fly deploy` makes, and waits on a machine's log and state. Shared by
// test/e2e/standin/machines.test.ts (fake gateway) and test/gateway/standin/machines.test.ts.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import { checkSpecs } from '../../standin/machines/checks.ts'
import { logPath, readRuntime, stopAll, type MachineLaunch } from '../../standin/machines/runtime.ts'

const stateDirs: string[] = []

/** Stops every machine of the state roots freshStateDir() made, and removes them, after the file. */
export function useMachineStateDirs(): void {
  afterAll(async () => {
    for (const dir of stateDirs.splice(0)) {
      await stopAll(dir)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

export function freshStateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-machines-'))
  stateDirs.push(dir)
  return dir
}

export function launchFor(stateDir: string, overrides: Partial<MachineLaunch> = {}): MachineLaunch {
  return {
    stateDir,
    app: 'my-openclaw',
    machineId: '148ed193b95389',
    region: 'iad',
    imageRef: 'registry.fly.io/my-openclaw:deployment-01',
    workload: 'fake-gateway:ready',
    cmd: ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan'],
    env: { NODE_ENV: 'production', OPENCLAW_STATE_DIR: '/data', OPENCLAW_GATEWAY_TOKEN: 'test-token-not-secret' },
    files: [],
    mounts: [{ volumeDir: path.join(stateDir, 'volumes', 'vol_1'), path: '/data' }],
    memoryMb: 2048,
    restart: { policy: 'on-failure', maxRetries: 0 },
    // As [http_service] gives it with a TCP check (flaps names it servicecheck-00-tcp-3000).
    checks: checkSpecs({
      services: [{ internal_port: 3000, checks: [{ type: 'tcp', interval: '1s', timeout: '2s', grace_period: '1s' }] }],
    }),
    ...overrides,
  }
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- ESC is the point: it strips ANSI colour codes
  return text.replace(/\x1b\[[0-9;]*m/g, '')
}

export function logMessages(launch: MachineLaunch): string[] {
  const file = logPath(launch.stateDir, launch.app, launch.machineId)
  if (!fs.existsSync(file)) return []
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => stripAnsi((JSON.parse(line) as { message: string }).message))
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export function runtimeOf(launch: MachineLaunch) {
  return readRuntime(launch.stateDir, launch.app, launch.machineId)
}

export async function waitForLine(launch: MachineLaunch, pattern: RegExp, timeoutMs?: number): Promise<string> {
  return waitFor(
    `a log line matching ${pattern}`,
    () => logMessages(launch).find((line) => pattern.test(line)),
    timeoutMs,
  )
}

export async function waitForState(launch: MachineLaunch, state: string, timeoutMs?: number): Promise<void> {
  await waitFor(`state ${state}`, () => runtimeOf(launch).state === state, timeoutMs)
}

export function base64(text: string): string {
  return Buffer.from(text).toString('base64')
}
