// A small cobra/pflag: the command tree, flag parsing and the refusals flyctl prints for bad
// command lines. Texts follow spf13/cobra v1.10 (args.go, command.go) and spf13/pflag (flag.go),
// as flyctl uses them (internal/cli/cli.go prints `Error: <msg>`; cobra prints the usage first on
// flag and argument errors because flyctl only sets SilenceUsage in PersistentPreRun).
import { FlyError } from '../platform/state.ts'

export type FlagKind = 'bool' | 'string' | 'int' | 'float' | 'stringArray' | 'stringSlice'

export interface FlagSpec {
  name: string
  short?: string
  kind: FlagKind
  aliases?: string[]
  default?: string | number | boolean
  /** Value when given without `=value` (pflag NoOptDefVal). */
  noOptDefVal?: string
  hidden?: boolean
  usage?: string
}

export type ArgsRule =
  | { kind: 'none' }
  | { kind: 'exact'; n: number }
  | { kind: 'min'; n: number }
  | { kind: 'max'; n: number }
  | { kind: 'range'; min: number; max: number }
  | { kind: 'any' }

export interface Parsed {
  flags: Map<string, string | number | boolean | string[]>
  /** Names of the flags given on the command line. */
  given: Set<string>
  args: string[]
}

export interface CommandSpec {
  name: string
  use?: string
  aliases?: string[]
  short?: string
  flags?: FlagSpec[]
  args?: ArgsRule
  sub?: CommandSpec[]
  run?: (parsed: Parsed, path: CommandSpec[]) => Promise<number>
}

export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'access-token', short: 't', kind: 'string', usage: 'Fly API Access Token' },
  { name: 'verbose', kind: 'bool', usage: 'Verbose output' },
  { name: 'debug', kind: 'bool', usage: 'Print additional logs and traces' },
]
const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', kind: 'bool' }

export function isRunnable(cmd: CommandSpec): boolean {
  return typeof cmd.run === 'function'
}

export function findChild(cmd: CommandSpec, word: string): CommandSpec | undefined {
  return cmd.sub?.find((c) => c.name === word || (c.aliases ?? []).includes(word))
}

function allFlags(cmd: CommandSpec, isRoot: boolean): FlagSpec[] {
  const flags = [...(cmd.flags ?? []), ...GLOBAL_FLAGS, HELP_FLAG]
  if (isRoot) flags.push({ name: 'version', short: 'v', kind: 'bool' })
  return flags
}

function lookupLong(flags: FlagSpec[], name: string): FlagSpec | undefined {
  return flags.find((f) => f.name === name || (f.aliases ?? []).includes(name))
}

function lookupShort(flags: FlagSpec[], short: string): FlagSpec | undefined {
  return flags.find((f) => f.short === short)
}

/**
 * cobra's Find: at each level take the first word that is not a flag (a flag of the command found
 * so far that takes a value swallows the next word) and descend if it names a subcommand.
 */
export function resolveCommand(
  root: CommandSpec,
  argv: string[],
): { path: CommandSpec[]; rest: string[]; typed: string[]; unknown?: string } {
  const path = [root]
  const typed: string[] = []
  let unknown: string | undefined
  let current = root
  const rest = [...argv]
  while (current.sub?.length) {
    const flags = allFlags(current, current === root)
    const takesValue = (f: FlagSpec | undefined) => f !== undefined && f.kind !== 'bool' && f.noOptDefVal === undefined
    let at = -1
    for (let i = 0; i < rest.length; i++) {
      const word = rest[i] as string
      if (word === '--') break
      if (word.startsWith('--')) {
        if (!word.includes('=') && takesValue(lookupLong(flags, word.slice(2)))) i++
      } else if (word.startsWith('-') && word.length > 1) {
        if (word.length === 2 && takesValue(lookupShort(flags, word.slice(1)))) i++
      } else {
        at = i
        break
      }
    }
    const child = at >= 0 ? findChild(current, rest[at] as string) : undefined
    if (!child) {
      if (at >= 0 && current === root) unknown = rest[at]
      break
    }
    typed.push(rest[at] as string)
    rest.splice(at, 1)
    path.push(child)
    current = child
  }
  return { path, rest, typed, unknown }
}

