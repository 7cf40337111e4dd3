import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * docs/DESIGN.md lists every file and folder of src/ and standin/ with one line each, so that a
 * newcomer finds where a concept lives; a file added without its line fails here.
 */
const root = path.resolve(import.meta.dirname, '../../..')
const design = fs.readFileSync(path.join(root, 'docs/DESIGN.md'), 'utf8')

/** The paths listed in a `| \`path\` | ... |` table under the given heading. */
function listed(heading: string): Set<string> {
  const start = design.indexOf(heading)
  const end = design.indexOf('\n## ', start + 1)
  const rows = design.slice(start, end === -1 ? undefined : end).split('\n')
  return new Set(rows.flatMap((row) => /^\| `([^`]+)` \|/.exec(row)?.[1] ?? []))
}

/** Every file and folder under dir, relative to it; folders end with `/`. */
function walk(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${prefix}${entry.name}`
    return entry.isDirectory() ? [`${rel}/`, ...walk(dir, `${rel}/`)] : [rel]
  })
}

describe('docs/DESIGN.md', () => {
  for (const [folder, heading] of [
    ['src', '## src/, file by file'],
    ['standin', '## The flyctl stand-in'],
  ] as const) {
    it(`lists every file and folder of ${folder}/`, () => {
      const missing = walk(path.join(root, folder)).filter((p) => !listed(heading).has(p))
      expect(missing).toEqual([])
    })
  }

  it('lists no path that does not exist', () => {
    const gone = [...listed('## src/, file by file')]
      .map((p) => `src/${p}`)
      .concat([...listed('## The flyctl stand-in')].map((p) => `standin/${p}`))
      .filter((p) => !fs.existsSync(path.join(root, p)))
    expect(gone).toEqual([])
  })
})
