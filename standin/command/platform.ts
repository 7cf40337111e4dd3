// `fly platform regions [--json]`: flyctl internal/command/platform/regions.go runRegions. It reads
// flaps GetRegions, drops deprecated regions, sorts by Name and renders fly-go's Region struct
// (types.go: code, name, latitude, longitude, gateway_available, requires_paid_plan, deprecated,
// capacity, geo_region, mpg_available, in that order) with render.JSON; the table groups by geo region.
import type { Ctx } from '../cli/context.ts'
import { flagBool, out, requireSession } from '../cli/context.ts'
import { goJson, table } from '../cli/render.ts'

interface Region {
  code: string
  name: string
  latitude: number
  longitude: number
  gateway_available: boolean
  requires_paid_plan: boolean
  deprecated: boolean
  capacity: number
  geo_region: 'africa' | 'asia_pacific' | 'europe' | 'north_america' | 'south_america'
  mpg_available: boolean
}

const region = (
  code: string,
  name: string,
  lat: number,
  lon: number,
  geo: Region['geo_region'],
  deprecated = false,
): Region => ({
  code,
  name,
  latitude: lat,
  longitude: lon,
  gateway_available: !deprecated,
  requires_paid_plan: false,
  deprecated,
  capacity: deprecated ? 0 : 1000,
  geo_region: geo,
  mpg_available: !deprecated,
})

/** Fly's regions as the platform listed them in 2026 (plus a deprecated one, which flyctl hides). */
export const REGIONS: Region[] = [
  region('ams', 'Amsterdam, Netherlands', 52.374342, 4.895439, 'europe'),
  region('arn', 'Stockholm, Sweden', 59.6512, 17.9178, 'europe'),
  region('bom', 'Mumbai, India', 19.097403, 72.874245, 'asia_pacific'),
  region('cdg', 'Paris, France', 48.860875, 2.353477, 'europe'),
  region('dfw', 'Dallas, Texas (US)', 32.778287, -96.7984, 'north_america'),
  region('ewr', 'Secaucus, NJ (US)', 40.789543, -74.056443, 'north_america'),
  region('fra', 'Frankfurt, Germany', 50.1167, 8.6833, 'europe'),
  region('gru', 'Sao Paulo, Brazil', -23.549664, -46.654351, 'south_america'),
  region('iad', 'Ashburn, Virginia (US)', 39.02214, -77.462555, 'north_america'),
  region('jnb', 'Johannesburg, South Africa', -26.13629, 28.20298, 'africa'),
  region('lax', 'Los Angeles, California (US)', 33.9416, -118.4085, 'north_america'),
  region('lhr', 'London, United Kingdom', 51.516434, -0.125656, 'europe'),
  region('nrt', 'Tokyo, Japan', 35.621079, 139.741243, 'asia_pacific'),
  region('ord', 'Chicago, Illinois (US)', 41.891544, -87.630386, 'north_america'),
  region('sin', 'Singapore, Singapore', 1.3, 103.8, 'asia_pacific'),
  region('sjc', 'San Jose, California (US)', 37.351601, -121.896744, 'north_america'),
  region('syd', 'Sydney, Australia', -33.866033, 151.216886, 'asia_pacific'),
  region('yyz', 'Toronto, Canada', 43.644695, -79.384949, 'north_america'),
  region('mad', 'Madrid, Spain', 40.4381, -3.82, 'europe', true),
]

export async function runPlatformRegions(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const regions = REGIONS.filter((r) => !r.deprecated).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  if (flagBool(ctx, 'json')) {
    out(goJson(regions))
    return 0
  }
  const rows: string[][] = []
  for (const geo of [...new Set(regions.map((r) => r.geo_region))].sort()) {
    rows.push([''], [geo])
    for (const r of regions.filter((x) => x.geo_region === geo)) rows.push([r.name, r.code, r.mpg_available ? '✓' : ''])
  }
  out(table(rows, ['Name', 'Code', 'MPG']))
  return 0
}
