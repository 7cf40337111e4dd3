/**
 * A folder of this run's own under RUNNER_TEMP: the rendered fly.toml, the gateway config copy and
 * flyctl's config folder. RUNNER_TEMP is per job on a well-set runner, but self-hosted hosts that
 * run several runners (or several steps of one job) may share it, and so may two runs for the same
 * app: a name made of the app alone would let one run overwrite the fly.toml another is deploying.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

export interface RunDirs {
  /** `<RUNNER_TEMP>/fly-deploy/<app>-<unique>`: rendered files go here. */
  runDir: string
  /** `<runDir>/flyctl`: flyctl's FLY_CONFIG_DIR for every call of this run. */
  flyctlConfigDir: string
}

/** The parent of every run's folder, and the prefix of one (pure). */
export function runDirPrefix(runnerTemp: string, app: string): string {
  return join(runnerTemp, 'fly-deploy', `${app}-`)
}

/** flyctl's config folder inside a run's folder (pure). */
export function flyctlConfigDirIn(runDir: string): string {
  return join(runDir, 'flyctl')
}

/**
 * Claim a new folder: mkdtemp(3) creates it atomically under a name no other process holds, so
 * parallel runs can never pick the same one. flyctl creates its config folder itself (0700) on
 * its first call (internal/command/command.go ensureConfigDirExists).
 */
export function claimRunDirs(runnerTemp: string, app: string): RunDirs {
  const prefix = runDirPrefix(runnerTemp, app)
  try {
    mkdirSync(join(runnerTemp, 'fly-deploy'), { recursive: true })
    const runDir = mkdtempSync(prefix)
    return { runDir, flyctlConfigDir: flyctlConfigDirIn(runDir) }
  } catch (err) {
    throw new Error(`cannot create this run's folder ${prefix}XXXXXX under RUNNER_TEMP: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

/**
 * The end of a run, on every path: its folder is emptied but for `keep` (the rendered fly.toml of
 * the `fly-config` output), so no copy of a repository file (the openclaw.json) and none of
 * flyctl's state (WireGuard keys after `ssh console`) stays under RUNNER_TEMP, which self-hosted
 * runners may share between jobs.
 */
export function removeRunFiles(runDir: string, keep: string | undefined): void {
  let names: string[]
  try {
    names = readdirSync(runDir)
  } catch {
    return
  }
  for (const name of names) {
    const file = join(runDir, name)
    if (file !== keep) rmSync(file, { recursive: true, force: true })
  }
  if (keep === undefined || !names.some((n) => join(runDir, n) === keep))
    rmSync(runDir, { recursive: true, force: true })
}
