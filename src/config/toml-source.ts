import TOML from '@iarna/toml'

/**
 * TOML in and out for fly.toml: parsing with a location on error, finding the line a key was
 * written on (for `::error file=...,line=...` annotations), and a serializer of our own.
 *
 * Why not TOML.stringify: @iarna/toml 3.0.0 writes integers as `2_048`, and writes a string that
 * holds a newline plus a control character as a multi-line string its own parser then refuses,
 * so a value could not be trusted to come back exactly as it went in. Here every string is a
 * single-line basic string with every control character escaped.
 */

export type TomlTable = Record<string, unknown>

/** A file we could not read as TOML (or JSON5): names the file, the 1-based line and column. */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`${file}${line ? `:${line}${column ? `:${column}` : ''}` : ''}: ${reason}. ${fix}`)
    this.name = 'ConfigFileError'
  }
}

export function parseToml(text: string, file: string): TomlTable {
  try {
    return TOML.parse(text) as TomlTable
  } catch (err) {
    // @iarna/toml's TomlError carries 0-based line and col; the first message line is the reason.
    const e = err as { line?: number; col?: number; message?: string }
    const reason =
      String(e.message ?? err)
        .split('\n')[0]
        ?.replace(/ at row \d+, col \d+, pos \d+:?$/, '') ?? 'invalid TOML'
    throw new ConfigFileError(
      file,
      typeof e.line === 'number' ? e.line + 1 : undefined,
      typeof e.col === 'number' ? e.col + 1 : undefined,
      `invalid TOML: ${reason}`,
      'Fix the file so that `fly config validate` accepts it (https://fly.io/docs/reference/configuration/).',
    )
  }
}

export function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

// ---------------------------------------------------------------------------------------------
// Where a key was written

/**
 * Maps dotted key paths to the 1-based line that defines them: `http_service.internal_port`,
 * `vm.memory` (array-of-tables indexes are dropped; the first occurrence wins), and table headers
 * themselves (`mounts`). A line scanner, not a parser: the file already parsed, so it only has to
 * follow headers, `key = value` lines and skip the insides of multi-line strings and arrays.
 */
export function indexKeyLines(text: string): Map<string, number> {
  const lines = text.split(/\r?\n/)
  const index = new Map<string, number>()
  const record = (path: string[], line: number) => {
    const key = path.join('.')
    if (!index.has(key)) index.set(key, line)
  }
  let header: string[] = []
  let openMultiline: '"""' | "'''" | undefined
  let bracketDepth = 0
  lines.forEach((raw, i) => {
    const lineNo = i + 1
    if (openMultiline) {
      if (raw.includes(openMultiline)) openMultiline = undefined
      return
    }
    if (bracketDepth > 0) {
      bracketDepth += bracketBalance(raw)
      return
    }
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const headerMatch = /^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$/.exec(line)
    if (headerMatch && !line.includes('=')) {
      header = splitDottedKey(headerMatch[1] as string)
      record(header, lineNo)
      return
    }
    const eq = findAssignment(line)
    if (eq < 0) return
    const key = splitDottedKey(line.slice(0, eq).trim())
    record([...header, ...key], lineNo)
    const value = line.slice(eq + 1).trim()
    for (const delim of ['"""', "'''"] as const) {
      if (value.startsWith(delim) && value.slice(3).indexOf(delim) < 0) openMultiline = delim
    }
    if (!openMultiline && value.startsWith('[')) bracketDepth = bracketBalance(value)
  })
  return index
}

function findAssignment(line: string): number {
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote) {
      if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") quote = c
    else if (c === '=') return i
  }
  return -1
}

function bracketBalance(text: string): number {
  let depth = 0
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") quote = c
    else if (c === '#') break
    else if (c === '[') depth++
    else if (c === ']') depth--
  }
  return depth
}

function splitDottedKey(key: string): string[] {
  const parts: string[] = []
  let current = ''
  let quote: string | undefined
  for (const c of key) {
    if (quote) {
      if (c === quote) quote = undefined
      else current += c
    } else if (c === '"' || c === "'") quote = c
    else if (c === '.') {
      parts.push(current.trim())
      current = ''
    } else current += c
  }
  parts.push(current.trim())
  return parts
}

// ---------------------------------------------------------------------------------------------
// Writing

const BARE_KEY = /^[A-Za-z0-9_-]+$/

export function stringifyToml(table: TomlTable, headerComment?: string): string {
  const out: string[] = []
  if (headerComment) for (const line of headerComment.split('\n')) out.push(`# ${line}`.trimEnd())
  writeTable(out, [], table)
  return (
    out
      .join('\n')
      .replace(/^\n+/, '')
      .replace(/\n{3,}/g, '\n\n') + '\n'
  )
}

function writeTable(out: string[], path: string[], table: TomlTable): void {
  const scalars: Array<[string, unknown]> = []
  const tables: Array<[string, TomlTable]> = []
  const arraysOfTables: Array<[string, TomlTable[]]> = []
  for (const [key, value] of Object.entries(table)) {
    if (value === undefined || value === null) continue
    if (isTable(value)) tables.push([key, value])
    else if (Array.isArray(value) && value.length > 0 && value.every(isTable))
      arraysOfTables.push([key, value as TomlTable[]])
    else scalars.push([key, value])
  }
  for (const [key, value] of scalars) out.push(`${formatKey(key)} = ${formatValue(value)}`)
  for (const [key, value] of tables) {
    const childPath = [...path, key]
    // A table of only sub-tables needs no header of its own; an empty one keeps it ([build]).
    const onlySubTables =
      Object.keys(value).length > 0 &&
      Object.values(value).every((v) => isTable(v) || (Array.isArray(v) && v.length > 0 && v.every(isTable)))
    if (!onlySubTables) out.push('', `[${childPath.map(formatKey).join('.')}]`)
    writeTable(out, childPath, value)
  }
  for (const [key, list] of arraysOfTables) {
    const childPath = [...path, key]
    for (const element of list) {
      out.push('', `[[${childPath.map(formatKey).join('.')}]]`)
      writeTable(out, childPath, element)
    }
  }
}

function formatKey(key: string): string {
  return BARE_KEY.test(key) ? key : quoteString(key)
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return quoteString(value)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan'
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf'
    if (Number.isSafeInteger(value)) return String(value)
    // Past 2^53 a JS number is a float, and TOML integers would overflow int64 soon after.
    if (Number.isInteger(value)) return value.toExponential()
    const text = String(value)
    return /[.eE]/.test(text) ? text : `${text}.0`
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  // @iarna/toml's date classes print their own TOML form through toJSON (local dates stay local).
  if (value instanceof Date) return (value.toJSON() ?? value.toISOString()).replace(/^"|"$/g, '')
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`
  if (isTable(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && v !== null)
    return entries.length === 0
      ? '{}'
      : `{ ${entries.map(([k, v]) => `${formatKey(k)} = ${formatValue(v)}`).join(', ')} }`
  }
  throw new TypeError(`cannot write a ${typeof value} to TOML`)
}

/** A TOML basic string: `"` and `\` escaped, every control character as an escape, the rest verbatim. */
export function quoteString(value: string): string {
  let out = '"'
  for (const ch of value) {
    const code = ch.codePointAt(0) as number
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\r') out += '\\r'
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`
    else if (code >= 0xd800 && code <= 0xdfff)
      throw new TypeError('a string holds a lone UTF-16 surrogate, which TOML cannot represent')
    else out += ch
  }
  return out + '"'
}
