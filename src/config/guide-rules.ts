import * as core from '@actions/core'
import type { Plan } from '../inputs/plan.js'
import { checkGatewayConfig, isWithin, type ParsedGatewayConfig } from './gateway-config.js'
import { displayPath, effectiveSettings, type EffectiveSettings, type RenderResult } from './render.js'
import { isTable } from './toml-source.js'
import type { GatewayRelease } from './gateway-release.js'
import type { Finding } from './finding.js'

export type { Finding } from './finding.js'

/**
 * Stage 3: the guide's troubleshooting rules (docs/CONTRACT.md, "Rules from the guide") over
 * the rendered config, before anything changes on Fly. Each finding names the cause, the
 * guide's fix, and where the value came from: an input, or the file and line.
 */

const TOKEN_NAMES = ['OPENCLAW_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_PASSWORD']
const MIN_MEMORY_MB = 1024
const RECOMMENDED_MEMORY_MB = 2048

type Where = Pick<Finding, 'input' | 'file' | 'line'>

/** What every guide rule reads: the rendered config, what it means, and where each value came from. */
interface GuideContext {
  result: RenderResult
  config: RenderResult['config']
  plan: Plan
  s: EffectiveSettings
  gateway: ParsedGatewayConfig | undefined
  knownSecretNames: Set<string>
  /** The names set in [env]. */
  envNames: Set<string>
  facts: { release?: GatewayRelease }
  /** Where a key's value came from: the input that set it, else the user's file and line. */
  from(key: string): Where
  /** Where the bind came from: the `bind` input when it decided the flag, else the command or gateway config. */
  bindFrom(): Where
}
type GuideRule = (ctx: GuideContext) => Finding[]

const finding = (level: Finding['level'], rule: string, message: string, where: Where): Finding[] => [
  { level, rule, message, ...where },
]

export function validateFlyConfig(
  result: RenderResult,
  plan: Plan,
  knownSecretNames: Set<string>,
  facts: { release?: GatewayRelease } = {},
): Finding[] {
  const gateway = result.gateway?.parsed
  const s = effectiveSettings(result.config, gateway)
  const from = (key: string): Where => {
    const input = result.inputOf(key)
    if (input) return { input: input.replace(/ \(default.*\)$/, '') }
    if (result.sourceFile) {
      const line = result.lineOf(key)
      return line ? { file: result.sourceFile, line } : { file: result.sourceFile }
    }
    return {}
  }
  const bindFrom = (): Where => {
    if (s.bindSource === 'gateway-config' && gateway)
      return { input: 'gateway-config', file: gateway.sourcePath, ...lineField(gateway.lineOf('gateway.bind')) }
    if (plan.bind !== undefined && plan.command === undefined && plan.machineCommand === undefined)
      return { input: 'bind' }
    return from('processes.app')
  }
  const ctx: GuideContext = {
    result,
    config: result.config,
    plan,
    s,
    gateway,
    knownSecretNames,
    envNames: new Set(Object.keys(s.env)),
    facts,
    from,
    bindFrom,
  }
  return GUIDE_RULES.flatMap((rule) => rule(ctx))
}

