import type { Redactor } from '../shared/redact.js'

/**
 * What the input readers get: the raw inputs and the edge's environment. Generic in the names it
 * reads, so a reader of some inputs (preview-inputs.ts) needs only the names it reads, and the
 * list of every input stays in parse-inputs.ts.
 */
export interface InputReader<Key extends string> {
  /** Reads one input's raw value, as core.getInput does (trimmed, '' when unset). */
  read: (name: Key) => string
  /** The step's environment (bare secret names and FLY_API_TOKEN are read from it). */
  env: NodeJS.ProcessEnv
  redactor: Redactor
  /** GITHUB_WORKSPACE (relative paths start here), RUNNER_TEMP. */
  workspace: string
  runnerTemp: string
  /** The flyctl version used when `flyctl-version` is empty. */
  pinnedFlyctlVersion: string
}
