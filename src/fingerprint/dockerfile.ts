/**
 * The base images a Dockerfile builds from: every `FROM` that names an image (not an earlier
 * stage, not `scratch`), with the ARGs declared before the first FROM expanded the way BuildKit
 * does (a `--build-arg` wins over the ARG's default). Pure; what it cannot read is a problem,
 * and a problem means the release cannot be fingerprinted (the run deploys).
 */

export interface BaseImage {
  /** The image reference after ARG expansion, as the builder would pull it. */
  ref: string
  /** 1-based line of the FROM. */
  line: number
}

export interface BaseImages {
  images: BaseImage[]
  /** Why a FROM could not be read (an ARG without a value, a parse error), per line. */
  problems: string[]
}

interface Instruction {
  keyword: string
  rest: string
  line: number
}

/** Instructions with line continuations joined and comments dropped (`# escape=` honoured). */
function instructions(text: string): Instruction[] {
  const lines = text.split(/\r?\n/)
  const directive = /^#\s*escape\s*=\s*([\\`])\s*$/i.exec(lines[0] ?? '')
  const escape = directive?.[1] ?? '\\'
  const out: Instruction[] = []
  let current: { text: string; line: number } | undefined
  for (const [index, raw] of lines.entries()) {
    const trimmed = raw.trim()
    if (current === undefined && (trimmed === '' || trimmed.startsWith('#'))) continue
    if (current !== undefined && trimmed.startsWith('#')) continue
    const continues = trimmed.endsWith(escape)
    const piece = continues ? trimmed.slice(0, -1) : trimmed
    current = current ? { text: `${current.text} ${piece}`, line: current.line } : { text: piece, line: index + 1 }
    if (!continues) {
      const m = /^(\S+)\s*(.*)$/.exec(current.text.trim())
      if (m) out.push({ keyword: (m[1] as string).toUpperCase(), rest: m[2] as string, line: current.line })
      current = undefined
    }
  }
  return out
}

/** `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alt}`; undefined when a variable has no value. */
function expand(text: string, vars: ReadonlyMap<string, string>): string | undefined {
  let missing = false
  const result = text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_m, braced, op, word, bare) => {
      const name = (braced ?? bare) as string
      const value = vars.get(name)
      if (op === '-') return value ? value : (word as string)
      if (op === '+') return value ? (word as string) : ''
      if (value === undefined || value === '') missing = true
      return value ?? ''
    },
  )
  return missing ? undefined : result
}

/** `ARG a=1 b c="x y"`: name/default pairs. */
function argDeclarations(rest: string): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = []
  for (const m of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
    const raw = m[2]
    out.push([m[1] as string, raw === undefined ? undefined : raw.replace(/^(["'])(.*)\1$/, '$2')])
  }
  return out
}

export function baseImages(text: string, buildArgs: ReadonlyMap<string, string>): BaseImages {
  const globals = new Map<string, string>()
  const stages = new Set<string>()
  const images: BaseImage[] = []
  const problems: string[] = []
  let seenFrom = false
  for (const ins of instructions(text)) {
    if (ins.keyword === 'ARG' && !seenFrom) {
      for (const [name, value] of argDeclarations(ins.rest)) {
        const v = buildArgs.get(name) ?? value
        if (v !== undefined) globals.set(name, v)
      }
      continue
    }
    if (ins.keyword !== 'FROM') continue
    seenFrom = true
    const words = ins.rest.split(/\s+/).filter((w) => w !== '')
    while (words[0]?.startsWith('--')) words.shift()
    const [image, as, name] = words
    if (!image) {
      problems.push(`line ${ins.line}: FROM names no image`)
      continue
    }
    const ref = expand(image, globals)
    // An earlier stage's name refers to that stage, not to an image.
    const fromStage = ref !== undefined && stages.has(ref.toLowerCase())
    if (as?.toUpperCase() === 'AS' && name) stages.add(name.toLowerCase())
    if (ref === undefined) {
      problems.push(`line ${ins.line}: FROM ${image} uses a build ARG that has no value`)
      continue
    }
    if (ref.toLowerCase() === 'scratch' || fromStage) continue
    images.push({ ref, line: ins.line })
  }
  return { images, problems }
}