function quoteFlag(f: FlagSpec): string {
  return f.short ? `-${f.short}, --${f.name}` : `--${f.name}`
}

function convert(f: FlagSpec, raw: string): string | number | boolean {
  switch (f.kind) {
    case 'bool': {
      const v = raw.toLowerCase()
      if (['1', 't', 'true'].includes(raw) || v === 'true') return true
      if (['0', 'f', 'false'].includes(raw) || v === 'false') return false
      throw new FlyError(
        `invalid argument "${raw}" for "${quoteFlag(f)}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
      )
    }
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) {
        throw new FlyError(
          `invalid argument "${raw}" for "${quoteFlag(f)}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`,
        )
      }
      return Number(raw)
    case 'float':
      if (Number.isNaN(Number(raw)) || raw.trim() === '') {
        throw new FlyError(
          `invalid argument "${raw}" for "${quoteFlag(f)}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`,
        )
      }
      return Number(raw)
    default:
      return raw
  }
}

/** pflag's parse over the words left after the command path; errors carry pflag's texts. */
export function parseFlags(cmd: CommandSpec, isRoot: boolean, words: string[]): Parsed {
  const flags = allFlags(cmd, isRoot)
  const values = new Map<string, string | number | boolean | string[]>()
  const given = new Set<string>()
  const args: string[] = []
  for (const f of flags) {
    if (f.default !== undefined) values.set(f.name, f.default)
    else if (f.kind === 'bool') values.set(f.name, false)
    else if (f.kind === 'stringArray' || f.kind === 'stringSlice') values.set(f.name, [])
    else if (f.kind === 'int' || f.kind === 'float') values.set(f.name, 0)
    else values.set(f.name, '')
  }
  const set = (f: FlagSpec, raw: string) => {
    if (f.kind === 'stringArray' || f.kind === 'stringSlice') {
      const prev = given.has(f.name) ? (values.get(f.name) as string[]) : []
      const add = f.kind === 'stringSlice' ? raw.split(',').filter((s) => s !== '') : [raw]
      values.set(f.name, [...prev, ...add])
    } else {
      values.set(f.name, convert(f, raw))
    }
    given.add(f.name)
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string
    if (word === '--') {
      args.push(...words.slice(i + 1))
      break
    }
    if (word.startsWith('--')) {
      const body = word.slice(2)
      const eq = body.indexOf('=')
      const name = eq >= 0 ? body.slice(0, eq) : body
      const f = lookupLong(flags, name)
      if (!f) throw new FlyError(`unknown flag: --${name}`)
      if (eq >= 0) set(f, body.slice(eq + 1))
      else if (f.kind === 'bool') set(f, 'true')
      else if (f.noOptDefVal !== undefined) set(f, f.noOptDefVal)
      else if (i + 1 < words.length) set(f, words[++i] as string)
      else throw new FlyError(`flag needs an argument: --${name}`)
      continue
    }
    if (word.startsWith('-') && word.length > 1) {
      let shorts = word.slice(1)
      while (shorts.length > 0) {
        const c = shorts[0] as string
        const f = lookupShort(flags, c)
        if (!f) throw new FlyError(`unknown shorthand flag: '${c}' in -${shorts}`)
        if (shorts[1] === '=') {
          set(f, shorts.slice(2))
          break
        }
        if (f.kind === 'bool') {
          set(f, 'true')
          shorts = shorts.slice(1)
          continue
        }
        if (shorts.length > 1) set(f, shorts.slice(1))
        else if (f.noOptDefVal !== undefined) set(f, f.noOptDefVal)
        else if (i + 1 < words.length) set(f, words[++i] as string)
        else throw new FlyError(`flag needs an argument: '${c}' in -${c}`)
        break
      }
      continue
    }
    args.push(word)
  }
  return { flags: values, given, args }
}

