import { describe, expect, it } from 'vitest'
import { IpListSchema } from '../../../src/fly/schemas.js'
import { hardeningProblem, planIpChanges } from '../../../src/stages/private-ips.js'

const ips = (...list: Array<[string, string]>) =>
  IpListSchema.parse(list.map(([Type, Address]) => ({ Type, Address, Region: 'global' })))

describe('planIpChanges', () => {
  it('releases public v4, v6 and shared v4, and allocates a private IPv6 when missing', () => {
    const plan = planIpChanges(ips(['v4', '137.66.1.1'], ['v6', '2a09:8280:1::1'], ['shared_v4', '66.241.124.1']))
    expect(plan.release.map((ip) => ip.Address)).toEqual(['137.66.1.1', '2a09:8280:1::1', '66.241.124.1'])
    expect(plan.allocatePrivateV6).toBe(true)
  })

  it('never releases private, egress or unknown addresses', () => {
    const plan = planIpChanges(
      ips(
        ['private_v6', 'fdaa:0:1::3'],
        ['egress_v4', '1.2.3.4'],
        ['egress_v6', '2a09::9'],
        ['future_kind', '5.6.7.8'],
      ),
    )
    expect(plan).toEqual({ release: [], allocatePrivateV6: false })
  })

  it("does nothing for an app already hardened (the guide's end state)", () => {
    expect(planIpChanges(ips(['private_v6', 'fdaa:0:1::3']))).toEqual({ release: [], allocatePrivateV6: false })
  })
})

describe('hardeningProblem', () => {
  it('is silent for private-only, and names leftovers otherwise', () => {
    expect(hardeningProblem(ips(['private_v6', 'fdaa::3']))).toBeUndefined()
    expect(hardeningProblem(ips(['v4', '137.66.1.1']))).toMatch(
      /public addresses remain: 137\.66\.1\.1 \(v4\); no private IPv6/,
    )
  })
})
