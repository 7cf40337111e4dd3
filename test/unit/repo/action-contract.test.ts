import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { INPUT_NAMES } from '../../../src/inputs/parse-inputs.js'

/**
 * action.yml, docs/CONTRACT.md and the inputs schema must agree: a name missing in one of them is an input
 * that users can set but nothing reads, or one we read that users cannot set.
 */
const root = path.resolve(import.meta.dirname, '../../..')
const action = parseYaml(fs.readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
  name: string
  description: string
  author: string
  branding: { icon: string; color: string }
  inputs: Record<string, { description: string; required?: boolean; default?: string }>
  outputs: Record<string, { description: string }>
  runs: { using: string; main: string }
}

/** docs/CONTRACT.md's tables: `| \`name\` | default | meaning |` under Inputs, `| \`name\` | meaning |` under Outputs. */
function readContract(): { inputs: Map<string, string>; outputs: string[] } {
  const text = fs.readFileSync(path.join(root, 'docs/CONTRACT.md'), 'utf8')
  const section = (title: string): string[] => {
    const start = text.indexOf(`\n## ${title}\n`)
    const end = text.indexOf('\n## ', start + 1)
    return text.slice(start, end === -1 ? undefined : end).split('\n')
  }
  const inputs = new Map<string, string>()
  for (const line of section('Inputs')) {
    const m = /^\| `([a-z-]+)` \| (.*?) \|/.exec(line)
    if (m) inputs.set(m[1] as string, (m[2] as string).trim())
  }
  const outputs = section('Outputs').flatMap((line) => /^\| `([a-z-]+)` \|/.exec(line)?.[1] ?? [])
  return { inputs, outputs }
}

/**
 * Inputs whose action.yml default is empty on purpose: the runner fills defaults in before we run,
 * so a literal default would always override a `config` file (or hide whether the user set it).
 * The action applies the contract's default itself, and the description must name it.
 */
const DEFAULT_APPLIED_IN_CODE = new Set([
  'api-token',
  'region',
  'port',
  'bind',
  'command',
  'vm-size',
  'memory',
  'volume',
  'state-dir',
  'dockerfile',
  'secrets-include',
  'flyctl-version',
])

describe('action.yml', () => {
  it('is a node24 action with Marketplace metadata', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' })
    expect(action.name).toBeTruthy()
    expect(action.author).toBeTruthy()
  })

  // The Marketplace refuses a description of 125 characters or more, and branding colours outside
  // its list (docs.github.com, "Metadata syntax for GitHub Actions", branding).
  it('passes the Marketplace checks: short description, branding, LICENSE', () => {
    expect(action.description.length).toBeLessThan(125)
    expect(action.branding.icon).toMatch(/^[a-z0-9-]+$/)
    expect(['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark']).toContain(
      action.branding.color,
    )
    const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')
    expect(license).toMatch(/^MIT License/)
    expect(license).toContain('OpenClaw contributors')
  })

  it('has a changelog with an Unreleased section and one for the package version', () => {
    const changelog = fs.readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8')
    const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
      .version
    expect(changelog).toMatch(/^## \[Unreleased\]$/m)
    expect(changelog).toMatch(new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\]`, 'm'))
  })

  it("README reads in a new user's order, with the set-up commands in its first 40 lines", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
    expect(readme.split('\n').slice(0, 40).join('\n')).toMatch(/npm run demo[\s\S]*npm test/)
    const order = [
      '## Usage',
      '## Try it',
      '## Inputs',
      '## Outputs',
      '## Examples',
      '## Errors',
      '## Security',
      '## Releases and versions',
    ]
    const at = order.map((heading) => readme.indexOf(`\n${heading}`))
    expect(
      at.every((i) => i > 0),
      JSON.stringify(Object.fromEntries(order.map((h, i) => [h, at[i]]))),
    ).toBe(true)
    expect([...at].sort((a, b) => a - b)).toEqual(at)
  })

  it('declares exactly the inputs the schema reads, each described', () => {
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES].sort())
    for (const [name, input] of Object.entries(action.inputs)) {
      expect(input.description, name).toMatch(/\w{3}/)
      expect(input.required ?? false, name).toBe(name === 'app')
    }
  })

  it('agrees with docs/CONTRACT.md on input names and defaults', () => {
    const spec = readContract()
    expect([...spec.inputs.keys()].sort()).toEqual([...INPUT_NAMES].sort())
    for (const [name, specDefault] of spec.inputs) {
      const input = action.inputs[name]
      expect(input, name).toBeDefined()
      const literal = /^`([^`]*)`$/.exec(specDefault)
      if (DEFAULT_APPLIED_IN_CODE.has(name)) {
        expect(input?.default ?? '', name).toBe('')
        if (literal && name !== 'api-token')
          expect(input?.description, name).toContain(literal[1] === 'Dockerfile' ? 'Dockerfile' : literal[1])
      } else if (literal) {
        expect(input?.default, name).toBe(literal[1])
      } else if (specDefault === 'empty') {
        expect(input?.default ?? '', name).toBe('')
      }
    }
  })

  it('declares exactly the outputs of docs/CONTRACT.md', () => {
    const spec = readContract()
    expect(Object.keys(action.outputs).sort()).toEqual([...new Set(spec.outputs)].sort())
  })
})
