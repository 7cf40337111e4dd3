import { describe, expect, it } from 'vitest'
import { preflightFindings } from '../../../src/config/preflight.js'
import { renderFlyConfig } from '../../../src/config/render.js'
import { makePlan, userToml, WORKSPACE } from '../../support/render-fixtures.js'
import { join } from 'node:path'

/** Only the strategy rule's findings (the fixtures' Dockerfile does not exist here). */
function strategyFindings(...args: Parameters<typeof renderFlyConfig>) {
  const result = renderFlyConfig(...args)
  return preflightFindings(result, args[0], { regions: ['iad'] }).filter((f) => f.rule === 'strategy')
}

describe('preflight: bluegreen and canary with the volume', () => {
  it.each(['bluegreen', 'canary'] as const)(
    "%s is refused on the guide's config (it always mounts the state volume), naming the input and the fix",
    (strategy) => {
      const [finding, ...rest] = strategyFindings(makePlan({ strategy }))
      expect(rest).toEqual([])
      expect(finding).toMatchObject({ level: 'error', input: 'strategy' })
      expect(finding?.message).toMatch(new RegExp(`\`${strategy}\` cannot be used with a volume`))
      expect(finding?.message).toMatch(/Fix: use `rolling` \(the default\) or `immediate`/)
    },
  )

  it('also with a config file that has no [mounts]: the render adds the mount', () => {
    const text =
      'app = "x"\n[processes]\napp = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"\n'
    expect(
      strategyFindings(makePlan({ strategy: 'bluegreen' }), { path: join(WORKSPACE, 'fly.toml'), text }),
    ).toHaveLength(1)
    expect(
      strategyFindings(makePlan({ strategy: 'canary' }), { path: join(WORKSPACE, 'fly.toml'), text }),
    ).toHaveLength(1)
  })

  it('a config file\'s own [deploy] strategy = "bluegreen" is refused too, pointing at its line', () => {
    const text = 'app = "x"\n[deploy]\nstrategy = "bluegreen"\n'
    const [finding] = strategyFindings(makePlan(), { path: join(WORKSPACE, 'fly.toml'), text })
    expect(finding).toMatchObject({ input: 'config', file: join(WORKSPACE, 'fly.toml'), line: 3 })
  })

  it('rolling, immediate and no strategy pass', () => {
    for (const strategy of ['rolling', 'immediate', undefined] as const)
      expect(strategyFindings(makePlan(strategy ? { strategy } : {}))).toEqual([])
    expect(strategyFindings(makePlan(), userToml('services-image.toml'))).toEqual([])
  })
})
