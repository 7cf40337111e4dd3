// `fly deploy`: config, image ("build" or --image), release, first-deploy IPs and volumes,
// machines created or updated with staged secrets in the same rollout, waiting, and the closing
// lines. Sources: internal/command/deploy/{deploy.go,deploy_build.go,deploy_first.go,machines.go,
// machines_deploymachinesapp.go,machines_launchinput.go}, internal/appconfig/validation.go.
import { fs } from '../platform/builtins.ts'
import path from 'node:path'
import {
  buildSection,
  configAppName,
  deploySection,
  hasPublicService,
  mountsOf,
  parseMemoryMb,
  primaryRegion,
  toMachineConfig,
  valueText,
} from '../appconfig/appconfig.ts'
import type { AppConfig } from '../appconfig/appconfig.ts'
import {
  err,
  flagBool,
  flagGiven,
  flagList,
  flagNumber,
  flagString,
  onInterrupt,
  out,
  requireSession,
} from '../cli/context.ts'
import type { Ctx } from '../cli/context.ts'
import { loadAppConfig } from '../appconfig/appconfig.ts'
import { newVolume } from './app-resources.ts'
import { rfc3339 } from '../cli/render.ts'
import { takeDeployLeave } from '../cli/faults.ts'
import {
  launchFor,
  loadRuntime,
  parseGoDuration,
  safeView,
  smokeCheck,
  waitForChecks,
  waitForStarted,
  writeMachineConfigFile,
} from '../machines/cli-side.ts'
import type { MachineLaunch, MachineRuntime } from '../machines/cli-side.ts'
import {
  FlyError,
  activeMachines,
  pidAlive,
  alnumId,
  machineId,
  machinePrivateIp,
  randomPrivateV6,
  randomPublicV6,
  randomSharedV4,
  readPlatform,
  ulid,
  updatePlatform,
} from '../platform/state.ts'
import type { AppRecord, MachineLease, MachineRecord, ReleaseRecord } from '../platform/state.ts'

const STRATEGIES = ['canary', 'rolling', 'immediate', 'bluegreen']

/** Dockerfile ARG/FROM/LABEL lines that tell the stand-in what the built image runs. */
export function workloadFromDockerfile(text: string, buildArgs: Map<string, string>): string | undefined {
  const args = new Map<string, string>()
  let label: string | undefined
  let version: string | undefined
  const expand = (s: string) =>
    s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => buildArgs.get(n) ?? args.get(n) ?? '')
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?/i.exec(line)
    if (arg) {
      const value = buildArgs.get(arg[1] as string) ?? (arg[2] ?? '').replace(/^["']|["']$/g, '')
      args.set(arg[1] as string, value)
      if (arg[1] === 'OPENCLAW_VERSION' && value) version = value
      continue
    }
    const from = /^FROM\s+(\S+)/i.exec(line)
    if (from) {
      const image = expand(from[1] as string)
      const m = /openclaw[^:\s]*:([^\s@]+)/.exec(image)
      if (m && m[1] !== 'latest') version = m[1]
      continue
    }
    const lab = /^LABEL\s+.*fly-standin\.workload=("([^"]*)"|'([^']*)'|(\S+))/i.exec(line)
    if (lab) label = expand(lab[2] ?? lab[3] ?? lab[4] ?? '')
  }
  if (buildArgs.get('OPENCLAW_VERSION')) version = buildArgs.get('OPENCLAW_VERSION')
  if (label) return label
  return version ? `openclaw@${version}` : undefined
}

/**
 * The build's `RUN` steps and what each prints: the stand-in builds nothing, but it "runs" `echo`
 * (its quoted words joined by a space, for each `&&`-joined `echo`; other commands print nothing), so a Dockerfile's own lines
 * reach the build log as they would on a builder. They are printed at column 0, as the Docker
 * daemon's build stream prints a step's output (moby pkg/jsonmessage, `stream` messages) and as
 * flyctl relays it; BuildKit's plain progress would prefix `#N <seconds>`, which a runner reads
 * the same way for the `##[` form. The stand-in must not be kinder than the harsher of the two.
 */
