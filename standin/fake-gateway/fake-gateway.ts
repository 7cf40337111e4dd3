// A stand-in for `node dist/index.js gateway ...` that prints the real gateway's console lines
// (colours and timestamp format copied from openclaw 2026.9.6 run here, older lines from the
// Fly guide) for one scenario, read from FAKE_GATEWAY_SCENARIO. Fast unit tests
// only; the real gateway runs in the other tests. Honours --port and --bind, and really listens
// on the port when the scenario reaches readiness, so health checks and probes see it. 'lock'
// honours lock files in the state dir (see staleLock), so the guide's repair really fixes it.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

const SCENARIOS = [
  'ready',
  'ready-legacy',
  'no-auth',
  'lock',
  'oom',
  'invalid-config',
  'loopback',
  'crash',
  'crash-late',
  'memory-hog',
  'startup-stuck',
] as const
type Scenario = (typeof SCENARIOS)[number]

// openclaw's subsystem logger: grey timestamp, cyan subsystem, message coloured by level.
const GREY = '\x1b[90m'
const CYAN = '\x1b[36m'
const GREEN = '\x1b[32m'
const YELLOW = '\x1b[33m'
const RESET = '\x1b[39m'

function timestamp(): string {
  return new Date().toISOString().replace('Z', '+00:00')
}

function line(subsystem: string, message: string, colour = CYAN, subsystemColour = CYAN): void {
  process.stdout.write(
    `${GREY}${timestamp()}${RESET} ${subsystemColour}[${subsystem}]${RESET} ${colour}${message}${RESET}\n`,
  )
}

// Errors printed through the runtime's console.error: plain timestamp, no colour.
function plainError(message: string): void {
  process.stderr.write(`${timestamp()} ${message}\n`)
}

function option(argv: string[], name: string): string | undefined {
  const index = argv.indexOf(name)
  if (index >= 0) return argv[index + 1]
  const inline = argv.find((arg) => arg.startsWith(`${name}=`))
  return inline?.slice(name.length + 1)
}

function bindHost(bind: string): string {
  return bind === 'loopback' ? '127.0.0.1' : '0.0.0.0'
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Answers every request as the live probe does; with `startupPending`, `GET /startup(z)` answers as
 * 2026.9.6 does while its startup sidecars never settle (docs/gateway/health.md: 503, status "starting").
 */
function listen(host: string, port: number, startupPending = false): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        const path = /^[A-Z]+ (\S+)/.exec(chunk.toString('latin1'))?.[1] ?? '/'
        const pending = startupPending && /^\/startupz?(\?|$)/.test(path)
        const [status, body] = pending
          ? ['503 Service Unavailable', '{"ok":false,"status":"starting"}']
          : ['200 OK', '{"ok":true,"status":"live"}']
        socket.end(
          `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        )
      })
      socket.on('error', () => {})
    })
    // A port taken by a neighbour (path-mapped machines share the host network) is not fatal
    // for a fake: its lines are what tests read.
    server.once('error', () => resolve(undefined))
    server.listen(port, host, () => resolve(server))
  })
}

function stayUntilSignalled(server: net.Server | undefined): void {
  const keepAlive = setInterval(() => {}, 60_000)
  const shutdown = (signal: string) => {
    line('gateway', `received ${signal}; shutting down`)
    clearInterval(keepAlive)
    server?.close()
    line('shutdown', 'completed cleanly in 3ms', CYAN, YELLOW)
    process.exit(0)
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}

async function startupPreamble(): Promise<void> {
  line('gateway', 'loading configuration…')
  await sleep(20)
  line('gateway', 'resolving authentication…')
}

async function ready(port: number, bind: string, legacy: boolean, startupPending = false): Promise<void> {
  await startupPreamble()
  line('gateway', 'starting...')
  const host = bindHost(bind)
  const server = await listen(host, port, startupPending)
  if (legacy) {
    // Releases up to 2026.3.x: the only readiness evidence is the listening line.
    line('gateway', `listening on ws://${host}:${port} (PID ${process.pid})`)
  } else {
    line('gateway', 'starting HTTP server...')
    line('health-monitor', 'started (interval: 300s, startup-grace: 60s, channel-connect-grace: 120s)', CYAN, GREEN)
    if (host !== '127.0.0.1') {
      line(
        'gateway',
        '⚠️  Gateway is binding to a non-loopback address. Ensure authentication is configured before exposing to public networks.',
        YELLOW,
      )
    }
    line('gateway', 'http server listening (3 plugins: anthropic, memory-core, openai; 0.4s)')
    line('gateway', 'ready')
  }
  stayUntilSignalled(server)
}

// The guide's stale lock: `gateway.<hash>.lock` in the state dir (the guide: `/data/gateway.*.lock`),
// left by a gateway that died holding it. The first boot on a volume leaves one there (once: a
// marker on the volume remembers it), so removing the lock files, as the guide says, fixes it.
const STALE_LOCK_PID = 7
const LOCK_TIMEOUT_MS = 5_000

function stateDirOf(): string {
  return process.env.OPENCLAW_STATE_DIR ?? path.join(process.env.HOME ?? '/root', '.openclaw')
}

function lockFiles(stateDir: string): string[] {
  try {
    return fs
      .readdirSync(stateDir)
      .filter((name) => /^gateway\..+\.lock$/.test(name))
      .map((name) => path.join(stateDir, name))
  } catch {
    return []
  }
}

