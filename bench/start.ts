// Figure 4 of `npm run bench`: `node dist/index.js` on Node 24, from spawn to its first output
// line, against a bare Node start that prints one line (what Node itself costs); and dist/'s size.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { NODE24, REPO_ROOT } from '../standin/runner/runner.ts'
import { API_TOKEN, dirSize } from './lib.ts'

export interface StartResult {
  actionMs: number[]
  bareNodeMs: number[]
  firstLine: string
  dist: { bytes: number; files: number; indexJsBytes: number }
}

/** Spawn to the first stdout line; the process is then killed (it is ours, by its pid). */
function firstLine(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ ms: number; line: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(NODE24, args, { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] })
    let text = ''
    let done = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (done) return
      text += chunk
      const newline = text.indexOf('\n')
      if (newline < 0) return
      done = true
      const ms = performance.now() - start
      child.kill('SIGKILL')
      resolve({ ms, line: text.slice(0, newline) })
    })
    child.on('error', reject)
    child.on('close', (code) => {
      if (!done) reject(new Error(`${args.join(' ')} exited ${code} before printing a line`))
    })
  })
}

export async function startTime(runs: number): Promise<StartResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-start-'))
  try {
    for (const dir of ['workspace', 'temp', 'tool-cache']) fs.mkdirSync(path.join(root, dir))
    for (const file of ['output', 'summary', 'env', 'path', 'state']) fs.writeFileSync(path.join(root, file), '')
    // A runner's environment with a dry run's inputs; the mirror points at a closed port, so
    // nothing is fetched even if a run got that far before it is killed.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: path.join(root, 'workspace'),
      RUNNER_TEMP: path.join(root, 'temp'),
      RUNNER_TOOL_CACHE: path.join(root, 'tool-cache'),
      GITHUB_OUTPUT: path.join(root, 'output'),
      GITHUB_STEP_SUMMARY: path.join(root, 'summary'),
      GITHUB_ENV: path.join(root, 'env'),
      GITHUB_PATH: path.join(root, 'path'),
      GITHUB_STATE: path.join(root, 'state'),
      INPUT_APP: 'bench-start',
      'INPUT_API-TOKEN': API_TOKEN,
      'INPUT_DRY-RUN': 'true',
      'INPUT_FLYCTL-MIRROR': 'http://127.0.0.1:9/mirror',
    }
    const dist = path.join(REPO_ROOT, 'dist', 'index.js')
    const actionMs: number[] = []
    const bareNodeMs: number[] = []
    let line = ''
    // One of each untimed first (file cache), then alternate so drift hits both alike.
    await firstLine([dist], env, root)
    await firstLine(['-e', 'console.log("x")'], env, root)
    for (let i = 0; i < runs; i++) {
      const a = await firstLine([dist], env, root)
      actionMs.push(a.ms)
      line = a.line
      bareNodeMs.push((await firstLine(['-e', 'console.log("x")'], env, root)).ms)
    }
    const size = dirSize(path.join(REPO_ROOT, 'dist'))
    return {
      actionMs,
      bareNodeMs,
      firstLine: line.startsWith('::add-mask::') ? '::add-mask::***' : line,
      dist: { ...size, indexJsBytes: fs.statSync(dist).size },
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}
