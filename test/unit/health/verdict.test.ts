import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MachineSchema, type Machine } from '../../../src/fly/schemas.js'
import { LineDeduper, parseFlyLogLine, stripAnsi, type LogLine } from '../../../src/health/log-stream.js'
import { classify } from '../../../src/health/signals.js'
import { VerdictEngine, type Expectation, type Verdict } from '../../../src/health/verdict.js'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures', 'gateway-logs')

function rawLines(name: string): string[] {
  return readFileSync(join(fixtures, name), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
}

function load(name: string): LogLine[] {
  return rawLines(name).map((raw) => {
    const line = parseFlyLogLine(raw)
    if (!line) throw new Error(`fixture ${name} has a line Fly would not print: ${JSON.stringify(raw)}`)
    return line
  })
}

/** Move a stream in time (recordings keep their wall-clock seconds). */
function shift(lines: LogLine[], toStartMs: number): LogLine[] {
  const delta = toStartMs - lines[0]!.timestampMs
  return lines.map((l) => ({ ...l, timestampMs: l.timestampMs + delta }))
}

function onMachine(lines: LogLine[], machineId: string): LogLine[] {
  return lines.map((l) => ({ ...l, machineId }))
}

interface MachineOptions {
  state?: string
  cmd?: string[] | null
  env?: Record<string, string>
  startedAtMs?: number
  events?: Array<Record<string, unknown>>
  checks?: Array<{ name: string; status: string }>
}

function machine(id: string, o: MachineOptions = {}): Machine {
  const events =
    o.events ??
    (o.startedAtMs !== undefined
      ? [{ type: 'start', status: 'started', source: 'flyd', timestamp: o.startedAtMs }]
      : [])
  return MachineSchema.parse({
    id,
    state: o.state ?? 'started',
    region: 'iad',
    config: {
      env: o.env ?? { OPENCLAW_STATE_DIR: '/data' },
      init: o.cmd === null ? {} : { cmd: o.cmd ?? gatewayCmd(3000, 'lan') },
      metadata: { fly_process_group: 'app', fly_release_version: '7' },
    },
    events,
    checks: o.checks ?? [],
  })
}

function gatewayCmd(port: number, bind: string): string[] {
  return ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', String(port), '--bind', bind]
}

function engineFor(lines: LogLine[], e: Partial<Expectation> & { machineIds: string[] }): VerdictEngine {
  const first = lines[0]?.timestampMs ?? Date.parse('2026-11-22T00:00:00Z')
  return new VerdictEngine({ port: 3000, channels: [], deadlineMs: first + 300_000, notBeforeMs: first - 5_000, ...e })
}

/** Feed line by line, asking for a verdict after each (at the line's own time), as the gate does. */
function replay(engine: VerdictEngine, lines: LogLine[]): { verdict?: Verdict; at: number } {
  for (let i = 0; i < lines.length; i++) {
    engine.feed(lines[i]!)
    const verdict = engine.verdict(lines[i]!.timestampMs)
    if (verdict) return { verdict, at: i }
  }
  return { at: -1 }
}

function unhealthy(v: Verdict | undefined) {
  if (!v || v.health !== 'unhealthy') throw new Error(`expected an unhealthy verdict, got ${JSON.stringify(v)}`)
  return v
}

const T0 = Date.parse('2026-11-22T03:00:00Z')

describe('Fly log lines', () => {
  it('parses the text format with flyctl and gateway colour codes stripped', () => {
    const [line] = load('platform/kernel-oom-kill.log')
    expect(line).toMatchObject({ provider: 'app', machineId: '1781e5d2c3a947', region: 'iad', level: 'info' })
    expect(line!.message).toBe('[gateway] ready')
    expect(line!.timestampMs).toBe(Date.parse('2026-11-22T04:00:01Z'))
    expect(line!.text).not.toContain('\u001b')
  })

  it('keeps the leading space of Fly init messages and parses other providers', () => {
    const init = parseFlyLogLine('2026-11-22T04:02:13Z app[1781e5d2c3a947] iad [info] INFO Starting clean up.')
    expect(init?.message).toBe(' INFO Starting clean up.')
    const runner = parseFlyLogLine('2026-11-22T04:02:13Z runner[1781e5d2c3a947] iad [info]Pulling container image')
    expect(runner).toMatchObject({ provider: 'runner', machineId: '1781e5d2c3a947' })
    const proxy = parseFlyLogLine(
      '2026-11-22T04:02:13Z proxy[1781e5d2c3a947] iad [error]instance refused connection. is your app listening on 0.0.0.0:3000?',
    )
    expect(proxy).toMatchObject({ provider: 'proxy', level: 'error' })
  })

  it('refuses lines that are not log entries', () => {
    expect(parseFlyLogLine('Waiting for logs...')).toBeUndefined()
    expect(parseFlyLogLine('')).toBeUndefined()
    expect(parseFlyLogLine('not-a-time app[abc] iad [info]x')).toBeUndefined()
  })

  it('strips CSI and OSC sequences only', () => {
    expect(stripAnsi('\u001b[90mA\u001b[39m \u001b]8;;http://x\u0007link\u001b]8;;\u0007 [b]')).toBe('A link [b]')
  })

  it('recognises a line replayed by a resumed stream', () => {
    const dedupe = new LineDeduper(2)
    expect(dedupe.accept('a')).toBe(true)
    expect(dedupe.accept('a')).toBe(false)
    expect(dedupe.accept('b')).toBe(true)
    expect(dedupe.accept('c')).toBe(true)
    // capacity 2: 'a' was forgotten
    expect(dedupe.accept('a')).toBe(true)
  })
})

describe('verdict over recorded 2026.9.6 streams', () => {
  const id = '148ed193b95389'

  it('is healthy at the ready line of a lan bind on the configured port, not before', () => {
    for (const file of ['2026.9.6/ready-lan.log', '2026.9.6/ready-lan-no-color.log']) {
      const lines = load(file)
      const engine = engineFor(lines, { machineIds: [id], port: 41001 })
      engine.observeMachines([machine(id, { cmd: gatewayCmd(41001, 'lan') })], lines[0]!.timestampMs)
      const { verdict, at } = replay(engine, lines)
      expect(verdict?.health).toBe('healthy')
      expect(stripAnsi(lines[at]!.message)).toMatch(/\[gateway\] ready$/)
      expect(verdict?.health === 'healthy' && verdict.evidence[0]).toMatch(/non-loopback .*--port/)
    }
  })

  it('fails at once when the command runs the gateway on another port than internal_port', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const engine = engineFor(lines, { machineIds: [id], port: 3000 })
    engine.observeMachines([machine(id, { cmd: gatewayCmd(41001, 'lan') })], lines[0]!.timestampMs)
    const v = unhealthy(engine.verdict(lines[0]!.timestampMs))
    expect(v.cause).toBe('wrong-port')
    expect(v.detail).toContain('--port 41001')
    expect(v.fix).toContain('--port 3000')
  })

  it('takes the port from OPENCLAW_GATEWAY_PORT when the command has no --port', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const cmd = ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--bind', 'lan']
    const good = engineFor(lines, { machineIds: [id], port: 41001 })
    good.observeMachines([machine(id, { cmd, env: { OPENCLAW_GATEWAY_PORT: '41001' } })], lines[0]!.timestampMs)
    expect(replay(good, lines).verdict?.health).toBe('healthy')
    const bad = engineFor(lines, { machineIds: [id], port: 41001 })
    bad.observeMachines([machine(id, { cmd, env: { OPENCLAW_GATEWAY_PORT: '3000' } })], lines[0]!.timestampMs)
    expect(unhealthy(replay(bad, lines).verdict).cause).toBe('wrong-port')
  })

  it('uses the port of the seeded allowed origins when the machine config names none', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const ok = engineFor(lines, { machineIds: [id], port: 41001 })
    ok.observeMachines([machine(id, { cmd: null })], lines[0]!.timestampMs)
    const healthy = replay(ok, lines).verdict
    expect(healthy?.health === 'healthy' && healthy.evidence[0]).toContain('allowed origins')
    const other = engineFor(lines, { machineIds: [id], port: 3000 })
    other.observeMachines([machine(id, { cmd: null })], lines[0]!.timestampMs)
    const { verdict, at } = replay(other, lines)
    expect(unhealthy(verdict).cause).toBe('wrong-port')
    expect(lines[at]!.message).toContain('seeded gateway.controlUi.allowedOrigins')
  })

  it('waits for a passing check on the port when nothing else names it', () => {
    const lines = load('2026.9.6/ready-lan.log').filter((l) => !l.message.includes('allowedOrigins'))
    const engine = engineFor(lines, { machineIds: [id], port: 41001 })
    engine.observeMachines([machine(id, { cmd: null })], lines[0]!.timestampMs)
    const { verdict } = replay(engine, lines)
    expect(verdict).toBeUndefined()
    const now = lines.at(-1)!.timestampMs
    engine.observeMachines(
      [machine(id, { cmd: null, checks: [{ name: 'servicecheck-00-tcp-41001', status: 'passing' }] })],
      now,
    )
    expect(engine.verdict(now)?.health).toBe('healthy')
  })

  it('calls a ready gateway without the non-loopback warning a loopback bind', () => {
    const mid = '3d8d9e1f2a4b57'
    const lines = load('2026.9.6/loopback.log')
    // The command says loopback: decided at the ready line.
    const explicit = engineFor(lines, { machineIds: [mid], port: 41002 })
    explicit.observeMachines([machine(mid, { cmd: gatewayCmd(41002, 'loopback') })], lines[0]!.timestampMs)
    const first = replay(explicit, lines)
    expect(unhealthy(first.verdict).cause).toBe('loopback-bind')
    expect(lines[first.at]!.message).toMatch(/\[gateway\] ready/)
    expect(unhealthy(first.verdict).fix).toContain('--bind lan')

    // The command does not say: decided when the warning has had its grace period.
    const implicit = engineFor(lines, { machineIds: [mid], port: 41002, bindWarningGraceMs: 3_000 })
    implicit.observeMachines(
      [machine(mid, { cmd: null, env: { OPENCLAW_GATEWAY_PORT: '41002' } })],
      lines[0]!.timestampMs,
    )
    const ready = lines.findIndex((l) => /\[gateway\] ready/.test(l.message))
    for (const line of lines.slice(0, ready + 1)) implicit.feed(line)
    const readyAt = lines[ready]!.timestampMs
    expect(implicit.verdict(readyAt + 2_999)).toBeUndefined()
    expect(unhealthy(implicit.verdict(readyAt + 3_000)).cause).toBe('loopback-bind')
  })

  const failures: Array<[string, string, string, RegExp]> = [
    ['2026.9.6/lan-no-token.log', '5683d4e1c07948', 'auth-required', /OPENCLAW_GATEWAY_TOKEN/],
    ['2026.9.6/invalid-config.log', '6e82d4e3b1c918', 'invalid-config', /openclaw doctor --fix/],
    ['2026.9.6/missing-config.log', '9080e4d1a2b736', 'invalid-config', /--allow-unconfigured/],
    ['2026.9.6/lock-contended.log', '4d89c1e2f3a506', 'gateway-lock', /rm -f \/data\/gateway\.\*\.lock/],
    ['2026.9.6/oom-heap-limit.log', '1781e5d2c3a947', 'out-of-memory', /2048mb/],
  ]
  for (const [file, mid, cause, fix] of failures) {
    it(`reports ${cause} from ${file} at the first line that shows it`, () => {
      const lines = load(file)
      const engine = engineFor(lines, { machineIds: [mid], port: 41001 })
      engine.observeMachines([machine(mid, { cmd: gatewayCmd(41001, 'lan') })], lines[0]!.timestampMs)
      const { verdict, at } = replay(engine, lines)
      const v = unhealthy(verdict)
      expect(v.cause).toBe(cause)
      expect(v.fix).toMatch(fix)
      expect(v.machineId).toBe(mid)
      // The line that decided is the last one kept, and nothing before it decided.
      expect(v.lastLines.at(-1)).toBe(lines[at]!.text)
      expect(v.detail).toContain(lines[at]!.message.trim().slice(0, 40))
    })
  }

  it('waits for a health channel and is healthy at its start line', () => {
    const mid = '8d4b0f3e2c5a97'
    const lines = load('2026.9.6/channel-telegram.log')
    const engine = engineFor(lines, { machineIds: [mid], port: 41012, channels: ['Telegram'] })
    engine.observeMachines([machine(mid, { cmd: gatewayCmd(41012, 'lan') })], lines[0]!.timestampMs)
    const { verdict, at } = replay(engine, lines)
    expect(verdict?.health).toBe('healthy')
    expect(lines[at]!.message).toContain('[telegram] [default] starting provider')
  })

  it('fails a health channel the gateway suppressed', () => {
    const mid = '7c3a9e2d1b4f86'
    const lines = load('2026.9.6/channel-discord-suppressed.log')
    const engine = engineFor(lines, { machineIds: [mid], port: 41011, channels: ['discord'] })
    engine.observeMachines([machine(mid, { cmd: gatewayCmd(41011, 'lan') })], lines[0]!.timestampMs)
    const { verdict, at } = replay(engine, lines)
    const v = unhealthy(verdict)
    expect(v.cause).toBe('channel-not-started')
    expect(lines[at]!.message).toContain('suppressed ambient channel')
    expect(v.fix).toContain('channels.<name>')
  })

  it('is healthy after a stale lock whose owner is dead (2026.9 recovers it)', () => {
    const mid = '2b5e8f1c4d7a90'
    const lines = load('2026.9.6/ready-after-stale-lock.log')
    const engine = engineFor(lines, { machineIds: [mid], port: 41009 })
    engine.observeMachines([machine(mid, { cmd: gatewayCmd(41009, 'lan') })], lines[0]!.timestampMs)
    expect(replay(engine, lines).verdict?.health).toBe('healthy')
  })

  it('times out naming what is missing', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const cut = lines.findIndex((l) => /\[gateway\] ready/.test(l.message))
    const engine = engineFor(lines, { machineIds: [id], port: 41001, deadlineMs: lines[0]!.timestampMs + 60_000 })
    engine.observeMachines([machine(id, { cmd: gatewayCmd(41001, 'lan') })], lines[0]!.timestampMs)
    expect(replay(engine, lines.slice(0, cut)).verdict).toBeUndefined()
    expect(engine.verdict(lines[0]!.timestampMs + 59_999)).toBeUndefined()
    const v = unhealthy(engine.verdict(lines[0]!.timestampMs + 60_000))
    expect(v.cause).toBe('timeout')
    expect(v.detail).toContain('no `[gateway] ready` line yet')
    expect(v.lastLines.length).toBeGreaterThan(0)
  })

  it('times out on a channel that never logs, once the gateway is ready', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const engine = engineFor(lines, {
      machineIds: [id],
      port: 41001,
      channels: ['slack'],
      deadlineMs: lines[0]!.timestampMs + 60_000,
    })
    engine.observeMachines([machine(id, { cmd: gatewayCmd(41001, 'lan') })], lines[0]!.timestampMs)
    expect(replay(engine, lines).verdict).toBeUndefined()
    const v = unhealthy(engine.verdict(lines[0]!.timestampMs + 60_000))
    expect(v.cause).toBe('channel-not-started')
    expect(v.detail).toContain('slack')
  })
})

