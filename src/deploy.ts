import * as core from '@actions/core'
import { ReleaseListSchema, type Release } from './fly-json.js'
import { displayCommand } from './flyctl.js'
import type { Plan } from './plan.js'
import type { StageContext } from './report.js'

/** The rendered config as the deploy needs it (from render.ts). */
export interface RenderedConfig {
  /** Absolute path of the rendered fly.toml. */
  path: string
  /**
   * Absolute Dockerfile path to pass as `--dockerfile`, when the rendered config has no
   * `[build] dockerfile` (flyctl joins that key to the config's own directory, REFERENCE.md).
   */
  dockerfileArg?: string
}

export interface DeployContext extends StageContext {
  rendered: RenderedConfig
}

/** Seconds as a Go time.Duration string (`300` -> `5m0s`), the form flyctl's --wait-timeout parses. */
export function formatGoDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds))
  if (s === 0) return '0s'
  const hours = Math.floor(s / 3600)
  const minutes = Math.floor((s % 3600) / 60)
  const seconds = s % 60
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}

/**
 * `fly deploy` argv. The working directory goes first as flyctl's positional WORKING_DIRECTORY
 * (it changes into it: internal/command/command.go ChangeWorkingDirectoryToFirstArgIfPresent), so
 * the build context is the user's. `--ha=false`: one volume, one machine, as the guide runs it.
 * deploy-args come last so a user's flag wins over ours. A rollback passes imageOverride: the
 * previous release's image with the same config, and nothing is built.
 */
export function buildDeployArgs(
  plan: Plan,
  rendered: RenderedConfig,
  opts: { imageOverride?: string } = {},
): string[] {
  const args = ['deploy', plan.workingDirectory, '--config', rendered.path, '--app', plan.app]
  const image = opts.imageOverride ?? plan.image
  if (image) {
    args.push('--image', image)
  } else {
    if (rendered.dockerfileArg) args.push('--dockerfile', rendered.dockerfileArg)
    for (const [name, value] of plan.buildArgs) args.push('--build-arg', `${name}=${value}`)
  }
  if (plan.strategy) args.push('--strategy', plan.strategy)
  args.push('--wait-timeout', formatGoDuration(plan.healthTimeoutSec))
  args.push('--ha=false')
  if (plan.private) args.push('--no-public-ips')
  args.push('-y')
  args.push(...plan.deployArgs)
  return args
}

export interface ReleaseInfo {
  version: number
  imageRef: string
  /** The image of the newest earlier release that did not fail: what a rollback deploys. */
  previousImageRef?: string
  previousVersion?: number
}

const FAILED_RELEASE = /fail|cancel|interrupt|abort/i

/** The newest release and the one a rollback would go back to, from `releases --json`. */
export function readReleases(releases: readonly Release[]): ReleaseInfo | undefined {
  const sorted = [...releases].sort((a, b) => b.Version - a.Version)
  const current = sorted[0]
  if (!current) return undefined
  const previous = sorted.find((r) => r.Version < current.Version && r.ImageRef !== '' && !FAILED_RELEASE.test(r.Status))
  return {
    version: current.Version,
    imageRef: current.ImageRef,
    previousImageRef: previous?.ImageRef,
    previousVersion: previous?.Version,
  }
}

/** flyctl prints "Visit your newly deployed app at <url>" (internal/command/deploy/deploy.go). */
export function appUrl(plan: Pick<Plan, 'app' | 'private'>, deployOutput: string): string {
  if (plan.private) return ''
  const seen = /Visit your newly deployed app at (https?:\/\/\S+)/.exec(deployOutput)
  return seen?.[1] ?? `https://${plan.app}.fly.dev/`
}

export interface DeployResult {
  /** The command line, for the log and a dry run's plan (display only, never run through a shell). */
  command: string
  dryRun: boolean
  url: string
  release?: ReleaseInfo
}

export function deploy(ctx: DeployContext): Promise<DeployResult> {
  return runDeploy(ctx, buildDeployArgs(ctx.plan, ctx.rendered), 'fly deploy')
}

/** Roll back: deploy an earlier release's image with the same rendered config. */
export function redeploy(ctx: DeployContext, imageRef: string): Promise<DeployResult> {
  return runDeploy(ctx, buildDeployArgs(ctx.plan, ctx.rendered, { imageOverride: imageRef }), `fly deploy (rollback to ${imageRef})`)
}

async function runDeploy(ctx: DeployContext, args: string[], title: string): Promise<DeployResult> {
  const { flyctl, plan } = ctx
  const command = flyctl.redact(displayCommand(args))
  if (plan.dryRun) return { command, dryRun: true, url: appUrl(plan, '') }

  const result = await core.group(title, () => flyctl.run(args, { echo: true }))
  const releases = await flyctl.json(['releases', '--app', plan.app], ReleaseListSchema)
  return { command, dryRun: false, url: appUrl(plan, result.stdout), release: readReleases(releases) }
}
