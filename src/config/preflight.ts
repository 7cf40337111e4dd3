import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import type { Flyctl } from '../fly/flyctl.js'
import { READING } from '../fly/flyctl.js'
import { MACHINE_SIZES, memoryProblem } from '../fly/machine-sizes.js'
import type { Plan } from '../inputs/plan.js'
import { displayPath, type RenderResult } from './render.js'
import { isTable, type TomlTable } from './toml-source.js'
import { parseMemoryMb } from '../shared/units.js'
import type { Finding } from './finding.js'

/**
 * docs/CONTRACT.md, "Refused before anything changes on Fly": what Fly itself would refuse only after the app
 * was created or the build ran (a region it does not have, memory the size cannot hold, no
 * Dockerfile to build), checked on the rendered config before the first mutating call, dry runs
 * included. A table of small rules over one set of facts; the edge gathers the facts.
 */

export interface PreflightFacts {
  /** Region codes `fly platform regions --json` lists; undefined when it could not be read. */
  regions?: string[]
  workspace?: string
}

type Where = Pick<Finding, 'input' | 'file' | 'line'>
interface RuleContext {
  result: RenderResult
  plan: Plan
  facts: PreflightFacts
  from(key: string): Where
}
type Rule = (ctx: RuleContext) => Finding[]

const error = (rule: string, message: string, where: Where): Finding[] => [{ level: 'error', rule, message, ...where }]

/** The app's [[vm]] entry (the first one without processes, or for `app`). */
function appVm(config: TomlTable): TomlTable | undefined {
  const entries = ['vm', 'compute', 'computes'].flatMap((k) =>
    isTable(config[k])
      ? [config[k] as TomlTable]
      : Array.isArray(config[k])
        ? (config[k] as unknown[]).filter(isTable)
        : [],
  )
  return entries.find((e) => !Array.isArray(e.processes) || e.processes.includes('app'))
}

const regionRule: Rule = ({ result, facts, from }) => {
  const region = result.config.primary_region
  if (typeof region !== 'string' || !facts.regions || facts.regions.includes(region)) return []
  return error(
    'region',
    `"${region}" is not a Fly region (\`fly platform regions\` lists ${facts.regions.join(', ')}). Fix: set \`region\` to one of them, such as \`iad\`.`,
    from('primary_region'),
  )
}

const sizeRule: Rule = ({ result, from }) => {
  const vm = appVm(result.config)
  if (typeof vm?.size !== 'string' || MACHINE_SIZES[vm.size]) return []
  return error(
    'vm-size',
    `"${vm.size}" is not a Fly machine size (fly-go machine_types.go). Fix: set \`vm-size\` to one of ${Object.keys(MACHINE_SIZES).join(', ')}.`,
    from('vm.size'),
  )
}

const memoryRule: Rule = ({ result, plan, from }) => {
  const vm = appVm(result.config)
  const size = typeof vm?.size === 'string' ? vm.size : 'shared-cpu-1x'
  const key = vm?.memory_mb !== undefined ? 'vm.memory_mb' : 'vm.memory'
  const mb = parseMemoryMb(vm?.memory_mb ?? vm?.memory)
  const problems: Finding[] = []
  const memory = mb === undefined ? undefined : memoryProblem(size, mb)
  if (memory) problems.push(...error('memory', `the VM size ${size}: ${memory}`, from(key)))
  const machine = plan.machineMemoryMb === undefined ? undefined : memoryProblem(size, plan.machineMemoryMb)
  if (machine)
    problems.push(
      ...error(
        'memory',
        `\`machine-memory\` with the VM size ${size}: ${machine.replace('set `memory`', 'set `machine-memory`')}`,
        {
          input: 'machine-memory',
        },
      ),
    )
  return problems
}

const dockerfileRule: Rule = ({ result, facts, from }) => {
  const build = isTable(result.config.build) ? result.config.build : {}
  if (build.image !== undefined || build.builder !== undefined || build.buildpacks !== undefined) return []
  const given = typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile'
  if (/^https?:\/\//i.test(given)) return []
  const path = resolve(dirname(result.path), given)
  if (existsSync(path)) return []
  return error(
    'dockerfile',
    `no Dockerfile at ${displayPath(path, facts.workspace)}, so \`fly deploy\` has nothing to build. Fix: add the Dockerfile (the openclaw repository's own works), set \`dockerfile\` to its path, or set \`image\` to a built image such as \`ghcr.io/openclaw/openclaw:2026.9.6\`.`,
    from('build.dockerfile'),
  )
}

/**
 * Fly refuses `bluegreen` and `canary` for an app with mounts (flyctl internal/appconfig/validation.go
 * for canary; Fly's docs, Deployment strategies, for blue-green: green machines would need volumes
 * of their own), but only at `fly deploy`, after the app, the volume and the secrets were made. The
 * rendered config always mounts the state volume, whatever the source, so both are refused here.
 */
const strategyRule: Rule = ({ result, plan, from }) => {
  const deploySection = isTable(result.config.deploy) ? result.config.deploy : {}
  const strategy = plan.strategy ?? (typeof deploySection.strategy === 'string' ? deploySection.strategy : undefined)
  if (strategy !== 'bluegreen' && strategy !== 'canary') return []
  const mounts = result.config.mounts
  const mounted = isTable(mounts) || (Array.isArray(mounts) && mounts.length > 0)
  if (!mounted) return []
  return error(
    'strategy',
    `\`${strategy}\` cannot be used with a volume, and the rendered config mounts one (the gateway's state volume): Fly refuses ${strategy} deployments of apps with mounts. Fix: use \`rolling\` (the default) or \`immediate\`.`,
    plan.strategy !== undefined ? { input: 'strategy' } : from('deploy.strategy'),
  )
}

export const PREFLIGHT_RULES: Rule[] = [regionRule, sizeRule, memoryRule, dockerfileRule, strategyRule]

export function preflightFindings(result: RenderResult, plan: Plan, facts: PreflightFacts): Finding[] {
  const from = (key: string): Where => {
    const input = result.inputOf(key)
    if (input) return { input: input.replace(/ \(default.*\)$/, '') }
    if (!result.sourceFile) return {}
    const line = result.lineOf(key)
    return line ? { input: 'config', file: result.sourceFile, line } : { input: 'config', file: result.sourceFile }
  }
  return PREFLIGHT_RULES.flatMap((rule) => rule({ result, plan, facts, from }))
}

// ---------------------------------------------------------------------------------------------
// Edge

/** fly-go types.go Region, the fields read here (`fly platform regions --json`). */
const RegionListSchema = z.array(z.looseObject({ code: z.string() }))

/** The region codes Fly lists, or undefined (with a warning) when the call fails. */
export async function readRegions(flyctl: Flyctl, warn: (m: string) => void): Promise<string[] | undefined> {
  try {
    const regions = await flyctl.json(['platform', 'regions'], RegionListSchema, { retry: READING })
    return regions.map((r) => r.code)
  } catch (err) {
    warn(
      `Could not list Fly's regions (\`fly platform regions --json\`), so the region is not checked before deploying: ${err instanceof Error ? err.message : String(err)}`,
    )
    return undefined
  }
}
