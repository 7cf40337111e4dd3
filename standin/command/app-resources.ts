// apps, status, volumes, secrets, ips, releases, version: what they print and change.
// Sources: internal/command/{apps,status,volumes,secrets,ips,version}/*.go in superfly/flyctl,
// JSON shapes from superfly/fly-go (types.go, volume_types.go, secrets_types.go).
import { net } from '../platform/builtins.ts'
import { primaryRegion } from '../appconfig/appconfig.ts'
import {
  err,
  flagBool,
  flagGiven,
  flagNumber,
  flagString,
  loadConfig,
  out,
  readStdin,
  requireAppName,
  requireSession,
} from '../cli/context.ts'
import type { Ctx } from '../cli/context.ts'
import { goJson, rfc3339, table } from '../cli/render.ts'
import {
  launchFor,
  loadRuntime,
  machineJson,
  safeView,
  waitForStarted,
  writeMachineConfigFile,
} from '../machines/cli-side.ts'
import {
  FlyError,
  activeMachines,
  alnumId,
  findApp,
  readPlatform,
  readSecretValues,
  secretDigest,
  updatePlatform,
  writeSecretValues,
  randomPrivateV6,
  randomPublicV6,
  randomSharedV4,
} from '../platform/state.ts'
import type { AppRecord, MachineRecord, OrgRecord, Platform, VolumeRecord } from '../platform/state.ts'
import { restoreSnapshot } from './volume-snapshots.ts'

// ---- version ------------------------------------------------------------------------------

/** internal/buildinfo/buildinfo.go Info.String: `flyctl v<ver> <os>/<arch> Commit: <c> BuildDate: <d>`. */
export async function runVersion(ctx: Ctx): Promise<number> {
  const info = {
    Name: 'flyctl',
    Version: ctx.version,
    Commit: 'standin',
    BuildDate: '2026-08-21T00:00:00Z',
    OS: 'linux',
    Architecture: 'amd64',
    Environment: 'production',
  }
  if (flagBool(ctx, 'json')) out(`${JSON.stringify(info)}\n`)
  else out(`flyctl v${ctx.version} linux/amd64 Commit: ${info.Commit} BuildDate: ${info.BuildDate}\n`)
  return 0
}

// ---- apps ---------------------------------------------------------------------------------

function orgBasic(org: OrgRecord | undefined) {
  return {
    ID: org?.id ?? '',
    InternalNumericID: '1',
    Name: org?.name ?? '',
    Slug: org?.slug ?? '',
    RawSlug: org?.slug ?? '',
    PaidPlan: false,
  }
}

function appJson(platform: Platform, app: AppRecord) {
  const org = platform.orgs.find((o) => o.slug === app.org)
  const current = [...app.releases].sort((a, b) => b.Version - a.Version)[0]
  return {
    ID: app.id,
    InternalNumericID: 0,
    Name: app.name,
    State: app.deployed ? 'deployed' : 'pending',
    Status: app.deployed ? 'deployed' : 'pending',
    Deployed: app.deployed,
    Hostname: `${app.name}.fly.dev`,
    AppURL: `https://${app.name}.fly.dev`,
    Version: current?.Version ?? 0,
    Organization: { ID: org?.id ?? '', Name: org?.name ?? '', Slug: app.org, Type: org?.type ?? 'PERSONAL' },
    PlatformVersion: 'machines',
  }
}

/** prompt.Org: the named org, or the only (personal) org with a note on stderr. */
function resolveOrg(ctx: Ctx, platform: Platform): OrgRecord {
  const slug = flagString(ctx, 'org') || ctx.env.FLY_ORG || ''
  if (slug) {
    const org = platform.orgs.find((o) => o.slug === slug)
    if (!org) throw new FlyError(`organization ${slug} not found`)
    return org
  }
  if (platform.orgs.length === 1 && platform.orgs[0]?.type === 'PERSONAL') {
    err(`automatically selected personal organization: ${platform.orgs[0].name}\n`)
    return platform.orgs[0]
  }
  throw new FlyError('org slug must be specified when not running interactively')
}

