/**
 * What one gateway or platform log message means for the health verdict. Pure; the patterns are
 * those of the OpenClaw gateway releases (the guide, and the 2026.9.6 dist files
 * named below) and of Fly's init (superfly/init-snapshot: "Main child exited ...", "Process appears
 * to have been OOM killed!") and kernel ("Out of memory: Killed process N (node)").
 */

export type FatalCause = 'out-of-memory' | 'gateway-lock' | 'auth-required' | 'invalid-config' | 'start-failed'

export interface Address {
  host: string
  port: number
}

export type Signal =
  /** 2026.4 and later: `[gateway] ready` (no host or port on it). */
  | { kind: 'ready' }
  /** Up to 2026.3: `[gateway] listening on ws://HOST:PORT[, ws://HOST:PORT] (PID n)`. */
  | { kind: 'listening'; addresses: Address[] }
  /** 2026.4 and later, printed only for a non-loopback bind. */
  | { kind: 'non-loopback-warning' }
  /** 2026.9: `seeded gateway.controlUi.allowedOrigins ["http://localhost:P", ...] for bind=lan`. */
  | { kind: 'origins-port'; port: number }
  | { kind: 'channel-started'; channel: string }
  /** 2026.9: env credentials found but the channel is not configured, so it never starts. */
  | { kind: 'channels-suppressed'; channels: string[] }
  | { kind: 'fatal'; cause: FatalCause }
  /** The gateway began a requested shutdown; its exit that follows is not a crash. */
  | { kind: 'stop-requested' }
  /** Fly's init saw the main process end. */
  | { kind: 'exit'; code?: number; signal?: string }
  /** Fly's init gave up restarting the machine. */
  | { kind: 'restarts-exhausted' }
  /** Fly's proxy could not connect to the machine's internal port. */
  | { kind: 'proxy-refused' }

const OOM = [
  /JavaScript heap out of memory/i,
  /Runtime_AllocateInYoungGeneration/,
  /Out of memory: Killed process/i,
  /Process appears to have been OOM killed/i,
]

// openclaw dist/gateway-lock-*.mjs, server-start-*.mjs and the doctor's state coordinator (2026.9.6);
// `gateway already running (pid N); lock timeout after 5000ms` of older releases (the guide).
const LOCK = [
  /gateway already running/i,
  /lock timeout after \d+\s*ms/i,
  /another OpenClaw process owns gateway-lifecycle/i,
  /StateDatabaseCoordinatorContentionError/,
  /failed to acquire gateway state ownership/i,
  /Legacy Gateway lock .* still has a live/i,
  /another gateway instance is already listening/i,
  /state directory is locked by/i,
  /Gateway lock (?:payload|owner identity) could not be verified/i,
]

const AUTH = /Refusing to bind gateway to \S+ without auth/i

