/**
 * Memory in MB, as an input (`memory`, `machine-memory`) or a fly.toml writes it; one parser for both: a number or a bare number string is MB; units are binary
 * as in docker/go-units RAMInBytes ("2gb" = 2048, "2048mb", "1GB", "512m"); flyctl
 * helpers/units.go ParseSize.
 */
export function parseMemoryMb(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined
  if (typeof value === 'bigint') return Number(value)
  if (typeof value !== 'string') return undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|(b))?\s*$/i.exec(value)
  if (!match) return undefined
  const amount = Number(match[1])
  if (!match[2] && !match[3]) return Number.isInteger(amount) ? amount : undefined
  const exponent = match[3] ? 0 : { k: 1, m: 2, g: 3, t: 4, p: 5 }[(match[2] as string).toLowerCase() as 'k']
  return Math.floor((amount * 1024 ** exponent) / 1024 ** 2)
}
