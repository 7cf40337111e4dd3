// `apps list` and `apps destroy`: what they print and change.
// Sources: superfly/flyctl internal/command/apps/list.go (runList, getApps: the GraphQL fields it
// asks for; render.JSON of []fly.App) and internal/command/apps/destroy.go (RunDestroy);
// superfly/fly-go types.go (App, Organization, Release, User, AppCertificate, ImageVersion: the
// field order and Go zero values that encoding/json prints for the fields the query leaves out).
import { fs } from '../platform/builtins.ts'
import { err, flagBool, flagString, out, requireSession } from '../cli/context.ts'
import type { Ctx } from '../cli/context.ts'
import { goJson, table } from '../cli/render.ts'
import { loadRuntime } from '../machines/cli-side.ts'
import {
  FlyError,
  activeMachines,
  appDir,
  findApp,
  readPlatform,
  updatePlatform,
  volumeDirOf,
} from '../platform/state.ts'
import type { AppRecord, Platform } from '../platform/state.ts'

const GO_ZERO_TIME = '0001-01-01T00:00:00Z'

function zeroRelease() {
  return {
    ID: '',
    Version: 0,
    Stable: false,
    InProgress: false,
    Reason: '',
    Description: '',
    Status: '',
    DeploymentStrategy: '',
    Metadata: null,
    User: { ID: '', Name: '', Email: '', EnablePaidHobby: false },
    EvaluationID: '',
    CreatedAt: GO_ZERO_TIME,
    ImageRef: '',
  }
}

function zeroOrganization() {
  return {
    ID: '',
    InternalNumericID: '',
    Name: '',
    RemoteBuilderImage: '',
    RemoteBuilderApp: null,
    Slug: '',
    RawSlug: '',
    Type: '',
    PaidPlan: false,
    Billable: false,
    Settings: null,
    AllowedReplaySourceOrgSlugs: null,
    AllowAllCrossNetworkReplays: false,
    WireGuardPeer: null,
    WireGuardPeers: { Nodes: null, Edges: null },
    DelegatedWireGuardTokens: { Nodes: null, Edges: null },
    LoggedCertificates: null,
  }
}

function zeroCertificate() {
  return {
    ID: '',
    AcmeDNSConfigured: false,
    AcmeALPNConfigured: false,
    Configured: false,
    CertificateAuthority: '',
    CreatedAt: GO_ZERO_TIME,
    DNSProvider: '',
    DNSValidationInstructions: '',
    DNSValidationHostname: '',
    DNSValidationTarget: '',
    Hostname: '',
    Source: '',
    ClientStatus: '',
    IsApex: false,
    IsWildcard: false,
    ValidationErrors: null,
    Issued: { Nodes: null },
  }
}

const zeroImageVersion = () => ({ Registry: '', Repository: '', Tag: '', Version: '', Digest: '' })

/**
 * One fly.App as `apps list --json` prints it: the fields getApps queries (id, name, deployed,
 * hostname, platformVersion, network, organization{slug,name}, currentRelease{createdAt,status},
 * status) filled in, every other field at its Go zero value, in fly-go's field order.
 */
export function appListEntry(platform: Platform, app: AppRecord) {
  const org = platform.orgs.find((o) => o.slug === app.org)
  const current = [...app.releases].sort((a, b) => b.Version - a.Version)[0]
  const status = app.deployed ? 'deployed' : 'pending'
  return {
    ID: app.id,
    InternalNumericID: 0,
    Name: app.name,
    State: '',
    Status: status,
    Deployed: app.deployed,
    Hostname: `${app.name}.fly.dev`,
    AppURL: '',
    Version: 0,
    NetworkID: 0,
    Network: '',
    Release: null,
    Organization: { ...zeroOrganization(), Name: org?.name ?? '', Slug: app.org },
    Secrets: null,
    CurrentRelease: current ? { ...zeroRelease(), Status: current.Status, CreatedAt: current.CreatedAt } : null,
    Releases: { Nodes: null },
    IPAddresses: { Nodes: null },
    EgressIpAddresses: { Nodes: null },
    SharedIPAddress: '',
    CNAMETarget: '',
    IPAddress: null,
    Certificates: { Nodes: null },
    Certificate: zeroCertificate(),
    PostgresAppRole: null,
    Image: null,
    ImageUpgradeAvailable: false,
    ImageVersionTrackingEnabled: false,
    ImageDetails: zeroImageVersion(),
    LatestImageDetails: zeroImageVersion(),
    PlatformVersion: 'machines',
    Machines: { Nodes: null },
    CurrentLock: null,
  }
}

/** list.go runList: JSON of every app; `-q` names only; else Name/Owner/Status/Latest Deploy. */
export async function runAppsList(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const platform = readPlatform(ctx.stateDir)
  const org = flagString(ctx, 'org')
  if (org && !platform.orgs.some((o) => o.slug === org)) {
    // getOrg: GetOrganizationBySlug's error, wrapped by runList.
    throw new FlyError(`error getting organization: Could not find Organization ${org}`)
  }
  const apps = Object.values(platform.apps)
    .filter((a) => !org || a.org === org)
    .sort((a, b) => a.name.localeCompare(b.name))
  if (flagBool(ctx, 'json')) {
    out(goJson(apps.map((a) => appListEntry(platform, a))))
    return 0
  }
  if (apps.length === 0) {
    if (!flagBool(ctx, 'quiet')) out('No apps found\n')
    return 0
  }
  if (flagBool(ctx, 'quiet')) {
    for (const a of apps) out(`${a.name}\n`)
    return 0
  }
  // The stand-in does not render format.RelativeTime; the column is left empty.
  out(
    table(
      apps.map((a) => [a.name, a.org, a.deployed ? 'deployed' : 'pending', '']),
      ['Name', 'Owner', 'Status', 'Latest Deploy'],
    ),
  )
  return 0
}

/**
 * destroy.go RunDestroy, app by app: without `-y` it refuses (no prompt in CI); a missing app is
 * GetApp's "Could not find App"; a destroyed app loses its machines (their processes stopped),
 * volumes (and their contents), IPs, releases and secrets; then "Destroyed app <name>".
 */
export async function runAppsDestroy(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  const names = ctx.parsed.args
  if (names.length === 0) throw new FlyError('no app names provided')
  for (const name of names) {
    if (!flagBool(ctx, 'yes')) {
      err('Destroying an app is not reversible.\n')
      throw new FlyError('yes flag must be specified when not running interactively')
    }
    const app = findApp(readPlatform(ctx.stateDir), name)
    const runtime = await loadRuntime()
    for (const machine of activeMachines(app)) await runtime.stopMachine(ctx.stateDir, name, machine.id)
    const volumes = await updatePlatform(ctx.stateDir, (platform) => {
      const current = findApp(platform, name)
      delete platform.apps[name]
      return current.volumes.map((v) => v.id)
    })
    for (const id of volumes) fs.rmSync(volumeDirOf(ctx.stateDir, id), { recursive: true, force: true })
    fs.rmSync(appDir(ctx.stateDir, name), { recursive: true, force: true })
    out(`Destroyed app ${name}\n`)
  }
  return 0
}
