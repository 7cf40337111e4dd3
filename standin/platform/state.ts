// The platform the stand-in pretends to be: apps, volumes, IPs, releases, machine records and
// secrets, kept as files under FLYCTL_STANDIN_STATE. Everything but secret values lives in
// platform.json; values live only in per-app and per-machine secret files (mode 0600).
// Every read-modify-write holds <state>/.lock (O_EXCL), so parallel flyctl calls stay consistent.
import { crypto, fs } from './builtins.ts'
import path from 'node:path'

export class FlyError extends Error {
  exitCode: number
  /** Extra lines flyctl prints after `Error: ...` (flyerr description / suggestion). */
  details: string[]
  constructor(message: string, options: { exitCode?: number; details?: string[] } = {}) {
    super(message)
    this.name = 'FlyError'
    this.exitCode = options.exitCode ?? 1
    this.details = options.details ?? []
  }
}

export interface OrgRecord {
  id: string
  slug: string
  name: string
  type: 'PERSONAL' | 'SHARED'
}

export interface VolumeRecord {
  id: string
  name: string
  state: string
  size_gb: number
  region: string
  zone: string
  encrypted: boolean
  attached_machine_id: string | null
  created_at: string
  snapshot_retention: number
  auto_backup_enabled: boolean
  /** Snapshots taken of it (`volumes snapshots create`); their data under `<state>/snapshots/<id>/`. */
  snapshots?: SnapshotRecord[]
}

/** fly-go volume_types.go VolumeSnapshot, plus when the stand-in lets it finish. */
export interface SnapshotRecord {
  id: string
  size: number
  volume_size: number
  digest: string
  created_at: string
  retention_days: number
  /** Epoch ms from which it reads `created`; before that it is pending (no id yet, `running`). */
  ready_at: number
}

export interface IpRecord {
  ID: string
  Address: string
  Type: string
  Region: string
  CreatedAt: string
}

export interface ReleaseRecord {
  ID: string
  Version: number
  Stable: boolean
  InProgress: boolean
  Reason: string
  Description: string
  Status: string
  DeploymentStrategy: string
  CreatedAt: string
  ImageRef: string
  /** What the image runs in the stand-in, so a rollback to this ImageRef runs the same thing. */
  workload: string
}

export interface SecretMeta {
  digest: string
  created_at: string
  updated_at: string
}

/** fly-go's MachineConfig, as much of it as the stand-in fills. Env never holds secret values. */
export interface MachineConfig {
  env: Record<string, string>
  init: { cmd?: string[]; entrypoint?: string[]; exec?: string[] }
  guest: { cpu_kind: string; cpus: number; memory_mb: number }
  metadata: Record<string, string>
  mounts?: Array<{ volume: string; path: string; name: string; encrypted?: boolean; size_gb?: number }>
  services?: unknown[]
  checks?: Record<string, unknown>
  files?: Array<{ guest_path: string; raw_value?: string; secret_name?: string }>
  image: string
  restart: { policy: 'always' | 'on-failure' | 'no'; max_retries?: number }
}

export interface MachineRecord {
  id: string
  name: string
  region: string
  instance_id: string
  private_ip: string
  created_at: string
  updated_at: string
  config: MachineConfig
  workload: string
  /** When the machine last took its config and secrets (secrets list compares against it). */
  applied_at: string
  destroyed?: boolean
}

export interface AppRecord {
  id: string
  name: string
  org: string
  created_at: string
  deployed: boolean
  volumes: VolumeRecord[]
  ips: IpRecord[]
  releases: ReleaseRecord[]
  machines: MachineRecord[]
  secrets: Record<string, SecretMeta>
  /** The config of the latest release, used when `fly deploy` runs without a fly.toml. */
  remote_config?: Record<string, unknown>
  /** Machine leases held by running deploys: machine id to holder (command/deploy.ts acquireLeases). */
  leases?: Record<string, MachineLease>
}

/** A machine lease (Fly Machines API `POST /machines/<id>/lease`), held by the flyctl process `pid`. */
export interface MachineLease {
  nonce: string
  pid: number
  /** Who holds it, as Fly's 409 names them. */
  owner: string
}

export interface Platform {
  orgs: OrgRecord[]
  apps: Record<string, AppRecord>
  user: { ID: string; Name: string; Email: string }
}

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.FLYCTL_STANDIN_STATE
  if (!dir) {
    throw new FlyError(
      'FLYCTL_STANDIN_STATE is not set: the flyctl stand-in needs a state directory (see standin/README.md)',
    )
  }
  fs.mkdirSync(dir, { recursive: true })
  return path.resolve(dir)
}

function emptyPlatform(): Platform {
  return {
    orgs: [{ id: 'org_personal', slug: 'personal', name: 'Stand-in Personal', type: 'PERSONAL' }],
    apps: {},
    user: { ID: 'usr_standin', Name: 'Stand-in User', Email: 'standin@example.com' },
  }
}

export const platformFile = (stateDir: string) => path.join(stateDir, 'platform.json')

export function readPlatform(stateDir: string): Platform {
  try {
    return JSON.parse(fs.readFileSync(platformFile(stateDir), 'utf8')) as Platform
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyPlatform()
    throw error
  }
}

/** Temporary files are named by pid and a counter: unique among live processes, and no crypto to load. */
let tmpCount = 0