export function runSteps(dockerfile: string): Array<{ command: string; output: string[] }> {
  const steps: Array<{ command: string; output: string[] }> = []
  for (const raw of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const run = /^\s*RUN\s+(.*)$/i.exec(raw)
    if (!run) continue
    const command = (run[1] as string).trim()
    const output = command
      .split(/\s*&&\s*/)
      .map((part) => /^echo\s+(.*)$/.exec(part)?.[1])
      .filter((args): args is string => args !== undefined)
      .map((args) => [...args.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]).join(' '))
    steps.push({ command, output })
  }
  return steps
}

/** The workload of `--image <ref>`: an openclaw release, the fake gateway, or an earlier release's image. */
export function workloadFromImage(ref: string, releases: ReleaseRecord[]): string | undefined {
  const previous = releases.find((r) => r.ImageRef === ref)
  if (previous) return previous.workload
  if (ref.startsWith('fake-gateway:')) return ref
  const m = /(?:^|\/)openclaw\/openclaw:([^\s@]+)$/.exec(ref)
  if (m) return `openclaw@${m[1]}`
  return undefined
}

/** Go's filepath.Join: joins even an absolute second part (deploy_build.go resolveDockerfilePath). */
function goJoin(dir: string, file: string): string {
  return path.normalize(`${dir}/${file}`)
}

interface Built {
  imageRef: string
  workload: string
}

function resolveImage(ctx: Ctx, config: AppConfig | undefined, appName: string, releases: ReleaseRecord[]): Built {
  const image = flagString(ctx, 'image') || (buildSection(config).image as string | undefined) || ''
  if (image) {
    const workload = workloadFromImage(image, releases)
    if (!workload) {
      throw new FlyError(
        `failed to fetch an image or build from source: the flyctl stand-in does not know image ${image} ` +
          '(use ghcr.io/openclaw/openclaw:<version>, fake-gateway:<scenario>, or an earlier release ImageRef)',
      )
    }
    out(`==> Building image\nSearching for image '${image}' remotely...\nimage found: img_${alnumId(14)}\n`)
    return { imageRef: image, workload }
  }
  const fromConfig = buildSection(config).dockerfile as string | undefined
  let dockerfile: string
  if (fromConfig) dockerfile = goJoin(path.dirname(config?.path ?? process.cwd()), fromConfig)
  else if (flagString(ctx, 'dockerfile')) dockerfile = path.resolve(flagString(ctx, 'dockerfile'))
  else dockerfile = path.resolve('Dockerfile')
  if (!fs.existsSync(dockerfile)) {
    if (!fromConfig && !flagString(ctx, 'dockerfile')) {
      throw new FlyError(
        'failed to fetch an image or build from source: app does not have a Dockerfile or buildpacks configured. See https://fly.io/docs/reference/configuration/#the-build-section',
      )
    }
    throw new FlyError(`failed to fetch an image or build from source: dockerfile '${dockerfile}' not found`)
  }
  const buildArgs = new Map<string, string>()
  const fromToml = buildSection(config).args
  if (fromToml && typeof fromToml === 'object')
    for (const [k, v] of Object.entries(fromToml)) buildArgs.set(k, String(v))
  for (const kv of flagList(ctx, 'build-arg')) {
    const eq = kv.indexOf('=')
    if (eq < 0) throw new FlyError(`invalid build arg: ${kv}`)
    buildArgs.set(kv.slice(0, eq), kv.slice(eq + 1))
  }
  const dockerfileText = fs.readFileSync(dockerfile, 'utf8')
  const workload = workloadFromDockerfile(dockerfileText, buildArgs)
  if (!workload) {
    throw new FlyError(
      `failed to fetch an image or build from source: the flyctl stand-in cannot tell what ${dockerfile} runs ` +
        '(add `ARG OPENCLAW_VERSION=<version>`, `FROM ghcr.io/openclaw/openclaw:<version>` or `LABEL fly-standin.workload=<workload>`)',
    )
  }
  const imageRef = `registry.fly.io/${appName}:deployment-${ulid()}`
  const builder = flagBool(ctx, 'local-only') ? 'local Docker daemon' : 'Depot'
  out(`==> Building image with ${builder}\n--> build:  (\u200b)\n`)
  const steps = runSteps(dockerfileText)
  for (const [i, step] of steps.entries())
    out(`#${i + 1} [${i + 1}/${steps.length}] RUN ${step.command}\n${step.output.map((l) => `${l}\n`).join('')}`)
  out(`[+] Building 0.1s (${steps.length + 1}/${steps.length + 1}) FINISHED\n--> Building image done\n`)
  out(`image: ${imageRef}\nimage size: 412 MB\n\n`)
  return { imageRef, workload }
}

