import JSON5 from 'json5'
import * as momoa from '@humanwhocodes/momoa'
import { ConfigFileError } from './toml-source.js'
import type { BindMode } from '../inputs/plan.js'
import type { Finding } from './finding.js'
import { RELEASE_RULES, describeRelease, releaseLevel, type GatewayRelease } from './gateway-release.js'

type AnyNode = momoa.AnyNode
type MemberNode = momoa.MemberNode

/**
 * The `gateway-config` input: an openclaw.json (JSON5) from the repository, checked here and
 * delivered with the release as a `[[files]]` entry plus `OPENCLAW_CONFIG_PATH` in `[env]`, so a
 * deploy carries it, a rollback restores it, and no ssh or extra restart is needed.
 *
 * The gateway reads OPENCLAW_CONFIG_PATH before `$OPENCLAW_STATE_DIR/openclaw.json`
 * (openclaw/openclaw src/config/paths.ts, resolveConfigPath / resolveCanonicalConfigPath).
 */

/**
 * Outside the volume on purpose: a file under the mount would be hidden by the volume, and the
 * copy on the volume would survive a rollback. /etc is on the image's root filesystem, which
 * Fly rewrites from the release's `files` on every machine update.
 */
export const GATEWAY_CONFIG_GUEST_PATH = '/etc/openclaw/openclaw.json'

export interface GatewayConfigSource {
  /** The file in the repository, as the user named it (for messages and annotations). */
  sourcePath: string
  /** Absolute path flyctl reads for `[[files]] local_path` (a copy next to the rendered fly.toml). */
  localPath: string
  text: string
}

export interface GatewaySettings {
  mode?: unknown
  bind?: unknown
  port?: unknown
  customBindHost?: unknown
  authMode?: unknown
  /** `gateway.auth.token` as written: a string, a secret reference object, or undefined. */
  authToken?: unknown
  authPassword?: unknown
  trustedProxies?: unknown
  controlUiEnabled?: unknown
  allowedOrigins?: unknown
  hostHeaderOriginFallback: boolean
}

export interface ParsedGatewayConfig {
  sourcePath: string
  localPath: string
  guestPath: string
  json: Record<string, unknown>
  settings: GatewaySettings
  /** 1-based line of a dotted key such as `gateway.auth.token` (else of its deepest present parent), from a JSON5 parser. */
  lineOf(path: string): number | undefined
}