describe('verdict over legacy (up to 2026.3) streams', () => {
  const id = 'e286de4f711e86'
  const run = (file: string, e: Partial<Expectation> = {}) => {
    const lines = load(file)
    const engine = engineFor(lines, { machineIds: [id], ...e })
    engine.observeMachines([machine(id)], lines[0]!.timestampMs)
    return { lines, ...replay(engine, lines) }
  }

  it('is healthy on the listening line with a non-loopback host and the configured port', () => {
    const single = run('legacy/ready-2026.1.log', { channels: ['discord'] })
    expect(single.verdict?.health).toBe('healthy')
    expect(single.lines[single.at]!.message).toContain('logged in to discord')
    const multi = run('legacy/ready-multi-address-2026.3.log', { channels: ['telegram'], gatewayGeneration: 'legacy' })
    expect(multi.verdict?.health === 'healthy' && multi.verdict.evidence[0]).toContain('0.0.0.0:3000, :::3000')
  })

  it('fails loopback-only and other-port listening lines', () => {
    expect(unhealthy(run('legacy/loopback-2026.1.log').verdict).cause).toBe('loopback-bind')
    expect(unhealthy(run('legacy/loopback-multi-address-2026.3.log').verdict).cause).toBe('loopback-bind')
    const wrong = unhealthy(run('legacy/wrong-port-2026.1.log').verdict)
    expect(wrong.cause).toBe('wrong-port')
    expect(wrong.detail).toContain('0.0.0.0:18789')
  })

  it('fails on the lock and on the OOM trace', () => {
    expect(unhealthy(run('legacy/lock-2026.1.log').verdict).cause).toBe('gateway-lock')
    const oom = run('legacy/oom-young-generation-2026.1.log')
    // The listening line made it healthy first; the OOM comes after, so replay every line.
    expect(oom.verdict?.health).toBe('healthy')
    const lines = load('legacy/oom-young-generation-2026.1.log')
    const engine = engineFor(lines, { machineIds: [id] })
    engine.observeMachines([machine(id)], lines[0]!.timestampMs)
    for (const line of lines) engine.feed(line)
    expect(unhealthy(engine.verdict(lines.at(-1)!.timestampMs)).cause).toBe('out-of-memory')
  })

  it('recognises each OOM sign of the guide on its own', () => {
    for (const message of [
      ' 5: 0xd3f7c5 v8::internal::Runtime_AllocateInYoungGeneration(int, unsigned long*, v8::internal::Isolate*) [node]',
      " INFO Main child exited with signal (with signal 'SIGABRT', core dumped? false)",
      'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
      '[  134.910082] Out of memory: Killed process 322 (node)',
      ' INFO Process appears to have been OOM killed!',
    ]) {
      expect(classify(message)).toContainEqual({ kind: 'fatal', cause: 'out-of-memory' })
    }
  })
})

