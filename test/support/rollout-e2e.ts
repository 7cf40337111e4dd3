// Shared by test/e2e/rollout.test.ts (the action) and test/e2e/standin/rollout.test.ts (the stand-in's waits).
import { spawn, execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { API_TOKEN, GATEWAY_TOKEN, type StandinWorld } from './standin.js'

export const TIMEOUT = 240_000
export const TOKEN_SECRET = `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`
export const FLYCTL = path.resolve('standin/bin/flyctl')

export interface FlyctlResult {
  code: number
  stdout: string
  stderr: string
}

/** A flyctl call still running: wait for a line of its stdout, signal it, or await its end. */
export interface RunningFlyctl {
  printed(text: string): Promise<void>
  kill(signal: NodeJS.Signals): void
  done: Promise<FlyctlResult>
}

/** Starts the stand-in's flyctl as the action runs it. */
export function startFlyctl(w: StandinWorld, args: string[]): RunningFlyctl {
  const child = spawn(FLYCTL, args, {
    cwd: w.dirs.workspace,
    env: { ...process.env, FLYCTL_STANDIN_STATE: w.state, FLY_API_TOKEN: API_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const done = new Promise<FlyctlResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
  const printed = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const look = (): void => {
        if (!stdout.includes(text)) return
        child.stdout.off('data', look)
        resolve()
      }
      child.stdout.on('data', look)
      look()
      void done.then((r) =>
        reject(new Error(`flyctl ${args.join(' ')} ended without printing "${text}":\n${r.stdout}${r.stderr}`)),
      )
    })
  return { printed, kill: (signal) => child.kill(signal), done }
}

/** The stand-in's flyctl, as the action runs it, to its end. */
export function flyctl(w: StandinWorld, args: string[]): Promise<FlyctlResult> {
  return startFlyctl(w, args).done
}

/** flyctl stand-in processes still running against this world's state (there must be none after a run). */
export function flyctlProcessesOf(w: StandinWorld): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
  const ours = out.split('\n').filter((l) => l.includes('standin/cli/main.ts') || l.includes('bin/flyctl'))
  return ours.filter((l) => {
    const pid = Number(l.trim().split(/\s+/)[0])
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`FLYCTL_STANDIN_STATE=${w.state}`)
    } catch {
      return false
    }
  })
}

export function writeConfig(w: StandinWorld): string {
  const file = path.join(w.dirs.workspace, 'fly.toml')
  fs.writeFileSync(
    file,
    [
      'app = "parity"',
      'primary_region = "iad"',
      '[processes]',
      'app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"',
      '[mounts]',
      'source = "openclaw_data"',
      'destination = "/data"',
      '[checks.gateway]',
      'type = "tcp"',
      'port = 3000',
      'interval = "5s"',
      'timeout = "2s"',
      '',
    ].join('\n'),
  )
  return file
}