export async function runAppsCreate(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const positional = ctx.parsed.args[0] ?? ''
  const flagName = flagString(ctx, 'name')
  if (positional && flagName && positional !== flagName) {
    throw new FlyError(`two app names specified ${positional} and ${flagName}, only one may be specified`)
  }
  let name = positional || flagName
  if (!name && flagBool(ctx, 'generate-name')) name = `standin-${alnumId(6)}`
  if (!name) throw new FlyError('app name must be specified when not running interactively')
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || name.length > 63) {
    throw new FlyError('Validation failed: Name may only contain numbers, lowercase letters and dashes')
  }
  const created = await updatePlatform(ctx.stateDir, (platform) => {
    const org = resolveOrg(ctx, platform)
    if (platform.apps[name]) {
      // fly-go flaps_error.go: the API's 422 text and flyctl's suggestion for name_taken.
      throw new FlyError('Validation failed: Name has already been taken', {
        details: [
          'App names are unique across all of Fly.io, not just your organization, so this name may be held by an app you cannot see. Try a different name.',
          '',
        ],
      })
    }
    const app: AppRecord = {
      id: alnumId(12),
      name,
      org: org.slug,
      created_at: rfc3339(Date.now()),
      deployed: false,
      volumes: [],
      ips: [],
      releases: [],
      machines: [],
      secrets: {},
    }
    platform.apps[name] = app
    return appJson(platform, app)
  })
  if (flagBool(ctx, 'json')) out(goJson(created))
  else out(`New app created: ${name}\n`)
  return 0
}

// `apps list` and `apps destroy` live in apps-commands.ts.

// ---- status -------------------------------------------------------------------------------

export async function runStatus(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const config = loadConfig(ctx)
  const name = requireAppName(ctx, config)
  const platform = readPlatform(ctx.stateDir)
  const app = platform.apps[name]
  if (!app) throw new FlyError('failed to get app: Could not find App')
  const runtime = await loadRuntime()
  // status/machines.go: ListActive, newest id first.
  const machines = activeMachines(app).sort((a, b) => (a.id < b.id ? 1 : -1))
  const current = [...app.releases].sort((a, b) => b.Version - a.Version)[0]
  const org = platform.orgs.find((o) => o.slug === app.org)
  if (flagBool(ctx, 'json')) {
    // A Go map: keys sorted.
    out(
      goJson({
        AppURL: app.deployed ? `https://${app.name}.fly.dev` : '',
        Deployed: app.deployed,
        Hostname: `${app.name}.fly.dev`,
        ID: app.id,
        Machines: machines.map((m) => machineJson(runtime, ctx.stateDir, app.name, m)),
        Name: app.name,
        Organization: orgBasic(org),
        PlatformVersion: 'machines',
        Status: app.deployed ? 'deployed' : 'pending',
        Version: current?.Version ?? 0,
      }),
    )
    return 0
  }
  out(`App\n  Name     = ${app.name}\n  Owner    = ${app.org}\n  Hostname = ${app.name}.fly.dev\n`)
  if (current) out(`  Image    = ${current.ImageRef.replace(/^registry\.fly\.io\//, '')}\n`)
  out('\n')
  if (machines.length === 0) {
    out('Machines\nNo machines found\n')
    return 0
  }
  const rows = machines.map((m) => {
    const view = safeView(runtime, ctx.stateDir, app.name, m.id)
    const checks = view.checks ?? []
    const passing = checks.filter((c) => c.status === 'passing').length
    return [
      m.config.metadata.fly_process_group ?? 'app',
      m.id,
      m.config.metadata.fly_release_version ?? '',
      m.region,
      view.state,
      '',
      checks.length ? `${passing} total, ${passing} passing` : '',
      m.updated_at,
    ]
  })
  out(`Machines\n${table(rows, ['Process', 'ID', 'Version', 'Region', 'State', 'Role', 'Checks', 'Last Updated'])}`)
  return 0
}

// ---- volumes ------------------------------------------------------------------------------

function volumeJson(v: VolumeRecord) {
  return {
    id: v.id,
    name: v.name,
    state: v.state,
    size_gb: v.size_gb,
    region: v.region,
    zone: v.zone,
    encrypted: v.encrypted,
    attached_machine_id: v.attached_machine_id,
    attached_alloc_id: null,
    created_at: v.created_at,
    host_dedication_id: '',
    snapshot_retention: v.snapshot_retention,
    auto_backup_enabled: v.auto_backup_enabled,
  }
}

