// Output the way flyctl renders it: internal/render/render.go JSON (encoding/json with a
// 4-space indent: HTML characters escaped, map keys sorted) and plain tables.

/** Sort the keys of a Go map (struct fields keep their order; call this only on maps). */
export function goMap<T>(map: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const key of Object.keys(map).sort()) out[key] = map[key] as T
  return out
}

/** encoding/json.Encoder with SetIndent("", "    "): escapes <, >, & and U+2028/2029, ends with a newline. */
export function goJson(value: unknown): string {
  const text = JSON.stringify(value, null, 4) ?? 'null'
  return `${text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`
}

/** A left-aligned table with upper-cased headers, as flyctl's tablewriter settings print it. */
export function table(rows: string[][], headers: string[]): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows]
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('\t')
      .trimEnd()
  return `${all.map(line).join('\n')}\n\n`
}

export function rfc3339(date: Date | string | number): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, 'Z')
}