export function parseGatewayConfig(source: GatewayConfigSource): ParsedGatewayConfig {
  let json: unknown
  try {
    json = JSON5.parse(source.text)
  } catch (err) {
    const e = err as { lineNumber?: number; columnNumber?: number; message?: string }
    throw new ConfigFileError(
      source.sourcePath,
      e.lineNumber,
      e.columnNumber,
      `invalid JSON5: ${String(e.message ?? err)
        .replace(/^JSON5: /, '')
        .replace(/ at \d+:\d+$/, '')}`,
      'Fix the syntax (JSON5 allows comments and trailing commas); the gateway refuses a config it cannot parse and exits 78.',
    )
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigFileError(
      source.sourcePath,
      1,
      1,
      'an openclaw.json must hold one object',
      'Write the config as `{ gateway: { ... }, ... }`.',
    )
  }
  const root = json as Record<string, unknown>
  const gateway = asRecord(root.gateway)
  const auth = asRecord(gateway?.auth)
  const controlUi = asRecord(gateway?.controlUi)
  return {
    sourcePath: source.sourcePath,
    localPath: source.localPath,
    guestPath: GATEWAY_CONFIG_GUEST_PATH,
    json: root,
    settings: {
      mode: gateway?.mode,
      bind: gateway?.bind,
      port: gateway?.port,
      customBindHost: gateway?.customBindHost,
      authMode: auth?.mode,
      authToken: auth?.token,
      authPassword: auth?.password,
      trustedProxies: gateway?.trustedProxies,
      controlUiEnabled: controlUi?.enabled,
      allowedOrigins: controlUi?.allowedOrigins,
      hostHeaderOriginFallback: controlUi?.dangerouslyAllowHostHeaderOriginFallback === true,
    },
    lineOf: (path) => findJson5KeyLine(source.text, path),
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

/**
 * The 1-based line of the key `a.b.c`, read from momoa's JSON5 syntax tree, so a key named in a
 * comment or inside a string is never taken for the real one. When the full path is missing,
 * the line of its deepest present parent, so an annotation still lands inside the right object.
 */
export function findJson5KeyLine(text: string, dottedPath: string): number | undefined {
  let root: AnyNode
  try {
    root = momoa.parse(text, { mode: 'json5', ranges: false, tokens: false }).body
  } catch {
    return undefined
  }
  let line: number | undefined
  let node: AnyNode | undefined = root
  for (const key of dottedPath.split('.')) {
    if (node?.type !== 'Object') return line
    const member: MemberNode | undefined = node.members.find((m) => keyName(m.name) === key)
    if (!member) return line
    line = member.name.loc.start.line
    node = member.value
  }
  return line
}

function keyName(name: MemberNode['name']): string {
  return name.type === 'Identifier' ? name.name : name.value
}

// ---------------------------------------------------------------------------------------------
// Checks of the parts the deployment depends on

export interface GatewayCheckContext {
  app: string
  isPublic: boolean
  /** The `--bind` of the command, if it has one (it wins over the config). */
  commandBind?: string
  /** The `--port` of the command, if it has one (it wins over the config). */
  commandPort?: number
  allowUnconfigured: boolean
  /** Names set as Fly secrets (synced now or already on the app) or plain `[env]`. */
  knownNames: Set<string>
  /** `[mounts] destination`, to keep the delivered file off the volume. */
  mountDestination?: string
  /** The gateway release, when the image or Dockerfile says (release-dependent rules). */
  release?: GatewayRelease
}

const CONFIG_BIND_MODES: readonly string[] = [
  'loopback',
  'lan',
  'tailnet',
  'auto',
  'custom',
] satisfies readonly BindMode[]
const AUTH_MODES = ['none', 'token', 'password', 'trusted-proxy']

/** One rule of openclaw.json's checks: it reports through `r` what it finds. */
type GatewayRule = (config: ParsedGatewayConfig, ctx: GatewayCheckContext, r: RuleReport) => void

interface RuleReport {
  error(rule: string, path: string, message: string): void
  warning(rule: string, path: string, message: string): void
  push(finding: Finding): void
  at(path: string): { file: string; line?: number }
}

/** The bind the gateway ends up with: the command's, else the config's, else loopback. */
function effectiveBindOf(config: ParsedGatewayConfig, ctx: GatewayCheckContext): string {
  return ctx.commandBind ?? (typeof config.settings.bind === 'string' ? config.settings.bind : 'loopback')
}

/** gateway.mode must be "local" unless the command allows an unconfigured start. */
const modeRule: GatewayRule = (config, ctx, r) => {
  const s = config.settings
  const { error, warning } = r
  // "Gateway start blocked: set gateway.mode=local (current: ...) or pass --allow-unconfigured."
  if (s.mode !== 'local') {
    const current = s.mode === undefined ? 'missing' : JSON.stringify(s.mode)
    const text = `gateway.mode is ${current}: the gateway only starts a local gateway from a config whose gateway.mode is "local". Fix: set \`gateway: { mode: "local" }\` in ${config.sourcePath}.`
    if (!ctx.allowUnconfigured)
      error(
        'gateway-mode',
        'gateway.mode',
        `${text} (The command has no --allow-unconfigured, so the gateway would refuse to start.)`,
      )
    else if (s.mode !== undefined)
      warning('gateway-mode', 'gateway.mode', `${text} (--allow-unconfigured lets it start anyway.)`)
  }
}

/** gateway.bind: a mode the schema accepts, agreeing with the command's --bind. */
const bindRule: GatewayRule = (config, ctx, r) => {
  const s = config.settings
  const { error, warning } = r
  if (s.bind !== undefined && (typeof s.bind !== 'string' || !CONFIG_BIND_MODES.includes(s.bind))) {
    error(
      'gateway-bind',
      'gateway.bind',
      `gateway.bind is ${JSON.stringify(s.bind)}; the gateway's schema accepts ${CONFIG_BIND_MODES.join(', ')} and exits 78 otherwise. Fix: use "lan" (the guide's bind for Fly).`,
    )
  } else if (typeof s.bind === 'string' && ctx.commandBind && s.bind !== ctx.commandBind) {
    warning(
      'gateway-bind',
      'gateway.bind',
      `gateway.bind is "${s.bind}" but the command passes --bind ${ctx.commandBind}, which wins. Fix: make them agree to avoid confusion.`,
    )
  }
  if (s.bind === 'custom' && (typeof s.customBindHost !== 'string' || s.customBindHost.trim() === '')) {
    error(
      'gateway-bind',
      'gateway.bind',
      'gateway.bind is "custom" without gateway.customBindHost. Fix: set gateway.customBindHost, or use bind "lan".',
    )
  }
}

/** gateway.port: a port, agreeing with the command's --port. */
const portRule: GatewayRule = (config, ctx, r) => {
  const s = config.settings
  const { error, warning } = r
  if (
    s.port !== undefined &&
    !(typeof s.port === 'number' && Number.isInteger(s.port) && s.port > 0 && s.port < 65536)
  ) {
    error(
      'gateway-port',
      'gateway.port',
      `gateway.port is ${JSON.stringify(s.port)}; it must be an integer port (1-65535). Fix: remove it (the command's --port wins) or set the gateway port.`,
    )
  } else if (typeof s.port === 'number' && ctx.commandPort !== undefined && s.port !== ctx.commandPort) {
    warning(
      'gateway-port',
      'gateway.port',
      `gateway.port is ${s.port} but the command passes --port ${ctx.commandPort}, which wins (precedence: --port, OPENCLAW_GATEWAY_PORT, config). Fix: make them agree.`,
    )
  }
}

/** gateway.auth.mode: known, and with what each mode needs. */
const authModeRule: GatewayRule = (config, ctx, r) => {
  const s = config.settings
  const { error } = r
  const effectiveBind = effectiveBindOf(config, ctx)
  const nonLoopback = effectiveBind !== 'loopback'
  if (s.authMode !== undefined && (typeof s.authMode !== 'string' || !AUTH_MODES.includes(s.authMode))) {
    error(
      'gateway-auth',
      'gateway.auth.mode',
      `gateway.auth.mode is ${JSON.stringify(s.authMode)}; expected one of ${AUTH_MODES.join(', ')}. Fix: use "token" with OPENCLAW_GATEWAY_TOKEN set as a Fly secret.`,
    )
  }
  if (s.authMode === 'none' && nonLoopback) {
    error(
      'gateway-auth',
      'gateway.auth.mode',
      `gateway.auth.mode is "none" with bind ${effectiveBind}: the gateway refuses to bind a non-loopback address without auth. Fix: use mode "token" and set OPENCLAW_GATEWAY_TOKEN (fly secrets set OPENCLAW_GATEWAY_TOKEN=$(openssl rand -hex 32)).`,
    )
  }
  if (s.authMode === 'password' && !s.authPassword && !ctx.knownNames.has('OPENCLAW_GATEWAY_PASSWORD')) {
    error(
      'gateway-auth',
      'gateway.auth.mode',
      'gateway.auth.mode is "password" but no password is set: neither gateway.auth.password nor an OPENCLAW_GATEWAY_PASSWORD secret. Fix: add OPENCLAW_GATEWAY_PASSWORD to the synced secrets.',
    )
  }
  if (s.authMode === 'trusted-proxy' && !(Array.isArray(s.trustedProxies) && s.trustedProxies.length > 0)) {
    error(
      'gateway-auth',
      'gateway.auth.mode',
      'gateway.auth.mode is "trusted-proxy" without gateway.trustedProxies; the gateway refuses to start. Fix: list the proxy addresses in gateway.trustedProxies.',
    )
  }
}

/** gateway.auth.token/password: a ${SECRET} that exists, never a value written in the file. */
const authValueRule: GatewayRule = (config, ctx, r) => {
  const s = config.settings
  const { error, warning } = r
  for (const [key, value] of [
    ['token', s.authToken],
    ['password', s.authPassword],
  ] as const) {
    const reference = typeof value === 'string' ? /^\$\{([A-Z_][A-Z0-9_]*)\}$/.exec(value.trim()) : null
    if (reference) {
      if (!ctx.knownNames.has(reference[1] as string)) {
        error(
          'gateway-auth',
          `gateway.auth.${key}`,
          `gateway.auth.${key} refers to \${${reference[1]}}, which is neither a synced or existing Fly secret nor in [env]; the gateway fails on a missing variable. Fix: add ${reference[1]} to the synced secrets.`,
        )
      }
    } else if (typeof value === 'string' && value !== '') {
      warning(
        'gateway-auth',
        `gateway.auth.${key}`,
        `gateway.auth.${key} is written in ${config.sourcePath}, so anyone who can read the repository can use the gateway. Fix (the guide: prefer environment variables for tokens): remove it and set OPENCLAW_GATEWAY_${key.toUpperCase()} as a Fly secret.`,
      )
    }
  }
}

/** The Control UI's allowed origins on a public non-loopback bind (release-dependent). */
const originsRule: GatewayRule = (config, ctx, r) => {
  const s = config.settings
  const effectiveBind = effectiveBindOf(config, ctx)
  const nonLoopback = effectiveBind !== 'loopback'
  // 2026.2.26 - 2026.5 crash on a non-loopback bind without origins (openclaw issue #71823);
  // later releases seed only localhost origins (src/gateway/startup-control-ui-origins.ts), so
  // the public URL's Control UI would be refused either way: an error only for a release known
  // to crash, a warning otherwise (release.ts RELEASE_RULES).
  const origins = Array.isArray(s.allowedOrigins)
    ? s.allowedOrigins.filter((o) => typeof o === 'string' && o.trim() !== '')
    : []
  if (
    ctx.isPublic &&
    nonLoopback &&
    s.controlUiEnabled !== false &&
    origins.length === 0 &&
    !s.hostHeaderOriginFallback
  ) {
    const rule = RELEASE_RULES['control-ui-origins']
    const level = releaseLevel(rule, ctx.release)
    const crash = level === 'error' ? 'it refuses to start' : `releases ${rule.concerns} refuse to start`
    r.push({
      level,
      rule: 'control-ui-origins',
      input: 'gateway-config',
      ...r.at(config.lineOf('gateway.controlUi') ? 'gateway.controlUi' : 'gateway'),
      message: `a public deployment binding ${effectiveBind} has no gateway.controlUi.allowedOrigins; ${describeRelease(ctx.release)}: ${crash} without it ("non-loopback Control UI requires gateway.controlUi.allowedOrigins"), later ones refuse the browser at the public URL. Fix: set \`gateway: { controlUi: { allowedOrigins: ["https://${ctx.app}.fly.dev"] } }\`.`,
    })
  }
}

/** The delivered file must not sit under the volume, which would hide it. */
const pathRule: GatewayRule = (config, ctx, r) => {
  const { error } = r
  if (ctx.mountDestination && isWithin(config.guestPath, ctx.mountDestination)) {
    error(
      'gateway-config-path',
      'gateway',
      `the delivered config path ${config.guestPath} is inside the volume mounted at ${ctx.mountDestination}, where the volume would hide it. Fix: mount the volume elsewhere (state-dir).`,
    )
  }
}

const GATEWAY_RULES: GatewayRule[] = [modeRule, bindRule, portRule, authModeRule, authValueRule, originsRule, pathRule]

export function checkGatewayConfig(config: ParsedGatewayConfig, ctx: GatewayCheckContext): Finding[] {
  const findings: Finding[] = []
  const at = (path: string) => ({ file: config.sourcePath, line: config.lineOf(path) })
  const report: RuleReport = {
    error: (rule, path, message) =>
      findings.push({ level: 'error', rule, message, input: 'gateway-config', ...at(path) }),
    warning: (rule, path, message) =>
      findings.push({ level: 'warning', rule, message, input: 'gateway-config', ...at(path) }),
    push: (finding) => findings.push(finding),
    at,
  }
  for (const check of GATEWAY_RULES) check(config, ctx, report)
  return findings
}

export function isWithin(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '')
  return d === '' || path === d || path.startsWith(`${d}/`)
}