export function validateArgs(cmd: CommandSpec, path: CommandSpec[], args: string[]): void {
  const rule = cmd.args ?? { kind: 'any' }
  const n = args.length
  switch (rule.kind) {
    case 'none':
      if (n > 0) throw new FlyError(`unknown command "${args[0]}" for "${commandPath(path)}"`)
      return
    case 'exact':
      if (n !== rule.n) throw new FlyError(`accepts ${rule.n} arg(s), received ${n}`)
      return
    case 'min':
      if (n < rule.n) throw new FlyError(`requires at least ${rule.n} arg(s), only received ${n}`)
      return
    case 'max':
      if (n > rule.n) throw new FlyError(`accepts at most ${rule.n} arg(s), received ${n}`)
      return
    case 'range':
      if (n < rule.min || n > rule.max)
        throw new FlyError(`accepts between ${rule.min} and ${rule.max} arg(s), received ${n}`)
      return
    default:
      return
  }
}

export function commandPath(path: CommandSpec[]): string {
  return path.map((c) => c.name).join(' ')
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[]
      const prev = d[i - 1] as number[]
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
  }
  return (d[a.length] as number[])[b.length] as number
}

/** cobra's findSuggestions: names within distance 2, or that the typed word prefixes. */
export function suggestions(cmd: CommandSpec, word: string): string {
  const found = (cmd.sub ?? [])
    .filter((c) => levenshtein(word.toLowerCase(), c.name.toLowerCase()) <= 2 || c.name.startsWith(word.toLowerCase()))
    .map((c) => c.name)
  return found.length ? `\n\nDid you mean this?\n${found.map((s) => `\t${s}\n`).join('')}` : ''
}

/** A usage text shaped like flyctl's template (internal/cli/cli.go usageTemplate). */
export function usage(path: CommandSpec[]): string {
  const cmd = path[path.length - 1] as CommandSpec
  const parent = commandPath(path.slice(0, -1))
  const lines: string[] = ['Usage:']
  if (isRunnable(cmd))
    lines.push(
      `  ${parent ? `${parent} ` : ''}${cmd.use ?? cmd.name}${cmd.flags?.length || path.length === 1 ? ' [flags]' : ''}`,
    )
  if (cmd.sub?.length) lines.push(`  ${commandPath(path)} [command]`)
  if (cmd.aliases?.length) lines.push('', 'Aliases:', `  ${[cmd.name, ...cmd.aliases].join(', ')}`)
  if (cmd.sub?.length) {
    lines.push('', 'Available Commands:')
    const width = Math.max(...cmd.sub.map((c) => c.name.length))
    for (const c of cmd.sub) lines.push(`  ${c.name.padEnd(width)} ${c.short ?? ''}`.trimEnd())
  }
  // pflag FlagUsages: the descriptions start in one column.
  const describe = (flags: FlagSpec[]) => {
    const shown = flags.filter((f) => !f.hidden)
    const left = shown.map(
      (f) =>
        `  ${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.kind === 'bool' ? '' : ` ${f.kind === 'int' || f.kind === 'float' || f.kind === 'stringArray' || f.kind === 'stringSlice' ? (f.kind === 'stringSlice' ? 'strings' : f.kind === 'float' ? 'float' : f.kind) : 'string'}`}`,
    )
    const width = Math.max(0, ...left.map((l) => l.length))
    return shown.map((f, i) => `${(left[i] as string).padEnd(width)}   ${f.usage ?? ''}`.trimEnd())
  }
  lines.push(
    '',
    'Flags:',
    ...describe([...(cmd.flags ?? []), { name: 'help', short: 'h', kind: 'bool', usage: `help for ${cmd.name}` }]),
  )
  lines.push('', 'Global Flags:', ...describe(GLOBAL_FLAGS))
  if (cmd.sub?.length)
    lines.push('', `Use "${commandPath(path)} [command] --help" for more information about a command.`)
  return `${lines.join('\n')}\n`
}