export function newVolume(name: string, region: string, sizeGb: number, encrypted = true): VolumeRecord {
  return {
    id: `vol_${alnumId(16)}`,
    name,
    state: 'created',
    size_gb: sizeGb,
    region,
    zone: alnumId(4),
    encrypted,
    attached_machine_id: null,
    created_at: new Date().toISOString(),
    snapshot_retention: 5,
    auto_backup_enabled: true,
  }
}

function appOrFail(platform: Platform, name: string): AppRecord {
  return findApp(platform, name)
}

export async function runVolumesList(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = appOrFail(readPlatform(ctx.stateDir), name)
  const volumes = app.volumes.filter((v) => flagBool(ctx, 'all') || v.state !== 'destroyed')
  if (flagBool(ctx, 'json')) {
    out(goJson(volumes.map(volumeJson)))
    return 0
  }
  const rows = volumes.map((v) => [
    v.id,
    v.state,
    v.name,
    `${v.size_gb}GB`,
    v.region,
    v.zone,
    String(v.encrypted),
    v.attached_machine_id ?? '',
    v.created_at,
  ])
  out(table(rows, ['ID', 'State', 'Name', 'Size', 'Region', 'Zone', 'Encrypted', 'Attached VM', 'Created At']))
  return 0
}

export async function runVolumesCreate(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const config = loadConfig(ctx)
  const name = requireAppName(ctx, config)
  const volumeName = ctx.parsed.args[0] as string
  const count = flagNumber(ctx, 'count') || 1
  const created = await updatePlatform(ctx.stateDir, (platform) => {
    const app = appOrFail(platform, name)
    // volumes/create.go confirmVolumeCreate: asks unless -y, --count > 1 or the name exists already.
    const exists = app.volumes.some((v) => v.name === volumeName && v.state !== 'destroyed')
    if (!flagBool(ctx, 'yes') && count <= 1 && !exists) {
      err(
        'Warning! Every volume is pinned to a specific physical host. You should create two or more volumes per application to avoid downtime. Learn more at https://fly.io/docs/volumes/overview/\n',
      )
      throw new FlyError('yes flag must be specified when not running interactively')
    }
    const region = flagString(ctx, 'region') || ctx.env.FLY_REGION || primaryRegion(config)
    if (!region) throw new FlyError('region code must be specified when not running interactively')
    const fresh: VolumeRecord[] = []
    for (let i = 0; i < count; i++) {
      const v = newVolume(volumeName, region, flagNumber(ctx, 'size') || 1, !flagBool(ctx, 'no-encryption'))
      v.snapshot_retention = flagNumber(ctx, 'snapshot-retention') || 5
      v.auto_backup_enabled = flagGiven(ctx, 'scheduled-snapshots') ? flagBool(ctx, 'scheduled-snapshots') : true
      // create.go: CreateVolumeRequest.SnapshotID; the new volume holds a copy of the snapshot's data.
      if (flagString(ctx, 'snapshot-id')) restoreSnapshot(ctx, app, flagString(ctx, 'snapshot-id'), v)
      app.volumes.push(v)
      fresh.push(v)
    }
    return fresh
  })
  for (const v of created) {
    if (flagBool(ctx, 'json')) {
      out(goJson(volumeJson(v)))
      continue
    }
    // volumes.go printVolume: "%20s: %s".
    const field = (k: string, val: string | number | boolean) => `${k.padStart(20)}: ${val}\n`
    out(
      field('ID', v.id) +
        field('Name', v.name) +
        field('App', name) +
        field('Region', v.region) +
        field('Zone', v.zone) +
        field('Size GB', v.size_gb) +
        field('Encrypted', v.encrypted) +
        field('Created at', new Date(v.created_at).toUTCString()) +
        field('Snapshot retention', v.snapshot_retention) +
        field('Scheduled snapshots', v.auto_backup_enabled),
    )
  }
  return 0
}

function versionBefore(version: string, than: string): boolean {
  const a = version.split('.').map((n) => Number.parseInt(n, 10) || 0)
  const b = than.split('.').map((n) => Number.parseInt(n, 10) || 0)
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0)
  return false
}

