import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

/**
 * The user examples in examples/: each uses the action with inputs it really has and keeps one
 * deployment per app at a time, in a GitHub environment. GitHub's parser (@actions/workflow-parser)
 * checks their syntax and expressions in workflows.test.ts.
 */
const root = path.resolve(import.meta.dirname, '../../..')
const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> }
const inputNames = new Set(Object.keys(action.inputs))

type Step = { id?: string; uses?: string; with?: Record<string, unknown> }
type Job = {
  steps: Step[]
  environment?: { name?: string; url?: string }
  'timeout-minutes'?: number
  permissions?: Record<string, string>
}
type Workflow = {
  on: Record<string, unknown>
  concurrency?: { group?: string; 'cancel-in-progress'?: boolean }
  permissions?: Record<string, string>
  jobs: Record<string, Job>
}

const examples = ['push-to-deploy.yml', 'scheduled-redeploy.yml', 'private-deployment.yml']
const load = (name: string) => parse(fs.readFileSync(path.join(root, 'examples', name), 'utf8')) as Workflow

describe('examples', () => {
  for (const name of examples) {
    it(`${name}: one deployment per app at a time, and only real inputs`, () => {
      const workflow = load(name)
      expect(workflow.concurrency).toEqual({ group: 'fly-deploy-${{ vars.FLY_APP }}', 'cancel-in-progress': false })
      const steps = Object.values(workflow.jobs)
        .flatMap((job) => job.steps)
        .filter((s) => s.uses === 'openclaw/fly-deploy@v1')
      expect(steps).toHaveLength(1)
      const used = Object.keys(steps[0]!.with ?? {})
      expect(used.filter((k) => !inputNames.has(k))).toEqual([])
      expect(used).toEqual(expect.arrayContaining(['app', 'api-token']))
    })
  }

  for (const name of examples) {
    it(`${name}: deploys to a protected environment with least permissions and a time limit`, () => {
      const workflow = load(name)
      // Read-only GITHUB_TOKEN: the action needs no GitHub write access to deploy.
      expect(workflow.permissions).toEqual({ contents: 'read' })
      for (const job of Object.values(workflow.jobs)) {
        expect(job['timeout-minutes'], name).toBeGreaterThan(0)
        expect(job.environment?.name, name).toBe('production')
        expect(job.steps.find((s) => s.uses === 'openclaw/fly-deploy@v1')?.id, name).toBe('deploy')
        // A private app has no public URL (app-url is empty); the others record it with the deployment.
        if (name === 'private-deployment.yml') expect(job.environment?.url).toBeUndefined()
        else expect(job.environment?.url).toBe('${{ steps.deploy.outputs.app-url }}')
      }
    })
  }

  it('pins third-party actions by commit SHA, the tag in a comment', () => {
    for (const name of examples) {
      const text = fs.readFileSync(path.join(root, 'examples', name), 'utf8')
      for (const m of text.matchAll(/uses: (actions\/[\w-]+)@(\S+)/g))
        expect(m[2], `${name}: ${m[1]}`).toMatch(/^[0-9a-f]{40}$/)
    }
  })

  it('scheduled-redeploy runs on a cron and on demand', () => {
    expect(Object.keys(load('scheduled-redeploy.yml').on).sort()).toEqual(['schedule', 'workflow_dispatch'])
  })

  it('scheduled-redeploy relies on skip-unchanged, so a night with nothing new restarts nothing', () => {
    const step = Object.values(load('scheduled-redeploy.yml').jobs)
      .flatMap((job) => job.steps)
      .find((s) => s.uses === 'openclaw/fly-deploy@v1')
    expect(step?.with?.['skip-unchanged']).toBe(true)
  })

  it('preview runs on the four pull request actions, one run per pull request, and may comment', () => {
    const workflow = load('preview.yml') as Workflow & { permissions?: Record<string, string> }
    expect(workflow.on).toEqual({ pull_request: { types: ['opened', 'reopened', 'synchronize', 'closed'] } })
    expect(workflow.concurrency).toEqual({
      group: 'fly-preview-${{ vars.FLY_APP }}-${{ github.event.pull_request.number }}',
      'cancel-in-progress': false,
    })
    expect(workflow.permissions?.['pull-requests']).toBe('write')
    const step = Object.values(workflow.jobs)
      .flatMap((job) => job.steps)
      .find((s) => s.uses === 'openclaw/fly-deploy@v1')
    expect(step?.with).toMatchObject({ mode: 'preview', 'github-token': '${{ github.token }}' })
    expect(Object.keys(step?.with ?? {}).filter((k) => !inputNames.has(k))).toEqual([])
  })

  it('cleanup-previews runs on a schedule with a github-token', () => {
    const workflow = load('cleanup-previews.yml')
    expect(Object.keys(workflow.on).sort()).toEqual(['schedule', 'workflow_dispatch'])
    const step = Object.values(workflow.jobs)
      .flatMap((job) => job.steps)
      .find((s) => s.uses === 'openclaw/fly-deploy@v1')
    expect(step?.with).toMatchObject({ mode: 'cleanup-previews', 'github-token': '${{ github.token }}' })
    expect(Object.keys(step?.with ?? {}).filter((k) => !inputNames.has(k))).toEqual([])
  })

  it('private-deployment deploys the private variant', () => {
    const steps = Object.values(load('private-deployment.yml').jobs).flatMap((job) => job.steps)
    expect(steps.find((s) => s.uses === 'openclaw/fly-deploy@v1')?.with?.private).toBe(true)
  })
})
