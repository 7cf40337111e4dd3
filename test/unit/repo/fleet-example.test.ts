import * as fs from 'node:fs'
import * as path from 'node:path'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

/**
 * examples/fleet.yml: many gateways from one workflow. GitHub's own parser accepts it
 * (here and in workflows.test.ts, with every example); then its shape: the matrix comes from a JSON
 * file in the repository through a first job's output, one gateway's failure cancels no other, a
 * bounded number roll at once, one deployment per app at a time, and each gateway gets its own
 * secrets through `secrets-prefix` and its own environment.
 */
const root = path.resolve(import.meta.dirname, '../../..')
const text = fs.readFileSync(path.join(root, 'examples', 'fleet.yml'), 'utf8')
const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> }
// `secrets-prefix` is in docs/CONTRACT.md's inputs; action.yml gains it with the previews work.
const inputNames = new Set([...Object.keys(action.inputs), 'secrets-prefix'])

type Step = { id?: string; uses?: string; run?: string; with?: Record<string, unknown> }
type Job = {
  needs?: string | string[]
  outputs?: Record<string, string>
  strategy?: { 'fail-fast'?: boolean; 'max-parallel'?: number; matrix?: unknown }
  concurrency?: { group?: string; 'cancel-in-progress'?: boolean }
  environment?: { name?: string; url?: string }
  permissions?: Record<string, string>
  'timeout-minutes'?: number
  steps: Step[]
}
const workflow = parse(text) as { permissions?: Record<string, string>; jobs: Record<string, Job> }
const fleet = workflow.jobs.fleet as Job
const deploy = workflow.jobs.deploy as Job
const step = deploy.steps.find((s) => s.uses === 'openclaw/fly-deploy@v1') as Step

describe('examples/fleet.yml', () => {
  it("passes GitHub's workflow parser", () => {
    const result = parseWorkflow({ name: 'fleet.yml', content: text }, new NoOperationTraceWriter())
    expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([])
  })

  it('reads the matrix from a JSON file in the repository, in a first job, as one line of output', () => {
    const read = fleet.steps.find((s) => s.run?.includes('GITHUB_OUTPUT'))
    expect(read?.run).toMatch(/jq -c \. \.github\/fleet\.json/)
    expect(fleet.outputs?.matrix).toBe(`\${{ steps.${read?.id}.outputs.matrix }}`)
    expect(deploy.needs).toBe('fleet')
    expect(deploy.strategy?.matrix).toBe('${{ fromJSON(needs.fleet.outputs.matrix) }}')
  })

  it('the sample fleet.json has the keys the workflow reads, and valid, distinct app names', () => {
    const sample = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'fleet.json'), 'utf8')) as {
      include: Array<Record<string, string>>
    }
    const used = new Set([...text.matchAll(/matrix\.([a-z]+)/g)].map((m) => m[1]))
    for (const entry of sample.include) expect(Object.keys(entry).sort()).toEqual([...used].sort())
    const apps = sample.include.map((e) => e.app as string)
    expect(new Set(apps).size).toBe(apps.length)
    for (const app of apps) expect(app).toMatch(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/)
    const prefixes = sample.include.map((e) => e.prefix as string)
    expect(new Set(prefixes).size).toBe(prefixes.length)
  })

  it('fans out without fail-fast, a bounded number at once, one deployment per app at a time', () => {
    expect(deploy.strategy?.['fail-fast']).toBe(false)
    expect(deploy.strategy?.['max-parallel']).toBeGreaterThan(0)
    expect(deploy.concurrency).toEqual({ group: 'fly-deploy-${{ matrix.app }}', 'cancel-in-progress': false })
  })

  it('gives each gateway its own secrets, environment, permissions and time limit', () => {
    expect(step.with?.app).toBe('${{ matrix.app }}')
    expect(step.with?.['secrets-prefix']).toBe('${{ matrix.prefix }}')
    expect(step.with?.['secrets-json']).toBe('${{ toJSON(secrets) }}')
    expect(deploy.environment?.name).toBe('${{ matrix.environment }}')
    expect(deploy.environment?.url).toBe('${{ steps.fly.outputs.app-url }}')
    expect(workflow.permissions).toEqual({ contents: 'read' })
    expect(deploy.permissions).toEqual({ contents: 'read' })
    for (const job of [fleet, deploy]) expect(job['timeout-minutes']).toBeGreaterThan(0)
  })

  it('uses only inputs the action has', () => {
    expect(Object.keys(step.with ?? {}).filter((k) => !inputNames.has(k))).toEqual([])
  })
})
