import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { stopAll } from '../../standin/machines/runtime.ts'
import { startReleaseServer, type ReleaseServer } from '../../standin/github/release-server.ts'
import { makeRunnerDirs, runAction, type ActionResult, type RunnerDirs } from '../../standin/runner/runner.ts'
import { API_TOKEN, GATEWAY_TOKEN } from './tokens.ts'

/**
 * One stand-in platform for an end-to-end test: a state directory for the flyctl stand-in, the
 * loopback release server that the action installs flyctl from (through `flyctl-mirror`), and a
 * runner's directories. `stop()` ends every machine process and the server.
 */
export interface StandinWorld {
  state: string
  server: ReleaseServer
  dirs: RunnerDirs
  /** Run dist/index.js against this platform; inputs are merged over sensible defaults. */
  run(
    inputs: Record<string, string>,
    extra?: { env?: NodeJS.ProcessEnv; killWhen?: { text: string; signal: NodeJS.Signals } },
  ): Promise<ActionResult>
  stop(): Promise<void>
}

export { API_TOKEN, GATEWAY_TOKEN }

export async function startStandinWorld(prefix = 'e2e-'): Promise<StandinWorld> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}state-`))
  const server = await startReleaseServer()
  const dirs = makeRunnerDirs(prefix)
  return {
    state,
    server,
    dirs,
    run: (inputs, extra = {}) =>
      runAction({
        dirs,
        inputs: { 'api-token': API_TOKEN, 'flyctl-mirror': server.mirrorUrl, ...inputs },
        env: { FLYCTL_STANDIN_STATE: state, ...extra.env },
        killWhen: extra.killWhen,
      }),
    async stop() {
      await stopAll(state)
      await server.close()
      fs.rmSync(state, { recursive: true, force: true })
      fs.rmSync(dirs.root, { recursive: true, force: true })
    },
  }
}

/** What a failed end-to-end assertion shows: the exit code, the step's last 80 lines and its last stderr. */
export function tail(result: ActionResult): string {
  return `exit ${result.exitCode}\n${result.stdout.split('\n').slice(-80).join('\n')}\n${result.stderr.slice(-2000)}`
}

/** A workspace Dockerfile whose "build" runs the given stand-in workload. */
export function writeDockerfile(dirs: RunnerDirs, workload: string): void {
  const body = workload.startsWith('openclaw@')
    ? `FROM ghcr.io/openclaw/openclaw:${workload.slice('openclaw@'.length)}\n`
    : `FROM node:24-slim\nLABEL fly-standin.workload=${workload}\n`
  fs.writeFileSync(path.join(dirs.workspace, 'Dockerfile'), body)
}
