import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

/**
 * The user examples in examples/: each uses the action with inputs it really has and keeps one
 * deployment per app at a time. GitHub's parser checks their syntax in workflows.test.ts.
 */
const root = path.resolve(import.meta.dirname, '..')
const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> }
const inputNames = new Set(Object.keys(action.inputs))

type Step = { uses?: string; with?: Record<string, unknown> }
type Workflow = { on: Record<string, unknown>; concurrency?: { group?: string; 'cancel-in-progress'?: boolean }; jobs: Record<string, { steps: Step[] }> }

const examples = ['push-to-deploy.yml', 'scheduled-redeploy.yml', 'private-deployment.yml']
const load = (name: string) => parse(fs.readFileSync(path.join(root, 'examples', name), 'utf8')) as Workflow

describe('examples', () => {
  for (const name of examples) {
    it(`${name}: one deployment per app at a time, and only real inputs`, () => {
      const workflow = load(name)
      expect(workflow.concurrency).toEqual({ group: 'fly-deploy-${{ vars.FLY_APP }}', 'cancel-in-progress': false })
      const steps = Object.values(workflow.jobs).flatMap((job) => job.steps).filter((s) => s.uses === 'openclaw/fly-deploy@v1')
      expect(steps).toHaveLength(1)
      const used = Object.keys(steps[0]!.with ?? {})
      expect(used.filter((k) => !inputNames.has(k))).toEqual([])
      expect(used).toEqual(expect.arrayContaining(['app', 'api-token']))
    })
  }

  it('scheduled-redeploy runs on a cron and on demand', () => {
    expect(Object.keys(load('scheduled-redeploy.yml').on).sort()).toEqual(['schedule', 'workflow_dispatch'])
  })

  it('preview runs on the four pull request actions, one run per pull request, and may comment', () => {
    const workflow = load('preview.yml') as Workflow & { permissions?: Record<string, string> }
    expect(workflow.on).toEqual({ pull_request: { types: ['opened', 'reopened', 'synchronize', 'closed'] } })
    expect(workflow.concurrency).toEqual({ group: 'fly-preview-${{ vars.FLY_APP }}-${{ github.event.pull_request.number }}', 'cancel-in-progress': false })
    expect(workflow.permissions?.['pull-requests']).toBe('write')
    const step = Object.values(workflow.jobs).flatMap((job) => job.steps).find((s) => s.uses === 'openclaw/fly-deploy@v1')
    expect(step?.with).toMatchObject({ mode: 'preview', 'github-token': '${{ github.token }}' })
    expect(Object.keys(step?.with ?? {}).filter((k) => !inputNames.has(k))).toEqual([])
  })

  it('cleanup-previews runs on a schedule with a github-token', () => {
    const workflow = load('cleanup-previews.yml')
    expect(Object.keys(workflow.on).sort()).toEqual(['schedule', 'workflow_dispatch'])
    const step = Object.values(workflow.jobs).flatMap((job) => job.steps).find((s) => s.uses === 'openclaw/fly-deploy@v1')
    expect(step?.with).toMatchObject({ mode: 'cleanup-previews', 'github-token': '${{ github.token }}' })
    expect(Object.keys(step?.with ?? {}).filter((k) => !inputNames.has(k))).toEqual([])
  })

  it('private-deployment deploys the private variant', () => {
    const steps = Object.values(load('private-deployment.yml').jobs).flatMap((job) => job.steps)
    expect(steps.find((s) => s.uses === 'openclaw/fly-deploy@v1')?.with?.private).toBe(true)
  })
})