/** --file-local / --file-literal / --file-secret as fly-go MergeFiles takes them. */
function filesFromFlags(ctx: Ctx): Array<{ guest_path: string; raw_value?: string; secret_name?: string }> {
  const files: Array<{ guest_path: string; raw_value?: string; secret_name?: string }> = []
  const split = (flag: string, kv: string) => {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw new FlyError(`invalid --${flag} value ${kv}: must be in the form /guest/path=value`)
    return [kv.slice(0, eq), kv.slice(eq + 1)] as const
  }
  for (const kv of flagList(ctx, 'file-local')) {
    const [guest, local] = split('file-local', kv)
    let content: Buffer
    try {
      content = fs.readFileSync(local)
    } catch (error) {
      throw new FlyError(`failed to read file at ${local}: ${(error as Error).message}`)
    }
    files.push({ guest_path: guest, raw_value: content.toString('base64') })
  }
  for (const kv of flagList(ctx, 'file-literal')) {
    const [guest, value] = split('file-literal', kv)
    files.push({ guest_path: guest, raw_value: Buffer.from(value).toString('base64') })
  }
  for (const kv of flagList(ctx, 'file-secret')) {
    const [guest, secret] = split('file-secret', kv)
    files.push({ guest_path: guest, secret_name: secret })
  }
  return files
}

/**
 * `--env NAME=VALUE` into the config's [env] (deploy.go: cmdutil.ParseKVStringsToMap, then
 * cfg.SetEnvVariables), so the release's machines carry it.
 */