export function writeJsonFileAtomic(file: string, value: unknown, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${++tmpCount}.tmp`
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode })
  fs.renameSync(tmp, file)
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Run fn holding the state lock: O_EXCL lock file with our pid, retried; a dead holder's lock is broken. */
export async function withStateLock<T>(stateDir: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = path.join(stateDir, '.lock')
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      const fd = fs.openSync(lock, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600)
      fs.writeSync(fd, String(process.pid))
      fs.closeSync(fd)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      let holder = NaN
      try {
        holder = Number(fs.readFileSync(lock, 'utf8'))
      } catch {
        // released between open and read
      }
      // A holder that died inside the critical section leaves its lock behind; an empty file
      // is a holder between open and write, so only a named dead pid counts as stale.
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        try {
          fs.rmSync(lock, { force: true })
        } catch {
          // someone else broke it first
        }
        continue
      }
      if (Date.now() > deadline) throw new FlyError(`flyctl stand-in: timed out waiting for the state lock ${lock}`)
      await sleep(5 + Math.random() * 10)
    }
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(lock, { force: true })
  }
}

/** Read, change and write platform.json under the lock. */
export async function updatePlatform<T>(stateDir: string, change: (platform: Platform) => T | Promise<T>): Promise<T> {
  return withStateLock(stateDir, async () => {
    const platform = readPlatform(stateDir)
    const result = await change(platform)
    writeJsonFileAtomic(platformFile(stateDir), platform)
    return result
  })
}

// ---- ids and addresses -------------------------------------------------------------------

export function hexId(bytes: number): string {
  return crypto().randomBytes(bytes).toString('hex')
}

/** Machine ids are 14 hex digits (`148ed193b95389`). */
export function machineId(): string {
  return hexId(7)
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789'
export function alnumId(length: number): string {
  const bytes = crypto().randomBytes(length)
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join('')
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
/** A ULID (48-bit time + 80 random bits, Crockford base32), as in `deployment-01J...` image tags. */
export function ulid(now = Date.now()): string {
  let time = ''
  let t = now
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time
    t = Math.floor(t / 32)
  }
  const random = Array.from(crypto().randomBytes(16), (b) => CROCKFORD[b % 32]).join('')
  return time + random
}

export function randomPublicV6(): string {
  return `2a09:8280:1::${hexId(2).replace(/^0+/, '') || '1'}:${hexId(2).replace(/^0+/, '') || '1'}:0`
}

export function randomSharedV4(): string {
  return `66.241.124.${1 + crypto().randomInt(253)}`
}

export function randomPrivateV6(): string {
  return `fdaa:0:${hexId(2)}:0:1::${crypto().randomInt(1, 255).toString(16)}`
}

export function machinePrivateIp(): string {
  return `fdaa:0:${hexId(2)}:a7b:${hexId(2)}:${hexId(2)}:${hexId(2)}:2`
}

// ---- secrets ------------------------------------------------------------------------------

export function appDir(stateDir: string, app: string): string {
  return path.join(stateDir, 'apps', app)
}

export function machineDirOf(stateDir: string, app: string, id: string): string {
  return path.join(appDir(stateDir, app), 'machines', id)
}

export function volumeDirOf(stateDir: string, volumeId: string): string {
  return path.join(stateDir, 'volumes', volumeId)
}

export function snapshotDirOf(stateDir: string, snapshotId: string): string {
  return path.join(stateDir, 'snapshots', snapshotId)
}

function readJsonOr<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback
    throw error
  }
}

const appSecretsFile = (stateDir: string, app: string) => path.join(appDir(stateDir, app), 'secrets.json')
const machineSecretsFile = (stateDir: string, app: string, id: string) =>
  path.join(machineDirOf(stateDir, app, id), 'secrets.env.json')

/** The app's current secret values. Call under the state lock when changing them. */
export function readSecretValues(stateDir: string, app: string): Record<string, string> {
  return readJsonOr(appSecretsFile(stateDir, app), {})
}

export function writeSecretValues(stateDir: string, app: string, values: Record<string, string>): void {
  writeJsonFileAtomic(appSecretsFile(stateDir, app), values, 0o600)
}

/** The secret env a machine was last launched with (restarts reuse it, as on Fly). */
export function readMachineSecrets(stateDir: string, app: string, id: string): Record<string, string> {
  return readJsonOr(machineSecretsFile(stateDir, app, id), {})
}

export function writeMachineSecrets(stateDir: string, app: string, id: string, values: Record<string, string>): void {
  writeJsonFileAtomic(machineSecretsFile(stateDir, app, id), values, 0o600)
}

/** A keyed digest: stable per state root, changes with the value, says nothing about it elsewhere. */
export function secretDigest(stateDir: string, value: string): string {
  const saltFile = path.join(stateDir, 'digest-salt')
  let salt: string
  try {
    salt = fs.readFileSync(saltFile, 'utf8')
  } catch {
    try {
      fs.writeFileSync(saltFile, hexId(16), { flag: 'wx', mode: 0o600 })
    } catch {
      // another call created it first
    }
    salt = fs.readFileSync(saltFile, 'utf8')
  }
  return crypto().createHmac('sha256', salt).update(value).digest('hex').slice(0, 16)
}

// ---- lookups ------------------------------------------------------------------------------

export function findApp(platform: Platform, name: string): AppRecord {
  const app = platform.apps[name]
  if (!app) throw new FlyError('Could not find App')
  return app
}

export function activeMachines(app: AppRecord): MachineRecord[] {
  return app.machines.filter((m) => !m.destroyed)
}