/** A non-loopback bind needs a token or password: the gateway refuses to bind without auth. */
const gatewayTokenRule: GuideRule = ({ s, gateway, plan, knownSecretNames, envNames, bindFrom }) => {
  const gs = gateway?.settings
  const authInConfig =
    gs?.authMode === 'trusted-proxy' ||
    (gs?.authMode !== 'none' &&
      (hasUsableSecret(gs?.authToken, knownSecretNames, envNames) ||
        hasUsableSecret(gs?.authPassword, knownSecretNames, envNames)))
  const tokenSecret = TOKEN_NAMES.some((n) => knownSecretNames.has(n))
  const tokenInEnv = TOKEN_NAMES.some((n) => envNames.has(n))
  if (s.bind === 'loopback' || tokenSecret || authInConfig || tokenInEnv) return []
  return finding(
    'error',
    'gateway-token',
    `bind "${s.bind}" is not loopback, and OPENCLAW_GATEWAY_TOKEN (or OPENCLAW_GATEWAY_PASSWORD) is neither among the synced secrets nor already set on the app: the gateway refuses to bind without auth ("Refusing to bind gateway to ${s.bind} without auth"). Fix (the guide): generate one (openssl rand -hex 32) and pass it as OPENCLAW_GATEWAY_TOKEN in \`secrets\` or \`secrets-json\`, or run \`fly secrets set OPENCLAW_GATEWAY_TOKEN=$(openssl rand -hex 32)\`.${droppedTokenHint(plan)}`,
    bindFrom(),
  )
}

/** A token in plain [env] works, but is visible to anyone who reads the config. */
const tokenInEnvRule: GuideRule = ({ envNames, from }) => {
  const tokenInEnv = TOKEN_NAMES.find((n) => envNames.has(n))
  if (!tokenInEnv) return []
  return finding(
    'warning',
    'gateway-token-in-env',
    `${tokenInEnv} is a plain [env] value, visible in the fly.toml and the machine config. Fix (the guide: treat tokens like passwords): set it as a Fly secret through \`secrets\` instead.`,
    from(`env.${tokenInEnv}`),
  )
}

const PORT_SOURCES: Record<EffectiveSettings['portSource'], string> = {
  command: '--port in the command',
  env: 'OPENCLAW_GATEWAY_PORT',
  'gateway-config': 'gateway.port in the gateway config',
  default: 'the gateway default',
}

/** internal_port must be the gateway's port, or Fly's proxy and checks knock on a closed door. */
const internalPortRule: GuideRule = ({ s, config, from }) => {
  if (s.internalPort === undefined || s.internalPort === s.port) return []
  const portKey = isTable(config.http_service) ? 'http_service.internal_port' : 'services.internal_port'
  return finding(
    'error',
    'internal-port',
    `internal_port is ${s.internalPort} but the gateway listens on ${s.port} (${PORT_SOURCES[s.portSource]}): health checks fail, connection refused. Fix (the guide): make internal_port match the gateway port (--port ${s.internalPort}, or set the \`port\` input so both agree).`,
    from(portKey),
  )
}

/** Memory: 512MB is too small; 1GB may OOM under load; 2GB recommended. */
const memoryRule: GuideRule = ({ s, config, from }) => {
  if (s.memoryMb === undefined || s.memoryMb >= RECOMMENDED_MEMORY_MB) return []
  if (s.memoryMb < MIN_MEMORY_MB) {
    return finding(
      'error',
      'memory',
      `the VM has ${s.memoryMb} MB of memory: 512MB is too small; 2GB recommended (the gateway is killed: SIGABRT, Runtime_AllocateInYoungGeneration). Fix: set \`memory: 2048mb\` (memory = "2048mb" under [[vm]]).`,
      from(memoryKeyOf(config)),
    )
  }
  return finding(
    'warning',
    'memory',
    `the VM has ${s.memoryMb} MB of memory: 1GB may work but can OOM under load or with verbose logging; 2GB recommended. Fix: set \`memory: 2048mb\`.`,
    from(memoryKeyOf(config)),
  )
}

/** NODE_OPTIONS heap at or above the VM memory: V8 grows past what the machine has. */
const nodeHeapRule: GuideRule = ({ s, from }) => {
  if (s.heapMb === undefined || s.memoryMb === undefined || s.heapMb < s.memoryMb) return []
  return finding(
    'error',
    'node-heap',
    `NODE_OPTIONS sets --max-old-space-size=${s.heapMb}, at or above the VM's ${s.memoryMb} MB: the kernel kills the process before V8 collects (OOM). Fix: keep the heap below the memory, as the guide does (--max-old-space-size=1536 with 2048mb), or raise \`memory\`.`,
    from('env.NODE_OPTIONS'),
  )
}