const CONFIG = [/Invalid config at /i, /Missing config\. Run `?openclaw setup/i, /Config validation failed/i]

const START_FAILED = /Gateway failed to start:/i

const READY = /\[gateway\]\s+ready\s*$/
const LISTENING = /\[gateway\]\s+listening on (ws:\/\/.+?)\s*\(PID \d+\)/
const WS_ADDRESS = /wss?:\/\/(\[[^\]]+\]|[^\s:,/]+):(\d+)/g
const NON_LOOPBACK_WARNING = /Gateway is binding to a non-loopback address/
const SEEDED_ORIGINS = /seeded gateway\.controlUi\.allowedOrigins \[([^\]]*)\]/
const ORIGIN_PORT = /:\/\/(?:localhost|127\.0\.0\.1|\[::1\]):(\d+)/

// `[telegram] [default] starting provider`, `[discord] logged in to discord as <id>`,
// `slack socket mode connected` (the guide, recorded 2026.9.6 telegram run).
const CHANNEL_PROVIDER = /\[([a-z][\w-]*)\](?:\s+\[[^\]]*\])*\s+starting provider\b/i
const CHANNEL_LOGGED_IN = /\blogged in to ([a-z][\w-]*)\b/i
const CHANNEL_TAGGED_LOGIN = /\[([a-z][\w-]*)\][^[]*\blogged in\b/i
const SLACK_SOCKET = /\b(slack) socket mode connected\b/i
// openclaw 2026.9.6: `suppressed ambient channel auto-configuration for 1 channel: discord. Configure ...`
const SUPPRESSED = /suppressed ambient channel auto-configuration for \d+ channels?: ([\w, -]+?)\./i

const GATEWAY_STOPPING = /\[gateway\]\s+received SIG(?:TERM|INT|HUP)\b|\[gateway\]\s+shutting down\b/
const EXIT_CODE = /Main child exited normally with code: (\d+)/
const EXIT_SIGNAL = /Main child exited with signal \(with signal '([A-Za-z0-9]+)'/
const RESTARTS_EXHAUSTED = /machine has reached its max restart count/i
// Fly proxy: "instance refused connection. is your app listening on 0.0.0.0:3000? ..."
const PROXY_REFUSED = /refused connection|is your app listening on/i

/** Every signal a message carries (usually none or one). */
export function classify(message: string, provider = 'app'): Signal[] {
  if (provider === 'proxy') return PROXY_REFUSED.test(message) ? [{ kind: 'proxy-refused' }] : []

  const fatal = fatalCause(message)
  if (fatal) {
    const signals: Signal[] = [{ kind: 'fatal', cause: fatal }]
    const exit = exitSignal(message)
    if (exit) signals.push(exit)
    return signals
  }
  const exit = exitSignal(message)
  if (exit) return [exit]
  if (RESTARTS_EXHAUSTED.test(message)) return [{ kind: 'restarts-exhausted' }]
  if (READY.test(message)) return [{ kind: 'ready' }]
  const listening = LISTENING.exec(message)
  if (listening) {
    const addresses = parseAddresses(listening[1]!)
    return addresses.length > 0 ? [{ kind: 'listening', addresses }] : []
  }
  if (NON_LOOPBACK_WARNING.test(message)) return [{ kind: 'non-loopback-warning' }]
  const seeded = SEEDED_ORIGINS.exec(message)
  if (seeded) {
    const port = ORIGIN_PORT.exec(seeded[1]!)
    return port ? [{ kind: 'origins-port', port: Number(port[1]) }] : []
  }
  const suppressed = SUPPRESSED.exec(message)
  if (suppressed) {
    const channels = suppressed[1]!
      .split(/[,\s]+/)
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean)
    return [{ kind: 'channels-suppressed', channels }]
  }
  if (GATEWAY_STOPPING.test(message)) return [{ kind: 'stop-requested' }]
  const channel = channelStarted(message)
  if (channel) return [{ kind: 'channel-started', channel }]
  return []
}

function fatalCause(message: string): FatalCause | undefined {
  if (OOM.some((re) => re.test(message))) return 'out-of-memory'
  // The guide lists SIGABRT among the OOM signs: V8 aborts the process when the heap is exhausted.
  const signal = EXIT_SIGNAL.exec(message)
  if (signal && /^(SIGABRT|6)$/.test(signal[1]!)) return 'out-of-memory'
  if (LOCK.some((re) => re.test(message))) return 'gateway-lock'
  if (AUTH.test(message)) return 'auth-required'
  if (CONFIG.some((re) => re.test(message))) return 'invalid-config'
  if (START_FAILED.test(message)) return 'start-failed'
  return undefined
}

function exitSignal(message: string): Signal | undefined {
  const code = EXIT_CODE.exec(message)
  if (code) return { kind: 'exit', code: Number(code[1]) }
  const signal = EXIT_SIGNAL.exec(message)
  if (signal) return { kind: 'exit', signal: signal[1]! }
  return undefined
}

function channelStarted(message: string): string | undefined {
  const match =
    CHANNEL_PROVIDER.exec(message) ??
    CHANNEL_LOGGED_IN.exec(message) ??
    SLACK_SOCKET.exec(message) ??
    CHANNEL_TAGGED_LOGIN.exec(message)
  const name = match?.[1]?.toLowerCase()
  // Subsystems that are not channels also say "starting"; only a named provider or login counts.
  if (!name || name === 'gateway' || name === 'plugins' || name === 'health-monitor') return undefined
  return name
}

export function parseAddresses(list: string): Address[] {
  const addresses: Address[] = []
  for (const match of list.matchAll(WS_ADDRESS)) {
    addresses.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) })
  }
  return addresses
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  return (
    h === 'localhost' ||
    /^127\.\d+\.\d+\.\d+$/.test(h) ||
    h === '::1' ||
    h === '0:0:0:0:0:0:0:1' ||
    /^::ffff:127\./.test(h)
  )
}