// ---- secrets ------------------------------------------------------------------------------

/** secrets/parser.go parseSecrets, line for line. */
export function parseSecrets(text: string): Map<string, string> {
  const secrets = new Map<string, string>()
  let multiline = false
  let key = ''
  let value = ''
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  for (const rawLine of lines) {
    const line = rawLine.replace(/\r$/, '')
    if (!multiline) {
      if (line.startsWith('#') || line.trim() === '') continue
      const eq = line.indexOf('=')
      if (eq < 0)
        throw new FlyError(
          `Failed to parse secrets from stdin: Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`,
        )
      const k = line.slice(0, eq).trim()
      let v = line.slice(eq + 1).replace(/^ +/, '')
      const hash = v.indexOf('#')
      if (hash >= 0) {
        const before = v.slice(0, hash)
        if ((before.match(/"/g) ?? []).length % 2 === 0) v = before.replace(/ +$/, '')
      }
      if (v.startsWith('"""') && v.endsWith('"""') && v.length >= 6) {
        secrets.set(k, v.slice(3, -3))
      } else if (v.startsWith('"""')) {
        multiline = true
        key = k
        value = `${v.slice(3)}\n`
      } else {
        if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1)
        secrets.set(k, v)
      }
    } else if (line.endsWith('"""')) {
      value += line.slice(0, -3)
      secrets.set(key, value)
      multiline = false
      key = ''
      value = ''
    } else {
      value += `${line}\n`
    }
  }
  return secrets
}

/** secrets/list.go computeSecretStatus, against when each machine last took its secrets. */
function secretStatus(updatedAt: string, machines: MachineRecord[]): 'Deployed' | 'Staged' | 'Partial' {
  if (machines.length === 0) return 'Staged'
  const have = machines.filter((m) => Date.parse(updatedAt) <= Date.parse(m.applied_at)).length
  if (have === 0) return 'Staged'
  return have === machines.length ? 'Deployed' : 'Partial'
}

export async function runSecretsList(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = appOrFail(readPlatform(ctx.stateDir), name)
  const machines = activeMachines(app)
  const rows = Object.keys(app.secrets)
    .sort()
    .map((n) => {
      const meta = app.secrets[n] as { digest: string; updated_at: string }
      return { name: n, digest: meta.digest, status: secretStatus(meta.updated_at, machines) }
    })
  if (flagBool(ctx, 'json')) {
    // Older flyctl printed other shapes (internal/command/secrets/list.go history); FLYCTL_STANDIN_VERSION selects them.
    const meta = (n: string) => app.secrets[n] as { created_at: string; updated_at: string }
    if (versionBefore(ctx.version, '0.3.178')) {
      out(goJson(rows.map((r) => ({ Name: r.name, Digest: r.digest, CreatedAt: meta(r.name).created_at }))))
    } else if (versionBefore(ctx.version, '0.4.7')) {
      out(
        goJson(
          rows.map((r) => ({
            name: r.name,
            digest: r.digest,
            created_at: meta(r.name).created_at,
            updated_at: meta(r.name).updated_at,
          })),
        ),
      )
    } else {
      out(goJson(rows))
    }
    return 0
  }
  const prefix = (s: string) => (s === 'Staged' ? '* ' : s === 'Partial' ? '! ' : '')
  out(
    table(
      rows.map((r) => [prefix(r.status) + r.name, r.digest, r.status]),
      ['Name', 'Digest', 'Status'],
    ),
  )
  const staged = rows.filter((r) => r.status === 'Staged').length
  if (staged > 0) {
    out(
      `There ${staged === 1 ? 'is' : 'are'} ${staged} ${staged === 1 ? 'secret' : 'secrets'} not deployed. Deploy with \`fly secrets deploy\` to make them available.\n`,
    )
  }
  return 0
}

/** appsecrets.Update then secrets.go DeploySecrets. */
async function setSecretsAndDeploy(
  ctx: Ctx,
  appName: string,
  set: Map<string, string>,
  unset: string[],
): Promise<number> {
  const now = new Date().toISOString()
  const state = await updatePlatform(ctx.stateDir, (platform) => {
    const app = appOrFail(platform, appName)
    const values = readSecretValues(ctx.stateDir, appName)
    for (const [k, v] of set) {
      const digest = secretDigest(ctx.stateDir, v)
      const prev = app.secrets[k]
      // An unchanged value keeps its timestamps, so it does not turn a deployed secret staged.
      if (prev && prev.digest === digest) continue
      app.secrets[k] = { digest, created_at: prev?.created_at ?? now, updated_at: now }
      values[k] = v
    }
    for (const k of unset) {
      delete app.secrets[k]
      delete values[k]
    }
    writeSecretValues(ctx.stateDir, appName, values)
    return { deployed: app.deployed, machines: activeMachines(app).length }
  })
  if (flagBool(ctx, 'stage')) {
    out(
      'Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n',
    )
    return 0
  }
  if (!state.deployed && state.machines === 0) {
    out('Secrets are staged for the first deployment\n')
    return 0
  }
  return deploySecrets(ctx, appName)
}

/** A restart-only rollout: every machine takes the current secrets, one at a time. */
export async function deploySecrets(ctx: Ctx, appName: string): Promise<number> {
  const runtime = await loadRuntime()
  const platform = readPlatform(ctx.stateDir)
  const app = appOrFail(platform, appName)
  const machines = activeMachines(app)
  out(`Updating existing machines in '${appName}' with rolling strategy\n`)
  for (const m of machines) {
    const launch = await updatePlatform(ctx.stateDir, (p) => {
      const a = appOrFail(p, appName)
      const record = a.machines.find((x) => x.id === m.id) as MachineRecord
      record.applied_at = new Date().toISOString()
      record.updated_at = rfc3339(Date.now())
      writeMachineConfigFile(ctx.stateDir, appName, record)
      return launchFor(ctx.stateDir, a, record, 'current')
    })
    await runtime.restartMachine(launch)
    if (!flagBool(ctx, 'detach')) await waitForStarted(runtime, ctx.stateDir, appName, m.id, 300_000)
    out(`  Machine ${m.id} [${m.config.metadata.fly_process_group ?? 'app'}] update succeeded\n`)
  }
  out(`Checking DNS configuration for ${appName}.fly.dev\n`)
  return 0
}

function parseKv(args: string[]): Map<string, string> {
  const map = new Map<string, string>()
  for (const a of args) {
    const eq = a.indexOf('=')
    // cmdutil.ParseKVStringsToMap.
    if (eq < 0) throw new FlyError(`could not parse secrets: '${a}': must be in the format NAME=VALUE`)
    map.set(a.slice(0, eq), a.slice(eq + 1))
  }
  return map
}

export async function runSecretsSet(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  appOrFail(readPlatform(ctx.stateDir), name)
  const secrets = parseKv(ctx.parsed.args)
  for (const [k, v] of secrets) {
    if (v !== '-') continue
    const data = readStdin(ctx)
    if (data.length === 0) throw new FlyError(`secret \`${k}\` expects standard input but none provided`)
    secrets.set(k, data.toString('utf8'))
  }
  if (secrets.size < 1) throw new FlyError('requires at least one SECRET=VALUE pair')
  return setSecretsAndDeploy(ctx, name, secrets, [])
}

export async function runSecretsImport(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  appOrFail(readPlatform(ctx.stateDir), name)
  const secrets = parseSecrets(readStdin(ctx).toString('utf8'))
  if (secrets.size < 1) throw new FlyError('requires at least one SECRET=VALUE pair')
  return setSecretsAndDeploy(ctx, name, secrets, [])
}

export async function runSecretsUnset(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  appOrFail(readPlatform(ctx.stateDir), name)
  return setSecretsAndDeploy(ctx, name, new Map(), ctx.parsed.args)
}

export async function runSecretsDeploy(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = appOrFail(readPlatform(ctx.stateDir), name)
  if (activeMachines(app).length === 0) {
    out('Secrets are staged for the first deployment\n')
    return 0
  }
  return deploySecrets(ctx, name)
}

// ---- ips ----------------------------------------------------------------------------------

function ipJson(ip: AppRecord['ips'][number]) {
  return {
    ID: ip.ID,
    Address: ip.Address,
    Type: ip.Type,
    Region: ip.Region,
    CreatedAt: ip.CreatedAt,
    ServiceName: '',
    Network: null,
  }
}

function ipTable(ips: AppRecord['ips']): string {
  // ips/render.go renderListTable.
  const rows = ips.map((ip) => {
    if (ip.Type === 'private_v6') return ['v6', ip.Address, 'private', ip.Region, ip.CreatedAt]
    const version = ip.Type === 'shared_v4' ? 'v4' : ip.Type
    return [
      version,
      ip.Address,
      ip.Type === 'shared_v4' ? 'public (shared)' : 'public (dedicated)',
      ip.Region,
      ip.CreatedAt,
    ]
  })
  return table(rows, ['Version', 'IP', 'Type', 'Region', 'Created At'])
}

export async function runIpsList(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const app = appOrFail(readPlatform(ctx.stateDir), name)
  if (flagBool(ctx, 'json')) {
    out(goJson(app.ips.map(ipJson)))
    return 0
  }
  out(ipTable(app.ips))
  out(
    'Learn more about Fly.io public, private, shared and dedicated IP addresses in our docs: https://fly.io/docs/networking/services/\n',
  )
  return 0
}

export async function runIpsRelease(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  for (const address of ctx.parsed.args) {
    if (net().isIP(address) === 0) throw new FlyError(`Invalid IP address: '${address}'`)
    await updatePlatform(ctx.stateDir, (platform) => {
      const app = appOrFail(platform, name)
      const at = app.ips.findIndex((ip) => ip.Address === address)
      if (at < 0) throw new FlyError(`Could not find IP address ${address} on app ${name}`)
      app.ips.splice(at, 1)
    })
    out(`Released ${address} from ${name}\n`)
  }
  return 0
}

export async function allocateIp(ctx: Ctx, appName: string, type: 'v6' | 'private_v6' | 'shared_v4' | 'v4') {
  return updatePlatform(ctx.stateDir, (platform) => {
    const app = appOrFail(platform, appName)
    const address = type === 'private_v6' ? randomPrivateV6() : type === 'v6' ? randomPublicV6() : randomSharedV4()
    const ip = { ID: alnumId(12), Address: address, Type: type, Region: 'global', CreatedAt: rfc3339(Date.now()) }
    app.ips.push(ip)
    return ip
  })
}

export async function runIpsAllocateV6(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const ip = await allocateIp(ctx, name, flagBool(ctx, 'private') ? 'private_v6' : 'v6')
  out(ipTable([ip]))
  return 0
}

export async function runIpsAllocateV4(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const ip = await allocateIp(ctx, name, flagBool(ctx, 'shared') ? 'shared_v4' : 'v4')
  out(ipTable([ip]))
  return 0
}

// ---- releases -----------------------------------------------------------------------------

export async function runReleases(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const name = requireAppName(ctx, loadConfig(ctx))
  const platform = readPlatform(ctx.stateDir)
  const app = platform.apps[name]
  if (!app) throw new FlyError(`failed retrieving app releases ${name}: Could not find App`)
  // apps/releases.go: the latest 25, newest first; fly-go types.go Release field order.
  const releases = [...app.releases].sort((a, b) => b.Version - a.Version).slice(0, 25)
  if (flagBool(ctx, 'json')) {
    out(
      goJson(
        releases.map((r) => ({
          ID: r.ID,
          Version: r.Version,
          Stable: r.Stable,
          InProgress: r.InProgress,
          Reason: r.Reason,
          Description: r.Description,
          Status: r.Status,
          DeploymentStrategy: r.DeploymentStrategy,
          Metadata: null,
          User: { ID: platform.user.ID, Name: platform.user.Name, Email: platform.user.Email, EnablePaidHobby: false },
          EvaluationID: '',
          CreatedAt: r.CreatedAt,
          ImageRef: r.ImageRef,
        })),
      ),
    )
    return 0
  }
  const withImage = flagBool(ctx, 'image')
  const rows = releases.map((r) => {
    const row = [`v${r.Version}`, r.Status, r.Description, platform.user.Email, r.CreatedAt]
    if (withImage) row.push(r.ImageRef)
    return row
  })
  out(table(rows, ['Version', 'Status', 'Description', 'User', 'Date', ...(withImage ? ['Docker Image'] : [])]))
  return 0
}
