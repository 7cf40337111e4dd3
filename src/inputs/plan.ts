/**
 * The typed plan of one run: every input of docs/CONTRACT.md, parsed and checked by parse-inputs.ts.
 * Later stages read only this, never core.getInput.
 */
export const BIND_MODES = ['loopback', 'lan', 'tailnet', 'auto', 'custom'] as const
export type BindMode = (typeof BIND_MODES)[number]

export const STRATEGIES = ['rolling', 'immediate', 'bluegreen', 'canary'] as const
export type Strategy = (typeof STRATEGIES)[number]

/** `deploy`; `preview` (a gateway per pull request); `cleanup-previews` (docs/CONTRACT.md, "Previews"). */
export const MODES = ['deploy', 'preview', 'cleanup-previews'] as const
export type Mode = (typeof MODES)[number]

/** The pull request of a `pull_request` or `pull_request_target` event (GITHUB_EVENT_PATH). */
export interface PullRequestRef {
  eventName: 'pull_request' | 'pull_request_target'
  /** opened, reopened, synchronize, closed, ... */
  action: string
  number: number
  /** The base repository, `owner/repo`. */
  repository: string
  /** The head repository when it is another one (a fork); null when GitHub no longer knows it. */
  fork?: string | null
  headSha?: string
}

export interface Plan {
  app: string
  /** Masked the moment it was read. */
  apiToken: string
  org: string
  create: boolean
  private: boolean
  /** Absolute path of the user's fly.toml to start from, if any. */
  config?: string

  /**
   * Values for fly.toml. Each is undefined when the input was left empty, so that a `config`
   * file keeps its own value; render.ts applies the guide's default when neither says anything.
   */
  region?: string
  port?: number
  bind?: BindMode
  /** The `[processes] app` command as the user wrote it (already checked to split cleanly). */
  command?: string
  vmSize?: string
  /** Memory in MB. */
  memoryMb?: number
  volume?: string
  stateDir?: string
  /** Extra `[env]` entries, in input order. */
  env: Array<[string, string]>

  volumeSizeGb: number

  /** The synced secret set: name to value, masked. Explicit `secrets` lines win over `secrets-json`. */
  secrets: Map<string, string>
  /** Where each synced secret name came from, for messages. */
  secretSources: Map<string, 'secrets' | 'secrets-json'>
  /** Names `secrets-json` held that were not synced, with why (never values). */
  secretsDropped?: Array<{ name: string; why: string }>
  /** Warnings about synced secrets, by name (values under 4 characters). */
  secretWarnings?: string[]
  pruneSecrets: boolean
  /** `mode: preview` may deploy a fork's pull request (only `<secrets-prefix>` secrets then). */
  allowForkPreviews?: boolean

  /** Absolute path of the openclaw.json to deliver with the release. */
  gatewayConfig?: string
  image?: string
  /** Absolute path of the Dockerfile; used when image is empty. */
  dockerfile: string
  buildArgs: Array<[string, string]>
  strategy?: Strategy
  /** Extra `fly deploy` argv, split like a POSIX shell, never run through one. */
  deployArgs: string[]
  /** Command every app machine must run after the deploy, as argv and as written. */
  machineCommand?: { argv: string[]; text: string }
  machineMemoryMb?: number

  healthTimeoutSec: number
  healthChannels: string[]
  healthUrl?: string
  fixStaleLock: boolean
  rollback: boolean
  /** Make no release when the fingerprint equals the serving release's and every machine is healthy. */
  skipUnchanged: boolean
  /** Snapshot the volume before a gateway upgrade and restore it with a rollback of that release. */
  upgradeSnapshot: boolean

  /** An exact version (`0.4.87`) or `latest`. */
  flyctlVersion: string
  flyctlMirror?: string
  dryRun: boolean
  /** Absolute. */
  workingDirectory: string
  /** Absolute; where rendered files go (never the workspace). */
  runnerTemp: string
  /** GITHUB_WORKSPACE as the runner set it: paths in messages are shown relative to it. */
  githubWorkspace?: string
  /** GITHUB_API_URL: the REST API of the preview comment and cleanup-previews. */
  githubApiUrl?: string
  /** This workflow run's page (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID), for the preview comment. */
  runUrl?: string

  mode: Mode
  /** `<prefix><NAME>` secrets are synced as `<NAME>`; empty for none. */
  secretsPrefix: string
  /** Synced names that came from a `<prefix><NAME>` secret: synced name to the name given. */
  secretsPrefixed: Map<string, string>
  /** For the GitHub REST API (the preview comment, cleanup-previews); masked; empty when not given. */
  githubToken: string
  /** `owner/repo` (GITHUB_REPOSITORY); set in the preview modes. */
  repository?: string
  /** mode: preview: the pull request of the event. */
  pullRequest?: PullRequestRef
  /** This run's own folder under runnerTemp (src/run/run-dir.ts); unset: `<runnerTemp>/fly-deploy/<app>`. */
  runDir?: string
  /** flyctl's FLY_CONFIG_DIR for this run (src/run/run-dir.ts); unset: flyctl's own default. */
  flyctlConfigDir?: string
}

/** Defaults of the guide (seeds/ fly.toml) applied when neither an input nor `config` sets a value. */
export const GUIDE_DEFAULTS = {
  region: 'iad',
  port: 3000,
  bind: 'lan' as BindMode,
  vmSize: 'shared-cpu-2x',
  memoryMb: 2048,
  volume: 'openclaw_data',
  stateDir: '/data',
  volumeSizeGb: 1,
  healthTimeoutSec: 300,
}

export function defaultCommand(port: number, bind: BindMode): string {
  return `node dist/index.js gateway --allow-unconfigured --port ${port} --bind ${bind}`
}