function applyEnvFlags(ctx: Ctx, config: AppConfig): void {
  const pairs = flagList(ctx, 'env')
  if (pairs.length === 0) return
  const env: Record<string, unknown> =
    typeof config.raw.env === 'object' && config.raw.env !== null
      ? { ...(config.raw.env as Record<string, unknown>) }
      : {}
  for (const kv of pairs) {
    const eq = kv.indexOf('=')
    if (eq < 0) throw new FlyError(`failed parsing environment: '${kv}': must be in the format NAME=VALUE`)
    env[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  config.raw = { ...config.raw, env }
}

interface Rollout {
  machine: MachineRecord
  launch: MachineLaunch
  fresh: boolean
}

export async function runDeploy(ctx: Ctx): Promise<number> {
  requireSession(ctx)
  // command.go ChangeWorkingDirectoryToFirstArgIfPresent: the directory is the build context.
  const workDir = ctx.parsed.args[0]
  if (workDir) {
    try {
      process.chdir(workDir)
    } catch {
      throw new FlyError(
        `failed to change working directory to ${workDir}: chdir ${workDir}: no such file or directory`,
      )
    }
  }
  let config = loadAppConfig(flagString(ctx, 'config'), process.cwd())
  const appName = flagString(ctx, 'app') || ctx.env.FLY_APP || configAppName(config)
  if (!appName) {
    throw new FlyError(
      'the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag',
    )
  }
  const before = readPlatform(ctx.stateDir)
  const existing = before.apps[appName]
  if (!existing) {
    throw new FlyError(
      `the app name ${appName} could not be found, did you create the app or misspell it in the fly.toml file or via -a?`,
    )
  }
  if (!config) {
    if (!existing.remote_config)
      throw new FlyError(`failed to get app config: app ${appName} has no deployed config and no fly.toml was found`)
    config = { path: '', raw: existing.remote_config }
  }
  applyEnvFlags(ctx, config)

  out('==> Verifying app config\n')
  if (config.path) out(`Validating ${config.path}\n`)
  const strategy = flagString(ctx, 'strategy') || valueText(deploySection(config).strategy ?? '') || 'rolling'
  if (!STRATEGIES.includes(strategy)) {
    err(
      `unsupported deployment strategy '${strategy}'; Apps v2 supports the following strategies: ${STRATEGIES.join(', ')}`,
    )
    throw new FlyError('invalid app configuration')
  }
  const mounts = mountsOf(config)
  if (strategy === 'canary' && mounts.length > 0) {
    err('error canary deployment strategy is not supported when using mounted volumes')
    throw new FlyError('invalid app configuration')
  }
  // Fly's docs (Deployment strategies): blue-green cannot be used with volumes; green machines
  // would need volumes of their own.
  if (strategy === 'bluegreen' && mounts.length > 0) {
    throw new FlyError('bluegreen deployment strategy is not supported when using mounted volumes')
  }
  out('✓ Configuration is valid\n--> Verified app config\n')

  const built = resolveImage(ctx, config, appName, existing.releases)
  out(`\nWatch your deployment at https://fly.io/apps/${appName}/monitoring\n\n`)

  const waitTimeoutText = flagGiven(ctx, 'wait-timeout')
    ? flagString(ctx, 'wait-timeout')
    : valueText(deploySection(config).wait_timeout ?? '5m0s')
  const waitTimeoutMs = parseGoDuration(waitTimeoutText)
  const region =
    flagString(ctx, 'primary-region') || primaryRegion(config) || activeMachines(existing)[0]?.region || 'iad'
  const noPublicIps = flagBool(ctx, 'no-public-ips')
  const flycast = flagBool(ctx, 'flycast')
  const extraFiles = filesFromFlags(ctx)
  const runtime = await loadRuntime()
  const leave = await takeDeployLeave(ctx.stateDir, ctx.faults)

  // machines_deploymachinesapp.go: the release is created (and set `running`) before the machines'
  // leases are taken, so a deploy that waits for another's leases shows its release meanwhile.
  const release = await recordRelease(ctx.stateDir, appName, strategy, built)
  onInterrupt(async () => {
    await closeRelease(ctx.stateDir, appName, release.ID, 'interrupted')
    await releaseLeases(ctx.stateDir, appName)
  })
  await acquireLeases(ctx.stateDir, appName, release)

  // Plan the machines under the lock, holding their leases; run them after it.
  const plan = await planRollout().catch(async (error: unknown) => {
    await closeRelease(ctx.stateDir, appName, release.ID, 'failed')
    await releaseLeases(ctx.stateDir, appName)
    throw error
  })
  async function planRollout() {
    return updatePlatform(ctx.stateDir, async (platform) => {
      const app = platform.apps[appName] as AppRecord
      const firstDeploy = !app.deployed && activeMachines(app).length === 0
      const notes: string[] = []

      if (firstDeploy && hasPublicService(config) && !noPublicIps && app.ips.length === 0) {
        // deploy_first.go provisionIpsOnFirstDeploy: a dedicated v6 and a shared v4.
        notes.push(`Provisioning ips for ${appName}`)
        if (flycast) {
          const v6 = allocateIpInside(app, 'private_v6')
          notes.push(`  Private ipv6: ${v6}`)
        } else {
          notes.push(`  Dedicated ipv6: ${allocateIpInside(app, 'v6')}`)
          notes.push(`  Shared ipv4: ${allocateIpInside(app, 'shared_v4')}`)
          notes.push('  Add a dedicated ipv4 with: fly ips allocate-v4')
        }
        notes.push('')
      }

      const version = release.Version

      const machineConfig = toMachineConfig(config, {
        appName,
        region,
        imageRef: built.imageRef,
        extraFiles,
        cwd: process.cwd(),
      })
      if (flagString(ctx, 'vm-memory')) machineConfig.guest.memory_mb = parseMemoryMb(flagString(ctx, 'vm-memory'))
      machineConfig.metadata = {
        ...machineConfig.metadata,
        fly_flyctl_version: ctx.version,
        fly_release_id: release.ID,
        fly_release_version: String(version),
      }

      const group = machineConfig.metadata.fly_process_group ?? 'app'
      const current = activeMachines(app).filter((m) => (m.config.metadata.fly_process_group ?? 'app') === group)
      const now = new Date().toISOString()
      const rollouts: Array<{ machine: MachineRecord; fresh: boolean }> = []
      const volumeFor = (name: string, machineIdNow: string) => {
        const attached = app.volumes.find(
          (v) => v.name === name && v.attached_machine_id === machineIdNow && v.state !== 'destroyed',
        )
        if (attached) return attached
        const free = app.volumes.find(
          (v) => v.name === name && !v.attached_machine_id && v.region === region && v.state !== 'destroyed',
        )
        return free
      }

      if (current.length === 0) {
        const id = machineId()
        if (firstDeploy) {
          // deploy_first.go provisionVolumesOnFirstDeploy.
          for (const m of mounts) {
            if (app.volumes.some((v) => v.name === m.source && !v.attached_machine_id && v.state !== 'destroyed'))
              continue
            const size = m.initialSize
              ? Math.max(1, Math.round(parseMemoryMb(m.initialSize) / 1024))
              : flagNumber(ctx, 'volume-initial-size') || 1
            notes.push(
              `Creating a ${size} GB volume named '${m.source}' for process group '${group}'. Use 'fly vol extend' to increase its size`,
            )
            app.volumes.push(newVolume(m.source, region, size))
          }
        }
        const machineMounts = mounts.map((m) => {
          const v = volumeFor(m.source, id)
          // machines_launchinput.go launchInputForLaunch.
          if (!v)
            throw new FlyError(
              `New machine in group '${group}' needs an unattached volume named '${m.source}' in region '${region}'`,
            )
          v.attached_machine_id = id
          return { volume: v.id, path: m.destination, name: m.source, encrypted: v.encrypted, size_gb: v.size_gb }
        })
        const count = flagBool(ctx, 'ha') && mounts.length === 0 && hasPublicService(config) ? 2 : 1
        for (let i = 0; i < count; i++) {
          const mid = i === 0 ? id : machineId()
          const config0 = { ...machineConfig, ...(machineMounts.length ? { mounts: machineMounts } : {}) }
          const record: MachineRecord = {
            id: mid,
            name: `${alnumId(6)}-${alnumId(5)}-${Math.floor(Math.random() * 9000 + 1000)}`,
            region,
            instance_id: ulid(),
            private_ip: machinePrivateIp(),
            created_at: rfc3339(Date.now()),
            updated_at: rfc3339(Date.now()),
            config: config0,
            workload: built.workload,
            applied_at: now,
          }
          app.machines.push(record)
          rollouts.push({ machine: record, fresh: true })
        }
      } else {
        // The fault knob: machines the deploy skips keep their old config, image and release.
        for (const m of current.slice(leave)) {
          const machineMounts = mounts.map((mount) => {
            const v = volumeFor(mount.source, m.id)
            if (!v)
              throw new FlyError(
                `machine in group '${group}' needs an unattached volume named '${mount.source}' in region '${m.region}'`,
              )
            v.attached_machine_id = m.id
            return {
              volume: v.id,
              path: mount.destination,
              name: mount.source,
              encrypted: v.encrypted,
              size_gb: v.size_gb,
            }
          })
          m.config = { ...machineConfig, ...(machineMounts.length ? { mounts: machineMounts } : {}) }
          m.workload = built.workload
          m.instance_id = ulid()
          m.updated_at = rfc3339(Date.now())
          m.applied_at = now
          rollouts.push({ machine: m, fresh: false })
        }
      }

      app.remote_config = (config as AppConfig).raw
      const prepared: Rollout[] = rollouts.map(({ machine, fresh }) => {
        writeMachineConfigFile(ctx.stateDir, appName, machine)
        return { machine, fresh, launch: launchFor(ctx.stateDir, app, machine, 'current') }
      })
      return { notes, release, rollouts: prepared, count: rollouts.length, fresh: rollouts.some((r) => r.fresh) }
    })
  }

  for (const line of plan.notes) out(`${line}\n`)
  if (plan.fresh) {
    out(`This deployment will:\n * create ${plan.count} "app" machine${plan.count === 1 ? '' : 's'}\n\n`)
    out(`No machines in group app, launching a new machine\n`)
  } else {
    out(`Updating existing machines in '${appName}' with ${strategy} strategy\n`)
  }

  let failure: Error | undefined
  const waits = deployWaits(ctx, strategy)
  for (const r of plan.rollouts) {
    try {
      await rollOutMachine(ctx, runtime, appName, r, built.imageRef, waits, waitTimeoutMs)
    } catch (error) {
      out(`Machine ${r.machine.id} [app] update failed: ${(error as Error).message}\n`)
      failure = error as Error
      break
    }
  }
  if (plan.fresh && !failure) err('Finished launching new machines\n')
  killedFromOutside(ctx)

  await closeRelease(ctx.stateDir, appName, plan.release.ID, failure ? 'failed' : 'complete')
  await releaseLeases(ctx.stateDir, appName)
  if (failure) {
    if (failure instanceof FlyError) throw failure
    throw new FlyError(failure.message)
  }

  // machines_deploymachinesapp.go: with FLY_EMIT_RELEASE_JSON set, a successful deploy prints the
  // release it created as one JSON line, so callers need no racy `releases` call.
  if (ctx.env.FLY_EMIT_RELEASE_JSON)
    out(`${JSON.stringify({ id: plan.release.ID, version: plan.release.Version, image_ref: built.imageRef })}\n`)
  err(`Checking DNS configuration for ${appName}.fly.dev\n`)
  const ipMode = flycast ? 'private' : noPublicIps ? 'none' : 'public'
  if (hasPublicService(config) && ipMode === 'public')
    out(`\nVisit your newly deployed app at https://${appName}.fly.dev/\n\n`)
  else if (ipMode === 'private')
    out(
      `\nYour your newly deployed app is available in the organizations' private network under http://${appName}.flycast\n`,
    )
  else if (ipMode === 'none') out('\nYour app is deployed but does not have a public or private IP address\n')
  return 0
}

/** The `killDeployAfterRollout` fault: this flyctl is killed as the runner's OOM killer would, once. */
function killedFromOutside(ctx: Ctx): void {
  const signal = ctx.faults.killDeployAfterRollout
  if (!signal) return
  const marker = path.join(ctx.stateDir, 'faults-killed-deploy')
  try {
    fs.writeFileSync(marker, String(process.pid), { flag: 'wx' })
  } catch {
    return
  }
  process.kill(process.pid, signal)
}

/** The release's final status: `complete`, `failed` or `interrupted` (DeployMachinesApp). */
async function closeRelease(
  stateDir: string,
  appName: string,
  releaseId: string,
  status: 'complete' | 'failed' | 'interrupted',
): Promise<void> {
  await updatePlatform(stateDir, (platform) => {
    const app = platform.apps[appName] as AppRecord
    const release = app.releases.find((r) => r.ID === releaseId) as ReleaseRecord
    release.InProgress = false
    release.Status = status
    release.Stable = status === 'complete'
    if (status === 'complete') app.deployed = true
  })
}

/** The deploy's release, numbered and recorded `running` before anything else (DeployMachinesApp). */
async function recordRelease(
  stateDir: string,
  appName: string,
  strategy: string,
  built: { imageRef: string; workload: string },
): Promise<ReleaseRecord> {
  return updatePlatform(stateDir, (platform) => {
    const app = platform.apps[appName] as AppRecord
    const release: ReleaseRecord = {
      ID: alnumId(12),
      Version: Math.max(0, ...app.releases.map((r) => r.Version)) + 1,
      Stable: false,
      InProgress: true,
      Reason: 'deploy',
      Description: 'Deploy image',
      Status: 'running',
      DeploymentStrategy: strategy.toUpperCase(),
      CreatedAt: rfc3339(Date.now()),
      ImageRef: built.imageRef,
      workload: built.workload,
    }
    app.releases.push(release)
    return release
  })
}

/** fly-go flaps/retry.go Retry: exponential backoff from 100 ms, at most 500 ms apart, for up to 1 minute. */
const LEASE_RETRY = { initialMs: 100, maxMs: 500, totalMs: 60_000 }

/**
 * A deploy takes a lease on every machine it updates before it touches one (deploy/plan.go and
 * machines_deploymachinesapp.go: `AcquireLeases`), and holds it to the end. A lease held by
 * another deploy answers 409; fly-go's flaps AcquireLease (flaps/flaps_machines.go) repeats the
 * request with flaps.Retry for up to a minute, so a second deploy waits for the first and then
 * updates the machines itself, or fails with "failed to acquire leases". The lease of a flyctl
 * that died is free (Fly's expires after its TTL, 13 s by default: deploy/machines.go DefaultLeaseTtl).
 */
async function acquireLeases(stateDir: string, appName: string, release: ReleaseRecord): Promise<void> {
  const started = Date.now()
  let delay = LEASE_RETRY.initialMs
  for (;;) {
    const held = await updatePlatform(stateDir, (platform) => {
      const app = platform.apps[appName] as AppRecord
      const leases = (app.leases ??= {})
      const ids = activeMachines(app).map((m) => m.id)
      const busy = ids.find((id) => leases[id] && leases[id].pid !== process.pid && pidAlive(leases[id].pid))
      if (busy) return { id: busy, lease: leases[busy] as MachineLease }
      for (const id of ids)
        leases[id] = { nonce: alnumId(32), pid: process.pid, owner: `deploy of release v${release.Version}` }
      return undefined
    })
    if (!held) return
    if (Date.now() - started >= LEASE_RETRY.totalMs) {
      await closeRelease(stateDir, appName, release.ID, 'failed')
      throw new FlyError(
        `failed to acquire leases: failed to get lease on VM ${held.id}: request returned non-2xx status, 409: machine ID ${held.id} lease currently held by ${held.lease.owner}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())))
    delay = Math.min(delay * 2, LEASE_RETRY.maxMs)
  }
}

/** The deploy's leases given back (ReleaseLeases, deferred in DeployMachinesApp). */
async function releaseLeases(stateDir: string, appName: string): Promise<void> {
  await updatePlatform(stateDir, (platform) => {
    const app = platform.apps[appName]
    if (!app?.leases) return
    for (const [id, lease] of Object.entries(app.leases)) if (lease.pid === process.pid) delete app.leases[id]
  })
}

interface DeployWaits {
  smoke: boolean
  health: boolean
}

/**
 * What `fly deploy` waits for (deploy.go: SkipSmokeChecks = --detach || !--smoke-checks,
 * SkipHealthChecks = --detach; machines_deploymachinesapp.go: `immediate` skips both).
 */
function deployWaits(ctx: Ctx, strategy: string): DeployWaits {
  const detach = flagBool(ctx, 'detach')
  const immediate = strategy === 'immediate'
  return { smoke: !detach && !immediate && flagBool(ctx, 'smoke-checks'), health: !detach && !immediate }
}

/**
 * machines_launchinput.go shouldSkipLaunch: a machine that was started, starting or failed (or is
 * new) is launched with the new config; one that was stopped or suspended only has its config
 * replaced and stays down, and the deploy does not wait for it.
 */
export function shouldLaunch(fresh: boolean, state: string): boolean {
  return fresh || ['started', 'starting', 'failed'].includes(state)
}

/**
 * One machine of a rolling deploy (plan.go updateMachineWChecks): update it, then unless it is
 * skipped, wait for `started`, run the smoke checks, then wait for its health checks.
 */
async function rollOutMachine(
  ctx: Ctx,
  runtime: MachineRuntime,
  appName: string,
  r: Rollout,
  imageRef: string,
  waits: DeployWaits,
  waitTimeoutMs: number,
): Promise<void> {
  const state = safeView(runtime, ctx.stateDir, appName, r.machine.id).state
  const id = r.machine.id
  if (!shouldLaunch(r.fresh, state)) {
    // plan.go updateOrCreateMachine, then updateMachineWChecks' skipLaunch return.
    out(`Updating machine config for ${id}\nUpdated machine config for ${id}\n`)
    out(`Updating machine ${id} [app], which is ${state}: its config is replaced, it is not started\n`)
    out(`Machine ${id} [app] update finished: success\n`)
    return
  }
  if (r.fresh) {
    out(`Creating a new machine with image ${imageRef}...\n`)
    await runtime.startMachine(r.launch)
    // machines_deploymachinesapp.go spawnMachineInGroup.
    out(`Machine ${id} [app] was created\n`)
  } else {
    // plan.go updateOrCreateMachine's status lines around the update. One stop/start per machine
    // takes the new image, config and staged secrets together.
    out(`Updating machine config for ${id}\n`)
    if (state === 'failed') await runtime.startMachine(r.launch)
    else await runtime.restartMachine(r.launch)
    out(`Updated machine config for ${id}\n`)
  }
  if (waits.health) {
    out(`  Waiting for ${r.machine.id} [app] to have state: started\n`)
    await waitForStarted(runtime, ctx.stateDir, appName, r.machine.id, waitTimeoutMs)
  }
  if (waits.smoke) {
    out(`Checking that ${r.machine.id} [app] is up and running\n`)
    try {
      await smokeCheck(runtime, ctx.stateDir, appName, r.machine.id)
    } catch (error) {
      printSmokeCheckLogs(runtime, ctx.stateDir, appName, r.machine, error as Error)
      throw error
    }
  }
  if (waits.health) {
    out(`Checking health of machine ${r.machine.id}\n`)
    await waitForChecks(runtime, ctx.stateDir, appName, r.machine, waitTimeoutMs)
  }
  out(`Machine ${r.machine.id} [app] update finished: success\n`)
}

/**
 * machines_deploymachinesapp.go doSmokeChecks: on a failed smoke check flyctl prints the machine's
 * log lines since its update, each as `  <message>`, before it returns the error.
 */
function printSmokeCheckLogs(
  runtime: MachineRuntime,
  stateDir: string,
  appName: string,
  machine: MachineRecord,
  error: Error,
): void {
  err(`Smoke checks for ${machine.id} failed: ${error.message.replace(/^smoke checks for \S+ failed: /, '')}\n`)
  err(`Check its logs: here's the last lines below, or run 'fly logs -i ${machine.id}':\n`)
  const since = Date.parse(machine.updated_at)
  let text: string
  try {
    text = fs.readFileSync(runtime.logPath(stateDir, appName, machine.id), 'utf8')
  } catch {
    return
  }
  for (const raw of text.split('\n')) {
    try {
      const line = JSON.parse(raw) as { timestamp: string; message: string }
      if (Date.parse(line.timestamp) >= since - 1_000) err(`  ${line.message}\n`)
    } catch {
      // a blank or torn line
    }
  }
}

function allocateIpInside(app: AppRecord, type: 'v6' | 'private_v6' | 'shared_v4'): string {
  const address = type === 'private_v6' ? randomPrivateV6() : type === 'v6' ? randomPublicV6() : randomSharedV4()
  app.ips.push({ ID: alnumId(12), Address: address, Type: type, Region: 'global', CreatedAt: rfc3339(Date.now()) })
  return address
}
