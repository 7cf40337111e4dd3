import { IpListSchema, type IpAddress } from '../fly/schemas.js'
import type { IpChange, StageContext } from '../run/report.js'

/**
 * Harden stage (private deployments): the guide's "convert an existing deployment" steps.
 * Public ingress addresses are released, a private IPv6 allocated when missing, and
 * `ips list` read again to prove the app is left with private addresses only.
 */

/** Public ingress types (`ips list --json` Type; flyctl internal/command/ips). */
const PUBLIC_TYPES = new Set(['v4', 'v6', 'shared_v4'])
const PRIVATE_V6 = 'private_v6'

export interface IpPlan {
  release: IpAddress[]
  allocatePrivateV6: boolean
}

/** Never releases a private or egress address, nor a type it does not know. */
export function planIpChanges(ips: readonly IpAddress[]): IpPlan {
  return {
    release: ips.filter((ip) => PUBLIC_TYPES.has(ip.Type)),
    allocatePrivateV6: !ips.some((ip) => ip.Type === PRIVATE_V6),
  }
}

/** What is still wrong after hardening, or undefined when the app is private only. */
export function hardeningProblem(ips: readonly IpAddress[]): string | undefined {
  const plan = planIpChanges(ips)
  const problems: string[] = []
  if (plan.release.length)
    problems.push(`public addresses remain: ${plan.release.map((ip) => `${ip.Address} (${ip.Type})`).join(', ')}`)
  if (plan.allocatePrivateV6) problems.push('no private IPv6 is allocated')
  return problems.length ? problems.join('; ') : undefined
}

export interface HardenResult {
  changes: IpChange[]
  /** `ips list` after the changes (before them in a dry run). */
  final: IpAddress[]
  dryRun: boolean
  skipped: boolean
}

export async function harden(
  ctx: StageContext,
  options: { appExists: boolean } = { appExists: true },
): Promise<HardenResult> {
  const { flyctl, plan, log } = ctx
  if (!plan.private) return { changes: [], final: [], dryRun: plan.dryRun, skipped: true }
  const list = (): Promise<IpAddress[]> =>
    flyctl.json(['ips', 'list', '--app', plan.app], IpListSchema, { retry: { safe: 'reading' } })

  // A dry run before the app exists: its first deploy runs with --no-public-ips.
  const before = options.appExists ? await list() : []
  const ipPlan = planIpChanges(before)
  const planned: IpChange[] = ipPlan.release.map((ip) => ({ action: 'released', address: ip.Address, type: ip.Type }))
  if (ipPlan.allocatePrivateV6) planned.push({ action: 'allocated', address: '(new)', type: PRIVATE_V6 })
  if (plan.dryRun) return { changes: planned, final: before, dryRun: true, skipped: false }

  const changes: IpChange[] = []
  for (const ip of ipPlan.release) {
    await flyctl.run(['ips', 'release', ip.Address, '--app', plan.app], {
      change: `released ${ip.Type} ${ip.Address}`,
      retry: {
        safe: 'once',
        why: 'a repeat after a lost answer fails on an address already released; re-run the job, which lists the IPs again',
      },
    })
    changes.push({ action: 'released', address: ip.Address, type: ip.Type })
    log.info(`Released ${ip.Type} ${ip.Address}`)
  }
  if (ipPlan.allocatePrivateV6)
    await flyctl.run(['ips', 'allocate-v6', '--private', '--app', plan.app], {
      change: 'allocated a private v6 address',
      retry: {
        safe: 'once',
        why: 'a repeat could allocate a second private address; re-run the job, which lists the IPs again',
      },
    })

  const after = await list()
  const problem = hardeningProblem(after)
  if (problem) {
    throw new Error(
      `the private deployment of ${plan.app} is not private after hardening: ${problem}. ` +
        `Check with \`fly ips list -a ${plan.app}\` and release public addresses with \`fly ips release <address> -a ${plan.app}\`.`,
    )
  }
  if (ipPlan.allocatePrivateV6) {
    const known = new Set(before.map((ip) => ip.Address))
    for (const ip of after.filter((a) => a.Type === PRIVATE_V6 && !known.has(a.Address))) {
      changes.push({ action: 'allocated', address: ip.Address, type: ip.Type })
      log.info(`Allocated private IPv6 ${ip.Address}`)
    }
  }
  return { changes, final: after, dryRun: false, skipped: false }
}