function seedStaleLockOnce(stateDir: string): void {
  const marker = path.join(stateDir, '.fake-gateway-stale-lock-seeded')
  if (fs.existsSync(marker)) return
  fs.mkdirSync(stateDir, { recursive: true })
  const hash = createHash('sha256').update(stateDir).digest('hex').slice(0, 8)
  fs.writeFileSync(
    path.join(stateDir, `gateway.${hash}.lock`),
    `${JSON.stringify({ pid: STALE_LOCK_PID, createdAt: new Date().toISOString() })}\n`,
  )
  fs.writeFileSync(marker, '')
}

// Releases up to 2026.7: wait up to 5 s for the lock, then give up (exit 1). A lock that goes
// away while waiting (removed over `fly ssh console`) is taken, and the gateway starts.
async function staleLock(port: number, bind: string): Promise<void> {
  await startupPreamble()
  line('gateway', 'starting...')
  const stateDir = stateDirOf()
  seedStaleLockOnce(stateDir)
  const deadline = Date.now() + LOCK_TIMEOUT_MS
  while (lockFiles(stateDir).length > 0) {
    if (Date.now() >= deadline) {
      plainError(
        `Gateway failed to start: gateway already running (pid ${STALE_LOCK_PID}); lock timeout after ${LOCK_TIMEOUT_MS}ms`,
      )
      process.stderr.write('If the gateway is supervised, stop it with: openclaw gateway stop\n')
      process.exit(1)
    }
    await sleep(100)
  }
  return ready(port, bind, false)
}

async function run(scenario: Scenario, port: number, bind: string): Promise<void> {
  switch (scenario) {
    case 'ready':
      return ready(port, bind, false)
    case 'ready-legacy':
      return ready(port, bind, true)
    case 'startup-stuck':
      // Logs ready, but its startup never finishes: /startupz stays 503 (only a check on it sees that).
      return ready(port, bind, false, true)
    case 'loopback':
      // A loopback bind prints no bind host on 2026.4+: only the missing non-loopback warning.
      return ready(port, 'loopback', false)
    case 'no-auth':
      await startupPreamble()
      plainError(`Refusing to bind gateway to ${bind} without auth.`)
      process.stderr.write(
        'Set OPENCLAW_GATEWAY_TOKEN or OPENCLAW_GATEWAY_PASSWORD, or pass --token/--password to start with auth.\n',
      )
      process.exit(78)
      return
    case 'invalid-config': {
      const configPath =
        process.env.OPENCLAW_CONFIG_PATH ?? `${process.env.OPENCLAW_STATE_DIR ?? '/root/.openclaw'}/openclaw.json`
      await startupPreamble()
      // As 2026.9.6 prints it for an unknown key (exit 78).
      plainError(`Gateway failed to start: Invalid config at ${configPath}:`)
      process.stderr.write(
        'openclaw.json:1 — gateway: Unrecognized key: "bogusKey"\nRun "openclaw doctor --fix" to repair, then retry.\n',
      )
      process.exit(78)
      return
    }
    case 'lock':
      return staleLock(port, bind)
    case 'oom':
      // V8's own heap-limit abort, as the guide describes it (SIGABRT, exit 134).
      await startupPreamble()
      line('gateway', 'starting...')
      process.stderr.write(
        [
          '',
          '<--- Last few GCs --->',
          '',
          `[${process.pid}:0x5d4c9e0]     2113 ms: Mark-Compact 60.9 (67.2) -> 60.1 (67.4) MB, pooled: 0 MB, 98.71 / 0.00 ms  (average mu = 0.193, current mu = 0.031) allocation failure; scavenge might not succeed`,
          '',
          '<--- JS stacktrace --->',
          '',
          'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
          '----- Native stack trace -----',
          '',
          ' 1: 0xe1b1f4 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]',
          ' 2: 0x11ee2a0 v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*, v8::OOMDetails const&) [node]',
          ' 3: 0x15c8d17 v8::internal::Heap::FatalProcessOutOfMemory(char const*) [node]',
          ' 4: 0x19a3b41 v8::internal::Runtime_AllocateInYoungGeneration(int, unsigned long*, v8::internal::Isolate*) [node]',
          '',
        ].join('\n'),
      )
      process.kill(process.pid, 'SIGABRT')
      return
    case 'crash':
      await startupPreamble()
      line('gateway', 'starting...')
      throw new Error('fake gateway crashed during startup')
    case 'crash-late':
      // Crashes 8 s after boot, never listening: slower than flyctl's 10 s smoke window allows
      // it to notice (one crash per window), so only the health-check wait would catch it.
      await startupPreamble()
      line('gateway', 'starting...')
      await sleep(8_000)
      throw new Error('fake gateway crashed 8 s after boot')
    case 'memory-hog': {
      // Grows resident memory until the machine's memory limit kills it (the kernel OOM path).
      await startupPreamble()
      line('gateway', 'starting...')
      const hoard: Buffer[] = []
      for (;;) {
        hoard.push(Buffer.alloc(16 * 1024 * 1024, 1))
        await sleep(20)
      }
    }
  }
}

const scenario = (process.env.FAKE_GATEWAY_SCENARIO ?? 'ready') as Scenario
if (!SCENARIOS.includes(scenario)) {
  process.stderr.write(`fake gateway: unknown scenario "${scenario}" (known: ${SCENARIOS.join(', ')})\n`)
  process.exit(2)
}
const argv = process.argv.slice(2)
const port = Number(option(argv, '--port') ?? process.env.OPENCLAW_GATEWAY_PORT ?? 18789)
const bind = option(argv, '--bind') ?? 'loopback'
await run(scenario, port, bind)
