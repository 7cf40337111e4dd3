// Statistics of every benchmark: median and spread, computed one way.

export interface Stats {
  runs: number
  median: number
  p10: number
  p90: number
  min: number
  max: number
}

/** Median and spread (p10..p90, linear interpolation; min..max kept too). */
export function stats(samples: readonly number[]): Stats {
  if (samples.length === 0)
    return { runs: 0, median: Number.NaN, p10: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN }
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => {
    const index = (sorted.length - 1) * q
    const low = Math.floor(index)
    const high = Math.ceil(index)
    return round((sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (index - low))
  }
  return { runs: sorted.length, median: at(0.5), p10: at(0.1), p90: at(0.9), min: at(0), max: at(1) }
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** The same figures named in milliseconds, as the per-part JSON files write them. */
export function msStats(samples: readonly number[]): {
  runs: number
  medianMs: number
  p10Ms: number
  p90Ms: number
  minMs: number
  maxMs: number
} {
  const s = stats(samples)
  return { runs: s.runs, medianMs: s.median, p10Ms: s.p10, p90Ms: s.p90, minMs: s.min, maxMs: s.max }
}
