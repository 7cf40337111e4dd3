import { AppStatusSchema, VolumeListSchema, type AppStatus, type Machine, type Volume } from '../fly/schemas.js'
import { FlyctlError, type Flyctl } from '../fly/flyctl.js'
import type { StageContext } from '../run/report.js'

/**
 * Ensure stage: the app exists (created in `org` when missing) and so does the volume the
 * config mounts, in the deployment's region. A second run creates nothing.
 */

/** Region and volume as rendered: an input, else the `config` file's value, else the guide's. */
export interface EnsureTarget {
  region: string
  /** `[mounts] source`; undefined when the config mounts nothing. */
  volume?: string
  /** Already known from an earlier read of this run; asked when undefined. */
  appExists?: boolean
  /** The app's machines from that read: one in the region that mounts the volume shows it exists. */
  machines?: readonly Machine[]
}

/**
 * A volume a machine in the region has mounted exists there (Fly refuses to destroy an attached
 * volume), so the run need not list volumes to know it.
 */
export function volumeMountedInRegion(machines: readonly Machine[], volume: string, region: string): boolean {
  return machines.some(
    (m) =>
      m.region === region &&
      !/^destroy/.test(m.state) &&
      (m.config?.mounts ?? []).some((mount) => mount.name === volume),
  )
}

export interface EnsureWants {
  app: string
  org: string
  create: boolean
  region: string
  volume?: string
  volumeSizeGb: number
}

export interface EnsurePlan {
  createApp: boolean
  createVolume: boolean
  /** Volumes of that name in other regions: not used by this deployment, worth a warning. */
  elsewhere: Volume[]
}

/** Thrown with `create: false` when something is missing; says which and how to create it. */
export class MissingResourceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MissingResourceError'
  }
}

const GONE = new Set(['destroyed', 'destroying', 'pending_destroy', 'scheduled_deletion'])

export function appCreateArgs(w: Pick<EnsureWants, 'app' | 'org'>): string[] {
  return ['apps', 'create', w.app, '--org', w.org]
}

export function volumeCreateArgs(w: EnsureWants & { volume: string }): string[] {
  // -y: flyctl asks to confirm a single volume ("no redundancy") and cannot ask in CI.
  return ['volumes', 'create', w.volume, '--size', String(w.volumeSizeGb), '--region', w.region, '--app', w.app, '-y']
}

/**
 * What to create. `volumes` is undefined when the app is missing (there is nothing to list).
 * With create: false a missing app or volume is an error naming the command that creates it.
 */
export function planEnsure(appExists: boolean, volumes: readonly Volume[] | undefined, wants: EnsureWants): EnsurePlan {
  const missing: string[] = []
  if (!appExists) {
    missing.push(
      `the app ${wants.app} does not exist (create it with \`fly apps create ${wants.app} --org ${wants.org}\`)`,
    )
  }
  let createVolume = false
  let elsewhere: Volume[] = []
  if (wants.volume !== undefined) {
    const named = (volumes ?? []).filter((v) => v.name === wants.volume && !GONE.has(v.state))
    const inRegion = named.filter((v) => v.region === wants.region)
    elsewhere = named.filter((v) => v.region !== wants.region)
    if (inRegion.length === 0) {
      createVolume = true
      missing.push(
        `the volume ${wants.volume} does not exist in region ${wants.region}` +
          (elsewhere.length ? ` (only in ${[...new Set(elsewhere.map((v) => v.region))].join(', ')})` : '') +
          ` (create it with \`fly volumes create ${wants.volume} --size ${wants.volumeSizeGb} --region ${wants.region} -a ${wants.app} -y\`)`,
      )
    }
  }
  if (!wants.create && missing.length > 0) {
    throw new MissingResourceError(
      `${missing.join('; and ')}. The input create is false, so nothing is created: create it as shown, or set create: true.`,
    )
  }
  return { createApp: !appExists, createVolume, elsewhere }
}

// --- edge ---------------------------------------------------------------------------------

export interface EnsureResult extends EnsurePlan {
  /** Whether the app exists when the stage ends (false only in a dry run that would create it). */
  appExists: boolean
  /** What was created, or in a dry run what would be, in words for the summary. */
  created: string[]
  dryRun: boolean
}