/** State must live on the volume or it is lost on every restart. */
const stateDirRule: GuideRule = ({ s, from }) => {
  if (s.stateDir !== undefined && s.mountDestination !== undefined && isWithin(s.stateDir, s.mountDestination))
    return []
  const cause =
    s.mountDestination === undefined
      ? 'there is no [mounts] volume'
      : s.stateDir === undefined
        ? `OPENCLAW_STATE_DIR is not set, so the gateway writes to ~/.openclaw on the machine's root filesystem, outside the volume at ${s.mountDestination}`
        : `OPENCLAW_STATE_DIR is ${s.stateDir}, outside the volume mounted at ${s.mountDestination}`
  return finding(
    'error',
    'state-dir',
    `${cause}: state not persisting (credentials and sessions vanish after a restart). Fix (the guide): set OPENCLAW_STATE_DIR to the mount's destination (/data) with \`state-dir\`, and redeploy.`,
    from(s.stateDir === undefined ? 'mounts.destination' : 'env.OPENCLAW_STATE_DIR'),
  )
}

/** A gateway on loopback: unreachable for Fly's proxy when public; only the machine reaches it when private. */
const loopbackRule: GuideRule = ({ s, bindFrom }) => {
  if (s.bind !== 'loopback') return []
  if (!s.isPrivate) {
    return finding(
      'error',
      'public-loopback',
      `the deployment is public but the gateway binds loopback (127.0.0.1${s.bindSource === 'default' ? ', its default when the command has no --bind' : ''}): "app is not listening on the expected address". Fix (the guide): add --bind lan to the command (the \`bind\` input).`,
      bindFrom(),
    )
  }
  return finding(
    'warning',
    'private-loopback',
    'the gateway binds loopback, so only processes inside the machine reach it (not fly proxy, not WireGuard), and the health gate sees no ready listener on a reachable address. Fix: --bind lan (the `bind` input) unless a sidecar such as Tailscale Serve fronts it.',
    bindFrom(),
  )
}

/** Warnings about the public service the guide configures. */
const httpServiceRule: GuideRule = ({ config, from }) => {
  const http = config.http_service
  if (!isTable(http)) return []
  const findings: Finding[] = []
  if (http.force_https !== true) {
    findings.push(
      ...finding(
        'warning',
        'force-https',
        'the public [http_service] does not set force_https = true, so the gateway token can travel over plain HTTP. Fix (the guide): force_https = true.',
        from('http_service.force_https'),
      ),
    )
  }
  const autoStop = http.auto_stop_machines
  if (autoStop === true || autoStop === 'stop' || autoStop === 'suspend') {
    findings.push(
      ...finding(
        'warning',
        'auto-stop',
        `auto_stop_machines = ${JSON.stringify(autoStop)} stops the gateway when no HTTP traffic arrives, which disconnects Discord/Telegram/Slack. Fix (the guide): auto_stop_machines = false and min_machines_running = 1.`,
        from('http_service.auto_stop_machines'),
      ),
    )
  }
  return findings
}

const privateServicesRule: GuideRule = ({ plan, config, from }) => {
  if (!plan.private || !Array.isArray(config.services) || config.services.length === 0) return []
  return finding(
    'warning',
    'private-services',
    '`private: true` but the config keeps [[services]] with ports; the deploy passes --no-public-ips and the harden step releases public IPs, so they are reachable only over the private network. Fix: remove [[services]] for a private deployment.',
    from('services'),
  )
}