describe('verdict over machine state and platform lines', () => {
  const id = '1781e5d2c3a947'

  it('reports the kernel OOM kill, through flyctl colour codes', () => {
    const lines = load('platform/kernel-oom-kill.log')
    const engine = engineFor(lines, { machineIds: [id] })
    engine.observeMachines([machine(id)], lines[0]!.timestampMs)
    for (const line of lines) engine.feed(line)
    const v = unhealthy(engine.verdict(lines.at(-1)!.timestampMs))
    expect(v.cause).toBe('out-of-memory')
    expect(v.detail).toContain('Out of memory: Killed process 322 (node)')
  })

  it('does not take a requested stop for a crash', () => {
    const lines = load('platform/requested-stop.log')
    const engine = engineFor(lines, { machineIds: [id] })
    engine.observeMachines([machine(id)], lines[0]!.timestampMs)
    for (const line of lines) engine.feed(line)
    expect(engine.verdict(lines.at(-1)!.timestampMs + 60_000)).toBeUndefined()
  })

  it('reports an exit read from the log 0.5 s after its line: the lines that explain it came before it in the same stream', () => {
    // A gateway crashing after boot is judged within 3 s of its last line (npm run bench);
    // exit events from `machines list`, which can run ahead of the stream, keep the full grace (below).
    const lines = load('platform/restarts-exhausted.log')
    const engine = engineFor(lines, { machineIds: [id], exitGraceMs: 4_000 })
    engine.observeMachines([machine(id)], lines[0]!.timestampMs)
    for (const line of lines) engine.feed(line)
    expect(engine.verdict(lines[0]!.timestampMs + 499)).toBeUndefined()
    const v = unhealthy(engine.verdict(lines[0]!.timestampMs + 500))
    expect(v.cause).toBe('machine-exited')
    expect(v.detail).toContain('exit code 1')
  })

  it('reads exit events: OOM at once, exit 78 after the grace with its meaning, requested stops never', () => {
    const exit = (request: Record<string, unknown>, timestamp = T0 + 1_000) => ({
      type: 'exit',
      status: 'stopped',
      source: 'flyd',
      timestamp,
      request,
    })
    const start = { type: 'start', status: 'started', source: 'flyd', timestamp: T0 }
    const base = { machineIds: [id], notBeforeMs: T0 - 10_000, deadlineMs: T0 + 300_000, port: 3000, channels: [] }

    const oom = new VerdictEngine(base)
    oom.observeMachines(
      [machine(id, { events: [exit({ exit_event: { exit_code: 137, oom_killed: true } }), start] })],
      T0 + 2_000,
    )
    expect(unhealthy(oom.verdict(T0 + 2_000)).cause).toBe('out-of-memory')

    const config = new VerdictEngine(base)
    config.observeMachines(
      [machine(id, { events: [exit({ MonitorEvent: { exit_event: { exit_code: 78 } } }), start] })],
      T0 + 2_000,
    )
    expect(config.verdict(T0 + 2_000)).toBeUndefined()
    const v = unhealthy(config.verdict(T0 + 6_000))
    expect(v.cause).toBe('machine-exited')
    expect(v.detail).toContain('exit 78 is the gateway refusing its configuration')

    const requested = new VerdictEngine(base)
    requested.observeMachines(
      [machine(id, { events: [exit({ exit_event: { exit_code: 0, requested_stop: true } }), start] })],
      T0 + 2_000,
    )
    expect(requested.verdict(T0 + 60_000)).toBeUndefined()
  })

  it('reports a stopped or vanished machine after the grace period', () => {
    const base = { machineIds: [id], notBeforeMs: T0, deadlineMs: T0 + 300_000, port: 3000, channels: [] }
    const stopped = new VerdictEngine(base)
    stopped.observeMachines([machine(id, { state: 'stopped', startedAtMs: T0 + 500 })], T0)
    expect(stopped.verdict(T0 + 1_000)).toBeUndefined()
    expect(unhealthy(stopped.verdict(T0 + 4_000)).cause).toBe('machine-stopped')

    // Stopped when the deploy began and not started since: flyctl leaves such a machine stopped
    // (deploy/machines_launchinput.go shouldSkipLaunch) and the deploy stage starts it, so it is
    // not judged stopped; it is judged at the timeout if nobody starts it.
    const skipped = new VerdictEngine(base)
    skipped.observeMachines([machine(id, { state: 'stopped' })], T0)
    expect(skipped.verdict(T0 + 60_000)).toBeUndefined()
    expect(unhealthy(skipped.verdict(T0 + 300_000)).cause).toBe('timeout')

    const gone = new VerdictEngine(base)
    gone.observeMachines([machine(id)], T0)
    gone.observeMachines([], T0 + 1_000)
    expect(unhealthy(gone.verdict(T0 + 5_000)).detail).toContain('destroyed')
  })

  it("ignores the previous release's lines on the same machine and judges the new run", () => {
    const mid = '148ed193b95389'
    const previous = onMachine(shift(load('2026.9.6/ready-lan.log'), T0), mid)
    const failing = onMachine(shift(load('2026.9.6/lan-no-token.log'), T0 + 120_000), mid)
    const engine = new VerdictEngine({
      machineIds: [mid],
      port: 41001,
      channels: [],
      notBeforeMs: T0 + 100_000,
      deadlineMs: T0 + 400_000,
    })
    engine.observeMachines([machine(mid, { cmd: gatewayCmd(41001, 'lan'), startedAtMs: T0 + 119_500 })], T0 + 110_000)
    // A resumed stream replays the buffer: the old ready must not count.
    for (const line of previous) engine.feed(line)
    expect(engine.verdict(T0 + 115_000)).toBeUndefined()
    const { verdict } = replay(engine, failing)
    expect(unhealthy(verdict).cause).toBe('auth-required')
  })

  it("judges a rollback's run, not the failed release still crash-looping on the machine until the rollback replaces its config", () => {
    // Rollback gate: notBeforeMs is when the rollback deploy began. Until that deploy stops the
    // machine and restarts it with the old image, flyd keeps restarting the failed release's
    // gateway (restart policy), so a `start` of the failed release and its OOM lines fall after
    // notBeforeMs. The window must open at the start that follows the deploy's own (user) restart.
    const mid = '3a5393e9ff8354'
    const at = (ms: number) => new Date(T0 + ms).toISOString().replace(/\.\d+Z$/, 'Z')
    const app = (ms: number, message: string) => parseFlyLogLine(`${at(ms)} app[${mid}] iad [info]${message}`)!
    const runner = (ms: number, message: string) => parseFlyLogLine(`${at(ms)} runner[${mid}] iad [info]${message}`)!
    const crashLoop = [
      runner(
        1_100,
        'INFO Preparing to run: `node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan` as root',
      ),
      app(1_300, 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'),
      runner(1_400, "INFO Main child exited with signal (with signal 'SIGABRT', core dumped? false)"),
      runner(
        4_100,
        'INFO Preparing to run: `node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan` as root',
      ),
      app(4_300, 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'),
    ]
    const rolledBack = [
      runner(
        5_650,
        'INFO Preparing to run: `node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan` as root',
      ),
      app(
        6_000,
        '2026-11-22T03:00:06.000+00:00 [gateway] ⚠️  Gateway is binding to a non-loopback address. Ensure authentication is configured before exposing to public networks.',
      ),
      app(6_100, '2026-11-22T03:00:06.100+00:00 [gateway] ready'),
    ]
    const events = [
      { type: 'start', status: 'started', source: 'flyd', timestamp: T0 + 1_050 },
      {
        type: 'exit',
        status: 'stopped',
        source: 'flyd',
        timestamp: T0 + 1_450,
        request: { exit_event: { exit_code: 134, oom_killed: false } },
      },
      { type: 'restart', status: 'starting', source: 'flyd', timestamp: T0 + 1_460 },
      { type: 'start', status: 'started', source: 'flyd', timestamp: T0 + 4_050 },
      // The failed release's last crash: an OOM kill Fly records a moment before the rollback's start, in the same second.
      {
        type: 'exit',
        status: 'stopped',
        source: 'flyd',
        timestamp: T0 + 5_200,
        request: { exit_event: { exit_code: 137, oom_killed: true } },
      },
      { type: 'stop', status: 'stopping', source: 'user', timestamp: T0 + 5_300 },
      { type: 'restart', status: 'starting', source: 'user', timestamp: T0 + 5_400 },
      { type: 'start', status: 'started', source: 'flyd', timestamp: T0 + 5_600 },
    ]
    const engine = new VerdictEngine({
      machineIds: [mid],
      port: 3000,
      channels: [],
      notBeforeMs: T0 + 1_000,
      deadlineMs: T0 + 300_000,
    })
    engine.observeMachines([machine(mid, { events })], T0 + 5_700)
    for (const line of crashLoop) engine.feed(line)
    expect(engine.verdict(T0 + 5_700)).toBeUndefined()
    const { verdict } = replay(engine, rolledBack)
    expect(verdict?.health).toBe('healthy')

    // The same record with flyd's restarts only (no deploy reached the machine): the crash loop is this release's.
    const unchanged = new VerdictEngine({
      machineIds: [mid],
      port: 3000,
      channels: [],
      notBeforeMs: T0 + 1_000,
      deadlineMs: T0 + 300_000,
    })
    unchanged.observeMachines([machine(mid, { events: events.filter((e) => e.source === 'flyd') })], T0 + 5_700)
    for (const line of crashLoop) unchanged.feed(line)
    expect(unhealthy(unchanged.verdict(T0 + 5_700)).cause).toBe('out-of-memory')
  })

  it("does not take the crashed run's last lines for the rollback's when both fall in the second of the rollback's start", () => {
    // The failed release OOMs at 5.1 s, Fly records the exit at 5.2 s, the rollback restarts the
    // machine at 5.4 s and its run starts at 5.6 s: the OOM line reads second 5, as the start does.
    const mid = '3a5393e9ff8354'
    const at = (ms: number) => new Date(T0 + ms).toISOString().replace(/\.\d+Z$/, 'Z')
    const app = (ms: number, message: string) => parseFlyLogLine(`${at(ms)} app[${mid}] iad [info]${message}`)!
    const oom = app(5_100, 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory')
    const ready = [
      app(
        6_000,
        '2026-11-22T03:00:06.000+00:00 [gateway] ⚠️  Gateway is binding to a non-loopback address. Ensure authentication is configured before exposing to public networks.',
      ),
      app(6_100, '2026-11-22T03:00:06.100+00:00 [gateway] ready'),
    ]
    const crashed = {
      type: 'exit',
      status: 'stopped',
      source: 'flyd',
      timestamp: T0 + 5_200,
      request: { exit_event: { exit_code: 134, oom_killed: false } },
    }
    const rollback = [
      { type: 'start', status: 'started', source: 'flyd', timestamp: T0 + 4_050 },
      { type: 'restart', status: 'starting', source: 'user', timestamp: T0 + 5_400 },
      { type: 'start', status: 'started', source: 'flyd', timestamp: T0 + 5_600 },
    ]
    const gate = (events: Array<Record<string, unknown>>) => {
      const engine = new VerdictEngine({
        machineIds: [mid],
        port: 3000,
        channels: [],
        notBeforeMs: T0 + 1_000,
        deadlineMs: T0 + 300_000,
      })
      engine.observeMachines([machine(mid, { events })], T0 + 5_700)
      engine.feed(oom)
      return engine
    }
    const engine = gate([...rollback.slice(0, 1), crashed, ...rollback.slice(1)])
    expect(engine.verdict(T0 + 5_700)).toBeUndefined()
    expect(replay(engine, ready).verdict?.health).toBe('healthy')

    // No earlier run ended in that second: the line can only be this run's, and it decides.
    expect(unhealthy(gate(rollback).verdict(T0 + 5_700)).cause).toBe('out-of-memory')
  })

  it('needs every machine ready and ignores lines of other machines', () => {
    const a = '148ed193b95389'
    const b = '2b5e8f1c4d7a90'
    const lines = shift(load('2026.9.6/ready-lan.log'), T0)
    const engine = new VerdictEngine({
      machineIds: [a, b],
      port: 41001,
      channels: [],
      notBeforeMs: T0 - 5_000,
      deadlineMs: T0 + 300_000,
    })
    engine.observeMachines(
      [machine(a, { cmd: gatewayCmd(41001, 'lan') }), machine(b, { cmd: gatewayCmd(41001, 'lan') })],
      T0,
    )
    expect(replay(engine, lines).verdict).toBeUndefined()
    expect(replay(engine, onMachine(lines, 'ffffffffffffff')).verdict).toBeUndefined()
    const { verdict } = replay(engine, onMachine(lines, b))
    expect(verdict?.health === 'healthy' && verdict.evidence).toHaveLength(2)
  })

  it("fails a ready gateway that Fly's proxy cannot reach", () => {
    const mid = '148ed193b95389'
    const lines = shift(load('2026.9.6/ready-lan.log'), T0)
    const engine = new VerdictEngine({
      machineIds: [mid, 'aaaaaaaaaaaaaa'],
      port: 41001,
      channels: [],
      notBeforeMs: T0 - 5_000,
      deadlineMs: T0 + 300_000,
    })
    engine.observeMachines([machine(mid, { cmd: gatewayCmd(41001, 'lan') }), machine('aaaaaaaaaaaaaa')], T0)
    for (const line of lines) engine.feed(line)
    const refused = parseFlyLogLine(
      `${new Date(lines.at(-1)!.timestampMs).toISOString().replace('.000', '')} proxy[${mid}] iad [error]instance refused connection. is your app listening on 0.0.0.0:41001? make sure it is not only listening on 127.0.0.1`,
    )!
    engine.feed(refused)
    expect(unhealthy(engine.verdict(refused.timestampMs)).cause).toBe('unreachable')
  })

  it('fails when no machine runs the release', () => {
    expect(
      unhealthy(new VerdictEngine({ machineIds: [], port: 3000, channels: [], deadlineMs: T0 }).verdict(T0)).cause,
    ).toBe('no-machines')
  })

  it('decides the same with and without colour for every fixture', () => {
    const files = [
      '2026.9.6/ready-lan.log',
      '2026.9.6/loopback.log',
      '2026.9.6/lock-contended.log',
      '2026.9.6/invalid-config.log',
      'legacy/ready-2026.1.log',
      'platform/kernel-oom-kill.log',
    ]
    for (const file of files) {
      const colored = load(file)
      const plain = rawLines(file).map((raw) => parseFlyLogLine(stripAnsi(raw))!)
      const judge = (lines: LogLine[]) => {
        const engine = engineFor(lines, { machineIds: [lines[0]!.machineId], port: 41001 })
        engine.observeMachines(
          [machine(lines[0]!.machineId, { cmd: null, env: { OPENCLAW_GATEWAY_PORT: '41001' } })],
          lines[0]!.timestampMs,
        )
        for (const line of lines) engine.feed(line)
        const v = engine.verdict(lines.at(-1)!.timestampMs + 10_000)
        return v && (v.health === 'healthy' ? 'healthy' : v.cause)
      }
      expect(judge(plain), file).toBe(judge(colored))
      expect(judge(colored), file).toBeDefined()
    }
  })
})

describe('the out-of-memory fix is computed from the machine', () => {
  it('at 2048 MB proposes the next size up with a matching heap, never 2048mb again', async () => {
    const { outOfMemoryFix } = await import('../../../src/health/verdict.js')
    const fix = outOfMemoryFix('m1', { memoryMb: 2048, cpuKind: 'shared', heapMb: 1536 })
    expect(fix).toContain('memory: 4096mb')
    expect(fix).toContain('--max-old-space-size=3072')
    expect(fix).toContain('vm-size: shared-cpu-2x')
    expect(fix).not.toContain('2048mb')
    expect(outOfMemoryFix('m1', { memoryMb: 512 })).toContain('memory: 2048mb')
    expect(outOfMemoryFix('m1', { memoryMb: 8192, cpuKind: 'shared' })).toContain('vm-size: shared-cpu-8x')
  })
})

describe("Fly's check results", () => {
  const id = '148ed193b95389'
  // [[http_service.checks]] as flyctl puts it in the machine config (a service's checks).
  const withCheck = (checks: Array<Record<string, unknown>>, startedAtMs: number) => {
    const m = machine(id, { cmd: gatewayCmd(41001, 'lan'), startedAtMs })
    return MachineSchema.parse({
      ...m,
      config: {
        ...m.config,
        services: [
          { internal_port: 41001, checks: [{ type: 'http', method: 'GET', path: '/startupz', grace_period: '2m0s' }] },
        ],
      },
      checks,
    })
  }
  const name = 'servicecheck-00-http-41001'

  it('a ready gateway is healthy only once its check passes, and the evidence names the check', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const start = lines[0]!.timestampMs
    const engine = engineFor(lines, { machineIds: [id], port: 41001 })
    engine.observeMachines([withCheck([], start)], start)
    expect(replay(engine, lines).verdict).toBeUndefined()
    const end = lines.at(-1)!.timestampMs
    engine.observeMachines(
      [
        withCheck(
          [{ name, status: 'passing', output: 'HTTP GET ...: 200 OK', updated_at: new Date(end).toISOString() }],
          start,
        ),
      ],
      end,
    )
    const verdict = engine.verdict(end)
    expect(verdict?.health).toBe('healthy')
    expect(verdict?.health === 'healthy' && verdict.evidence[0]).toMatch(
      /Fly's check servicecheck-00-http-41001 \(GET \/startupz\) passing/,
    )
  })

  it('a check still critical past its grace period is unhealthy with its output; within the grace it is only waited on', () => {
    const lines = load('2026.9.6/ready-lan.log')
    const start = lines[0]!.timestampMs
    const output =
      'HTTP GET http://172.19.0.2:41001/startupz: 503 Service Unavailable Output: {"ok":false,"status":"starting"}'
    const engine = engineFor(lines, { machineIds: [id], port: 41001 })
    const critical = (atMs: number) =>
      withCheck([{ name, status: 'critical', output, updated_at: new Date(atMs).toISOString() }], start)
    engine.observeMachines([critical(start + 30_000)], start + 30_000)
    replay(engine, lines)
    expect(engine.verdict(start + 60_000)).toBeUndefined()
    engine.observeMachines([critical(start + 121_000)], start + 121_000)
    const v = unhealthy(engine.verdict(start + 121_000))
    expect(v.cause).toBe('check-failing')
    expect(v.detail).toContain(`Fly's check ${name} (GET /startupz) still fails 2 min after the machine started`)
    expect(v.detail).toContain('{"ok":false,"status":"starting"}')
  })

  it("a result from before the machine's latest start is not this run's", () => {
    const lines = load('2026.9.6/ready-lan.log')
    const start = lines[0]!.timestampMs
    const engine = engineFor(lines, { machineIds: [id], port: 41001 })
    engine.observeMachines(
      [
        withCheck(
          [{ name, status: 'passing', output: 'ok', updated_at: new Date(start - 60_000).toISOString() }],
          start,
        ),
      ],
      start,
    )
    expect(replay(engine, lines).verdict).toBeUndefined()
  })
})
