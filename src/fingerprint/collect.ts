/**
 * The edge of the fingerprint: reads what a release would hold from the files (the Dockerfile,
 * the build context, `[[files]]` contents) and from the registries (the digest of each FROM tag
 * now), and says in words what was compared. A base image that cannot be resolved, or a build
 * this action cannot read, leaves no fingerprint but a doubt: the run deploys.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Plan } from '../inputs/plan.js'
import { hashBuildContext } from './build-context.js'
import { baseImages } from './dockerfile.js'
import { normalizeConfig, type FingerprintInputs, type ImageInputs } from './fingerprint.js'
import { formatImageRef, parseImageRef } from './image-ref.js'
import { resolveDigest, type ResolveOptions } from './registry.js'

export interface Collected {
  inputs?: FingerprintInputs
  /** Why no fingerprint could be made (the run deploys, with a notice). */
  doubt?: string
  /** What was compared, in words for the summary. */
  compared: string[]
  /** Said once in the log and the summary (a context with `.git`). */
  notes: string[]
}

export interface RenderedForFingerprint {
  /** Absolute path of the rendered fly.toml. */
  path: string
  config: Record<string, unknown>
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

export async function collectFingerprintInputs(
  plan: Plan,
  rendered: RenderedForFingerprint,
  registry: ResolveOptions = {},
): Promise<Collected> {
  const config = normalizeConfig(rendered.config, (localPath) => sha256(readFileSync(localPath)))
  const secrets = plan.secrets
  const overrides = {
    ...(plan.machineCommand ? { command: plan.machineCommand.argv } : {}),
    ...(plan.machineMemoryMb ? { memoryMb: plan.machineMemoryMb } : {}),
  }
  const compared = [
    'the rendered fly.toml (with the content of each [[files]] entry)',
    `${secrets.size} synced secret(s), by a salted hash of their values`,
    `machine overrides (${Object.keys(overrides).length ? Object.keys(overrides).join(', ') : 'none'})`,
  ]
  const image = await imageInputs(plan, rendered, registry)
  if ('doubt' in image) return { doubt: image.doubt, compared, notes: [] }
  compared.push(image.described)
  return { inputs: { config, secrets, overrides, image: image.inputs }, compared, notes: image.notes }
}

type ImageResult = { inputs: ImageInputs; described: string; notes: string[] } | { doubt: string }

async function imageInputs(
  plan: Plan,
  rendered: RenderedForFingerprint,
  registry: ResolveOptions,
): Promise<ImageResult> {
  const build = (rendered.config.build ?? {}) as Record<string, unknown>
  const image = plan.image ?? (typeof build.image === 'string' ? build.image : undefined)
  if (image) return { inputs: { image }, described: `the image ${image} (as given)`, notes: [] }
  if (typeof build.dockerfile !== 'string' || /^https?:\/\//i.test(build.dockerfile)) {
    return { doubt: 'the build has no local Dockerfile to fingerprint' }
  }
  // flyctl joins `[build] dockerfile` to the config's directory (deploy_build.go resolveDockerfilePath).
  const dockerfile = resolve(dirname(rendered.path), build.dockerfile)
  const ignorefile =
    typeof build.ignorefile === 'string' ? resolve(dirname(rendered.path), build.ignorefile) : undefined
  const text = await readFile(dockerfile)
  const buildArgs = [...tomlBuildArgs(build), ...plan.buildArgs]
  const bases = baseImages(text.toString('utf8'), new Map(buildArgs))
  if (bases.problems.length > 0)
    return { doubt: `the Dockerfile's base image cannot be read (${bases.problems.join('; ')})` }
  const resolved: Array<[string, string]> = []
  const results = await Promise.allSettled(
    bases.images.map(async (b) => {
      const ref = parseImageRef(b.ref)
      if (!ref) throw new Error(`${b.ref} is not an image reference`)
      return [formatImageRef(ref), await resolveDigest(ref, registry)] as [string, string]
    }),
  )
  for (const [index, r] of results.entries()) {
    if (r.status === 'rejected')
      return {
        doubt: `the base image ${bases.images[index]?.ref} could not be resolved: ${(r.reason as Error).message}`,
      }
    resolved.push(r.value)
  }
  const context = await hashBuildContext({
    contextDir: plan.workingDirectory,
    dockerfile,
    ...(ignorefile ? { ignorefile } : {}),
  })
  const described =
    `the Dockerfile, ${context.files} file(s) of the build context as the ignore file leaves them, ${buildArgs.length} build arg(s), ` +
    `base image(s) ${resolved.map(([ref, digest]) => `${ref} = ${digest}`).join(', ') || 'none'}`
  const notes = context.includesGit
    ? [
        'The build context includes .git, which changes with every checkout: add `.git` to .dockerignore so that a run with nothing new makes no release.',
      ]
    : []
  return {
    inputs: {
      dockerfile: sha256(text),
      context: context.digest,
      buildArgs,
      bases: resolved,
      deployArgs: plan.deployArgs,
    },
    described,
    notes,
  }
}

/** `[build.args]` of the config: flyctl passes them as build args, before `--build-arg`. */
function tomlBuildArgs(build: Record<string, unknown>): Array<[string, string]> {
  const args = build.args
  if (!args || typeof args !== 'object' || Array.isArray(args)) return []
  return Object.entries(args as Record<string, unknown>).map(([k, v]) => [k, String(v)])
}