/** The gateway's own config file, read against what the command and fly.toml say. */
const gatewayConfigRule: GuideRule = ({ gateway, plan, s, knownSecretNames, envNames, facts }) => {
  if (!gateway) return []
  return checkGatewayConfig(gateway, {
    app: plan.app,
    isPublic: !s.isPrivate,
    ...(s.bindSource === 'command' ? { commandBind: s.bind } : {}),
    ...(s.portSource === 'command' ? { commandPort: s.port } : {}),
    allowUnconfigured: s.commandArgv.includes('--allow-unconfigured'),
    knownNames: new Set([...knownSecretNames, ...envNames]),
    ...(s.mountDestination ? { mountDestination: s.mountDestination } : {}),
    ...(facts.release ? { release: facts.release } : {}),
  })
}

/** The guide's rules, in the order their findings are reported. */
const GUIDE_RULES: GuideRule[] = [
  gatewayTokenRule,
  tokenInEnvRule,
  internalPortRule,
  memoryRule,
  nodeHeapRule,
  stateDirRule,
  loopbackRule,
  httpServiceRule,
  privateServicesRule,
  gatewayConfigRule,
]

/** When secrets-json held the token under a name it dropped, the token rule says which and why. */
function droppedTokenHint(plan: Plan): string {
  const near = (plan.secretsDropped ?? []).filter((d) => TOKEN_NAMES.includes(d.name.toUpperCase()))
  return near.map((d) => ` Note: \`secrets-json\` held "${d.name}", which was dropped: ${d.why}.`).join('')
}

function lineField(line: number | undefined): { line?: number } {
  return line ? { line } : {}
}

function hasUsableSecret(value: unknown, secrets: Set<string>, env: Set<string>): boolean {
  if (typeof value === 'string') {
    const ref = /^\$\{([A-Z_][A-Z0-9_]*)\}$/.exec(value.trim())
    return ref ? secrets.has(ref[1] as string) || env.has(ref[1] as string) : value.trim() !== ''
  }
  // A SecretRef object ({ source, provider, id }) is resolved by the gateway itself.
  return typeof value === 'object' && value !== null
}

function memoryKeyOf(config: RenderResult['config']): string {
  const vm = config.vm ?? config.compute ?? config.computes
  const entry = Array.isArray(vm) ? vm.find(isTable) : vm
  return isTable(entry) && entry.memory_mb !== undefined
    ? 'vm.memory_mb'
    : isTable(entry) && entry.memory !== undefined
      ? 'vm.memory'
      : 'vm.size'
}

/** Edge: every finding becomes an annotation; then one error listing all errors, if any. */
export function reportFindings(
  findings: Finding[],
  /** GITHUB_WORKSPACE (Plan.githubWorkspace): paths are shown relative to it. */
  workspace: string | undefined,
): void {
  for (const f of findings) {
    const where = f.file ? displayPath(f.file, workspace) : undefined
    const source = [
      f.input ? `input \`${f.input}\`` : undefined,
      where ? `${where}${f.line ? `:${f.line}` : ''}` : undefined,
    ]
      .filter(Boolean)
      .join(', ')
    const text = source ? `${f.message} (from ${source})` : f.message
    const props: core.AnnotationProperties = {
      title: `${f.rule} (fly-deploy)`,
      ...(where ? { file: where } : {}),
      ...(f.line ? { startLine: f.line } : {}),
    }
    if (f.level === 'error') core.error(text, props)
    else core.warning(text, props)
  }
  const errors = findings.filter((f) => f.level === 'error')
  if (errors.length > 0) {
    const list = errors
      .map(
        (f) =>
          `- [${f.rule}]${f.input ? ` (input \`${f.input}\`)` : ''}${f.file ? ` (${displayPath(f.file, workspace)}${f.line ? `:${f.line}` : ''})` : ''} ${f.message}`,
      )
      .join('\n')
    throw new ValidationError(
      `The rendered fly.toml breaks ${errors.length} of the guide's rules; nothing was changed on Fly:\n${list}`,
      errors,
    )
  }
}

export class ValidationError extends Error {
  constructor(
    message: string,
    readonly findings: Finding[],
  ) {
    super(message)
    this.name = 'ValidationError'
  }
}
