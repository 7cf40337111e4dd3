import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { readJournal, type JournalEntry } from '../../standin/platform/inspect.ts'
import { stopAll } from '../../standin/machines/runtime.ts'
import { startReleaseServer, type ReleaseServer } from '../../standin/github/release-server.ts'
import { runAction, type ActionResult, type RunnerDirs } from '../../standin/runner/runner.ts'
import { API_TOKEN, GATEWAY_TOKEN } from './standin.ts'

/**
 * Several runs of dist/index.js at once on one "runner host" (docs/CONTRACT.md, "Fleets"): one stand-in
 * platform, one loopback release server, and the directories a self-hosted host shares between
 * its runners: RUNNER_TOOL_CACHE and HOME always, RUNNER_TEMP for the first `sharedTempRuns` runs
 * (a misconfigured host). Each run has its own workspace and runner command files, as each job has.
 */
export interface FleetHost {
  root: string
  state: string
  server: ReleaseServer
  toolCache: string
  home: string
  /** The RUNNER_TEMP the first `sharedTempRuns` runs share. */
  sharedTemp: string
  /** Runs every app at once; resolves when all have ended. */
  deploy(apps: string[], inputs?: (app: string) => Record<string, string>): Promise<FleetRun[]>
  stop(): Promise<void>
}

export interface FleetRun {
  app: string
  dirs: RunnerDirs
  result: ActionResult
  startedAt: number
  endedAt: number
}

export interface FleetHostOptions {
  prefix: string
  /** How many runs, the first started, share one RUNNER_TEMP (0: each run has its own). */
  sharedTempRuns: number
  /** The stand-in workload of every app (a `LABEL fly-standin.workload=` Dockerfile). */
  workload?: string
}

export async function startFleetHost(opts: FleetHostOptions): Promise<FleetHost> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix))
  const state = path.join(root, 'platform')
  const toolCache = path.join(root, 'tool-cache')
  const home = path.join(root, 'home')
  for (const dir of [state, toolCache, home]) fs.mkdirSync(dir, { recursive: true })
  const sharedTemp = path.join(root, 'shared-temp')
  const server = await startReleaseServer()
  const workload = opts.workload ?? 'fake-gateway:ready'
  let runs = 0
  const runOne = async (app: string, inputs: Record<string, string>): Promise<FleetRun> => {
    const run = ++runs
    const own = path.join(root, `run-${run}-${app}`)
    const dirs: RunnerDirs = {
      root: own,
      workspace: path.join(own, 'workspace'),
      temp: run <= opts.sharedTempRuns ? sharedTemp : path.join(own, 'temp'),
      toolCache,
    }
    for (const dir of [dirs.workspace, dirs.temp]) fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(
      path.join(dirs.workspace, 'Dockerfile'),
      `FROM node:24-slim\nLABEL fly-standin.workload=${workload}\n`,
    )
    const startedAt = Date.now()
    const result = await runAction({
      dirs,
      inputs: {
        'api-token': API_TOKEN,
        'flyctl-mirror': server.mirrorUrl,
        secrets: `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`,
        ...inputs,
      },
      env: { FLYCTL_STANDIN_STATE: state, HOME: home },
    })
    return { app, dirs, result, startedAt, endedAt: Date.now() }
  }
  return {
    root,
    state,
    server,
    toolCache,
    home,
    sharedTemp,
    deploy: (apps, inputs = () => ({})) => Promise.all(apps.map((app) => runOne(app, { app, ...inputs(app) }))),
    async stop() {
      await stopAll(state)
      await server.close()
      fs.rmSync(root, { recursive: true, force: true })
    },
  }
}

/** The app a flyctl call names with `-a`/`--app` (or `--app=`), if any. */
export function appOfCall(entry: JournalEntry): string | undefined {
  const argv = entry.argv
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string
    if (word === '-a' || word === '--app') return argv[i + 1]
    if (word.startsWith('--app=')) return word.slice('--app='.length)
    if (word.startsWith('-a') && word.length > 2 && !word.startsWith('--')) return word.slice(2)
  }
  // `apps create <name>` names the app as its argument.
  if (argv[0] === 'apps' && argv[1] === 'create') return argv[2]
  return undefined
}

/** Journal entries grouped by the flyctl config folder each call used. */
export async function callsByConfigDir(state: string, since = 0): Promise<Map<string, JournalEntry[]>> {
  const out = new Map<string, JournalEntry[]>()
  for (const entry of (await readJournal(state)).slice(since)) {
    const key = entry.configDir ?? '(none)'
    out.set(key, [...(out.get(key) ?? []), entry])
  }
  return out
}

/** Every file and folder under `dir`, relative, sorted (for "nothing left over" checks). */
export function listTree(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}