export async function ensure(ctx: StageContext, target: EnsureTarget): Promise<EnsureResult> {
  const { flyctl, plan, log } = ctx
  const wants: EnsureWants = {
    app: plan.app,
    org: plan.org,
    create: plan.create,
    region: target.region,
    volume: target.volume,
    volumeSizeGb: plan.volumeSizeGb,
  }
  const appExists = target.appExists ?? (await appExistsOnFly(ctx.flyctl, plan.app))
  const volumes =
    !appExists || wants.volume === undefined
      ? undefined
      : await knownVolumes(ctx, wants.volume, wants.region, target.machines)
  const ensurePlan = planEnsure(appExists, volumes, wants)
  for (const v of ensurePlan.elsewhere) {
    log.warning(
      `volume ${v.name} (${v.id}) is in region ${v.region}, not ${wants.region}; this deployment does not use it`,
    )
  }

  const created: string[] = []
  if (ensurePlan.createApp) created.push(`app ${plan.app} in org ${plan.org}`)
  if (ensurePlan.createVolume) created.push(`volume ${wants.volume} (${wants.volumeSizeGb} GB, ${wants.region})`)
  if (plan.dryRun) return { ...ensurePlan, appExists, created, dryRun: true }

  let createVolume = ensurePlan.createVolume
  if (ensurePlan.createApp) {
    const raced = await createApp(ctx, wants)
    // Another run created the app meanwhile (two runs of a new app at once): its volume may be there too.
    if (raced && wants.volume !== undefined) {
      const again = await flyctl.json(['volumes', 'list', '--app', plan.app], VolumeListSchema, {
        retry: { safe: 'reading' },
      })
      createVolume = planEnsure(true, again, wants).createVolume
    }
  }
  if (createVolume && wants.volume !== undefined) {
    // Not repeated: volume names are not unique on Fly, a repeat could create a second volume.
    await flyctl.run(volumeCreateArgs({ ...wants, volume: wants.volume }), {
      retry: {
        safe: 'once',
        why: 'a repeat could create a second volume of the same name; re-run the job, which finds the volume',
      },
    })
    log.info(`Created volume ${wants.volume} (${wants.volumeSizeGb} GB) in ${wants.region}`)
  }
  return { ...ensurePlan, appExists: true, created, dryRun: false }
}

async function knownVolumes(
  ctx: StageContext,
  volume: string,
  region: string,
  machines: readonly Machine[] | undefined,
): Promise<Volume[]> {
  if (machines && volumeMountedInRegion(machines, volume, region))
    return [{ id: '', name: volume, state: 'attached', region }]
  return ctx.flyctl.json(['volumes', 'list', '--app', ctx.plan.app], VolumeListSchema, { retry: { safe: 'reading' } })
}

/**
 * `fly apps create`; true when it lost a race: the name was taken, and `fly status` now finds the
 * app, so another run (a push and a scheduled run of a new app) created it a moment earlier.
 */
async function createApp(ctx: StageContext, wants: EnsureWants): Promise<boolean> {
  const { flyctl, plan, log } = ctx
  try {
    // Not repeated: after a lost answer a repeat says "name already taken" for our own app.
    await flyctl.run(appCreateArgs(wants), {
      retry: {
        safe: 'once',
        why: 'a repeat after a lost answer would fail with "name already taken"; re-run the job, which finds the app',
      },
    })
    log.info(`Created app ${plan.app} in org ${plan.org}`)
    return false
  } catch (err) {
    if (!(err instanceof FlyctlError && /already been taken/i.test(err.flyError))) throw err
    if (await appExistsOnFly(flyctl, plan.app)) {
      log.warning(
        `app ${plan.app} was created by another run a moment ago (fly apps create said the name is taken, fly status now finds it); deploying to it`,
      )
      return true
    }
    throw new Error(
      `the app name ${plan.app} is taken by an app this token cannot see (another organization, or a token scoped to other apps); ` +
        'choose another `app`, or use a token of the organization that owns it',
      { cause: err },
    )
  }
}

/**
 * `fly status --json` answers for an app-scoped deploy token too, unlike `apps list`, and brings
 * the app's current release version and active machines in the same call (status/machines.go
 * renderMachineJSONStatus), which the run shares between its stages. A missing app fails with the
 * API's "Could not find App" (status.go wraps GetAppCompact's error as "failed to get app: ..."):
 * undefined.
 */
export async function readAppStatus(flyctl: Flyctl, app: string): Promise<AppStatus | undefined> {
  try {
    return await flyctl.json(['status', '--app', app, '--json'], AppStatusSchema, { retry: { safe: 'reading' } })
  } catch (err) {
    if (err instanceof FlyctlError && isAppNotFound(err.flyError)) return undefined
    throw err
  }
}

export async function appExistsOnFly(flyctl: Flyctl, app: string): Promise<boolean> {
  return (await readAppStatus(flyctl, app)) !== undefined
}

export function isAppNotFound(flyError: string): boolean {
  return /could not find app|app not found|app .* not found/i.test(flyError)
}
