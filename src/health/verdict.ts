/**
 * The health verdict (docs/CONTRACT.md, "Verdicts") as a pure function of what has been seen:
 * the release machines' log lines and their `machines list --json` records. No clock, no I/O:
 * every call says what time it is, so recorded streams replay exactly.
 *
 * Evidence, per machine, counted only inside the machine's window (below):
 * - ready, legacy (up to 2026.3): `[gateway] listening on ws://HOST:PORT[, ...]`. Ready when some
 *   address is not loopback and every port is the configured one; an all-loopback list or another
 *   port is fatal.
 * - ready, 2026.4 and later: `[gateway] ready` names neither host nor port, so readiness needs
 *   three things in the same run of the machine:
 *     1. the `[gateway] ready` line;
 *     2. the warning `Gateway is binding to a non-loopback address`, which the gateway prints only
 *        for a non-loopback bind (before `ready` in 2026.9.6). A `ready` with no warning is a
 *        loopback bind: fatal at once when the machine's command says `--bind loopback`, otherwise
 *        once `bindWarningGraceMs` has passed after `ready` without the warning;
 *     3. the port, from the machine's own config in the gateway's order of precedence: `--port` in
 *        `config.init.cmd` (flyctl puts the `[processes]` command there: internal/appconfig/
 *        machines.go), else `OPENCLAW_GATEWAY_PORT` in `config.env`; else the port 2026.9 prints
 *        when it seeds `gateway.controlUi.allowedOrigins`; else a passing Fly check on the
 *        configured port (`servicecheck-NN-<type>-<port>` or a `[checks]` entry with that port).
 *        A known port that differs from the configured one is fatal at once.
 * - the machine is `started` in the latest `machines list`.
 * - every `health-channels` entry logged its start or login on some release machine.
 *
 * A machine's window starts at its first `start` event after the machine took the gated release's
 * config, i.e. after its first user-issued lifecycle event at or after `notBeforeMs` (the deploy's
 * start): `launch` or `update` (the machine created or its config replaced; fly-go MachineEvent
 * types), or a `start`/`restart` whose source is `user` (the API caller: a deploy that stops and
 * starts the machine, `fly machine restart`). Events that flyd issues itself (source `flyd`: the
 * restart policy bringing a crashed process back) never open a window: after a failed release, its
 * machine keeps crash-looping on the OLD config between `notBeforeMs` (the rollback's start) and
 * the moment the rollback deploy replaces that config, and the OOM lines of such a crash-loop run
 * belong to the failed release, not to the release being gated. With no such event in the record
 * the window starts at the first `start` at or after `notBeforeMs`, or at `notBeforeMs` when the
 * record has no events. A rolling deploy replaces the gateway on the same machine id, and `fly
 * logs` replays its buffer, so the previous release's `ready` (and its requested shutdown) would
 * otherwise count. Readiness must come from the latest run (after the latest `start`); fatal signs
 * count from the whole window, so a crash that Fly's restart policy already papered over is still
 * caught. Log lines carry whole seconds, so lines count from the window start's second; machine
 * events carry milliseconds, so exit events count from the window start itself when it is an event.
 *
 * Fatal signs decide at once. An exit or stop with no log line that explains it waits
 * `exitGraceMs` for the explanation (log lines can trail the machine's state), then decides as
 * `machine-exited` / `machine-stopped`.
 */
import type { Machine } from '../fly/schemas.js'
import type { LogLine } from './log-stream.js'
import { classify, isLoopbackHost, type FatalCause, type Signal } from './signals.js'
import { sizeFor } from '../fly/machine-sizes.js'

export type Cause =
  | FatalCause
  | 'loopback-bind'
  | 'wrong-port'
  | 'unreachable'
  | 'channel-not-started'
  | 'machine-exited'
  | 'machine-stopped'
  | 'no-machines'
  | 'check-failing'
  | 'not-serving'
  | 'timeout'
  | 'health-url'

export interface Expectation {
  /** The app machines of the release being gated. */
  machineIds: string[]
  /** The configured port (`internal_port`). */
  port: number
  /** The configured bind mode; informs the message only: loopback is never healthy (docs/CONTRACT.md, "Verdicts"). */
  bind?: string
  /** `health-channels`, any case. */
  channels: string[]
  /** Release generation if known; `legacy` waits for the listening line and never infers loopback from a missing warning. */
  gatewayGeneration?: 'auto' | 'legacy' | 'modern'
  /** When the deploy began (runner clock); lines and events before it belong to earlier releases. */
  notBeforeMs?: number
  /** When the gate gives up (`health-timeout` after the gate began). */
  deadlineMs: number
  bindWarningGraceMs?: number
  exitGraceMs?: number
  /** How many recent lines per machine to keep for the message. */
  lastLineCount?: number
}

export interface HealthyVerdict {
  health: 'healthy'
  atMs: number
  /** One sentence per machine: which evidence made it ready. */
  evidence: string[]
  /** The gateway's own lines the verdict rests on: `<machine> <time> <line>` (set by the gate). */
  lines?: string[]
}

export interface UnhealthyVerdict {
  health: 'unhealthy'
  cause: Cause
  atMs: number
  machineId?: string
  /** What was seen, in words. */
  detail: string
  /** The guide's fix. */
  fix: string
  /** The failing machine's last lines, colour stripped, not yet redacted. */
  lastLines: string[]
}

export type Verdict = HealthyVerdict | UnhealthyVerdict

/** How long a crash read from the log waits for trailing lines before it is the verdict. */
const LOG_EXIT_GRACE_MS = 500

const STOPPED_STATES = new Set(['stopped', 'suspended', 'destroyed', 'destroying', 'failed', 'replaced'])
// Fly records requested stops with SIGINT (the default kill_signal) or SIGTERM.
const REQUESTED_SIGNALS = new Set(['SIGINT', 'SIGTERM', '2', '15'])

interface SeenSignal {
  signal: Signal
  /** Fly's timestamp of the line (whole seconds). */
  atMs: number
  /** When the gate received it (for grace periods). */
  receivedAtMs: number
  message: string
}

interface ExitRecord {
  atMs: number
  code?: number
  signal?: string
  oomKilled: boolean
  /** When the gate first learnt of it. */
  seenAtMs: number
}

interface MachineTrack {
  id: string
  observed: boolean
  missingSinceMs?: number
  state?: string
  stateSinceMs?: number
  startEvents: number[]
  /** The first user-issued `launch`/`update`/`start`/`restart` at or after notBeforeMs: the machine took the gated config. */
  configTakenAtMs?: number
  /** The machine has events from before notBeforeMs: it existed, and runs the old config until it takes the new one. */
  existedBefore?: boolean
  exitEvents: ExitRecord[]
  command: { isGateway: boolean; port?: number; bind?: string; text?: string }
  envPort?: number
  /** The machine's memory and V8 heap (NODE_OPTIONS), for the out-of-memory fix. */
  memory?: MemoryFacts
  passingCheckPorts: Set<number>
  /** The checks the machine's config asks Fly to run, by the name Fly reports them under. */
  checkConfig: Map<string, ConfiguredCheck>
  /** Fly's latest results of them (`machines list --json` `checks`). */
  checkResults: CheckResult[]
  signals: SeenSignal[]
  lastLines: string[]
}

export class VerdictEngine {
  private readonly expect: Required<Omit<Expectation, 'notBeforeMs' | 'bind'>> &
    Pick<Expectation, 'notBeforeMs' | 'bind'>
  private readonly machines = new Map<string, MachineTrack>()
  private readonly wantedChannels: string[]

  constructor(expect: Expectation) {
    // `??`, not a spread over defaults: the gate passes its tuning knobs through as `undefined`
    // when unset, and a spread would keep that `undefined` (then every grace comparison is false,
    // and a crash loop or a loopback-by-silence is only reported at the timeout).
    this.expect = {
      ...expect,
      gatewayGeneration: expect.gatewayGeneration ?? 'auto',
      bindWarningGraceMs: expect.bindWarningGraceMs ?? 3_000,
      exitGraceMs: expect.exitGraceMs ?? 4_000,
      lastLineCount: expect.lastLineCount ?? 25,
    }
    this.wantedChannels = [...new Set(expect.channels.map((c) => c.trim().toLowerCase()).filter(Boolean))]
    for (const id of expect.machineIds) {
      this.machines.set(id, {
        id,
        observed: false,
        startEvents: [],
        exitEvents: [],
        command: { isGateway: false },
        passingCheckPorts: new Set(),
        checkConfig: new Map(),
        checkResults: [],
        signals: [],
        lastLines: [],
      })
    }
  }

  /** Take one parsed `fly logs` line; lines of other machines are ignored. */
  feed(line: LogLine, receivedAtMs: number = line.timestampMs): void {
    const track = this.machines.get(line.machineId)
    if (!track) return
    track.lastLines.push(line.text)
    if (track.lastLines.length > this.expect.lastLineCount) track.lastLines.shift()
    for (const signal of classify(line.message, line.provider)) {
      track.signals.push({ signal, atMs: line.timestampMs, receivedAtMs, message: line.message.trim() })
    }
  }

  /** Take one `machines list --json` result. */
  observeMachines(list: readonly Machine[], nowMs: number): void {
    const byId = new Map(list.map((m) => [m.id, m]))
    for (const track of this.machines.values()) {
      const machine = byId.get(track.id)
      if (!machine) {
        if (track.observed && track.missingSinceMs === undefined) track.missingSinceMs = nowMs
        continue
      }
      track.observed = true
      track.missingSinceMs = undefined
      if (track.state !== machine.state) track.stateSinceMs = nowMs
      track.state = machine.state
      track.startEvents = (machine.events ?? [])
        .filter((e) => e.type === 'start' && typeof e.timestamp === 'number')
        .map((e) => e.timestamp as number)
        .sort((a, b) => a - b)
      track.configTakenAtMs = configTakenAt(machine.events ?? [], this.expect.notBeforeMs)
      const notBefore = this.expect.notBeforeMs
      track.existedBefore =
        notBefore !== undefined &&
        (machine.events ?? []).some((e) => typeof e.timestamp === 'number' && e.timestamp < notBefore)
      const known = new Map(track.exitEvents.map((e) => [e.atMs, e]))
      track.exitEvents = (machine.events ?? [])
        .filter((e) => e.type === 'exit' && typeof e.timestamp === 'number')
        .map((e) => exitRecord(e as ExitEventLike, known.get(e.timestamp as number)?.seenAtMs ?? nowMs))
        .filter((e): e is ExitRecord => e !== undefined)
      track.command = commandEvidence(machine)
      const envPort = Number(machine.config?.env?.OPENCLAW_GATEWAY_PORT)
      track.envPort = Number.isInteger(envPort) && envPort > 0 ? envPort : undefined
      track.memory = memoryFacts(machine.config)
      track.passingCheckPorts = passingCheckPorts(machine)
      track.checkConfig = configuredChecks(machine)
      track.checkResults = (machine.checks ?? []).map((c) => ({
        name: c.name,
        status: c.status,
        output: c.output,
        updatedAtMs: Date.parse(c.updated_at ?? ''),
      }))
    }
  }

  /**
   * The gateway's own lines a healthy verdict rests on, per machine: its ready or listening line,
   * the non-loopback bind warning and each channel's start, as `<machine> <time> <line>`.
   */
  evidenceLines(): string[] {
    const kinds = new Set(['ready', 'listening', 'non-loopback-warning', 'channel-started'])
    return [...this.machines.values()].flatMap((track) =>
      this.signalsFrom(track, this.latestRunStart(track))
        .filter((s) => kinds.has(s.signal.kind))
        .map((s) => `${track.id} ${new Date(s.atMs).toISOString().replace('.000Z', 'Z')} ${s.message}`),
    )
  }

  /** The last lines kept for a machine (for a message assembled after the verdict). */
  lastLines(machineId: string): string[] {
    return [...(this.machines.get(machineId)?.lastLines ?? [])]
  }

  verdict(nowMs: number): Verdict | undefined {
    if (this.machines.size === 0) {
      return this.unhealthy('no-machines', nowMs, undefined, 'no app machine runs the new release')
    }
    for (const track of this.machines.values()) {
      const fatal = this.fatalFor(track, nowMs)
      if (fatal) return fatal
    }
    const evidence: string[] = []
    let allReady = true
    for (const track of this.machines.values()) {
      const ready = this.readiness(track)
      if (ready.ready) evidence.push(`${track.id}: ${ready.how}`)
      else allReady = false
    }
    const missingChannels = this.missingChannels()
    if (allReady && missingChannels.length === 0) {
      if (this.wantedChannels.length > 0) evidence.push(`channels started: ${this.wantedChannels.join(', ')}`)
      return { health: 'healthy', atMs: nowMs, evidence }
    }
    if (nowMs >= this.expect.deadlineMs) return this.timeoutVerdict(nowMs, missingChannels)
    return undefined
  }

  // ---- per machine ---------------------------------------------------------------------------

  private windowStart(track: MachineTrack): number {
    return this.window(track).atMs
  }

  /** Where the machine's window starts, and whether that is a machine event (Fly's clock, ms). */
  private window(track: MachineTrack): { atMs: number; fromEvent: boolean } {
    const notBefore = this.expect.notBeforeMs
    if (notBefore === undefined) {
      const first = track.startEvents[0]
      return first === undefined
        ? { atMs: Number.NEGATIVE_INFINITY, fromEvent: false }
        : { atMs: first, fromEvent: true }
    }
    // No slack before notBefore: after a stale-lock repair, notBefore is the restart, and a crash
    // restart a moment earlier (plus whole-second log timestamps) would bring back the very fatal
    // line the repair fixed. notBefore is taken before `fly deploy` / `fly machine restart` begins,
    // so the start they cause is always later. Starts flyd made before the machine took the new
    // config (a crash loop of the release being replaced) are skipped: see the header.
    const from = track.configTakenAtMs ?? notBefore
    const start = track.startEvents.find((t) => t >= from)
    if (start !== undefined) return { atMs: start, fromEvent: true }
    return { atMs: from, fromEvent: track.configTakenAtMs !== undefined }
  }

  private latestRunStart(track: MachineTrack): number {
    const start = this.windowStart(track)
    const latest = track.startEvents.filter((t) => t >= start).at(-1)
    return latest ?? start
  }

  /** Signals whose line falls at or after `fromMs` (lines carry whole seconds). */
  private signalsFrom(track: MachineTrack, fromMs: number): SeenSignal[] {
    const floor = Math.floor(fromMs / 1000) * 1000
    return track.signals.filter((s) => s.atMs >= floor)
  }

  /**
   * Fatal signals of the window. Lines carry whole seconds: when an earlier run of the machine
   * ended in the window's first second, before the window opened (the crash loop a rollback ends),
   * that second's lines may be that run's last words, so fatal lines count from the next second.
   * A fatal line of this run in its first second is lost only as a cause: its exit still decides.
   */
  private fatalSignalsFrom(track: MachineTrack, fromMs: number): SeenSignal[] {
    const floor = Math.floor(fromMs / 1000) * 1000
    const earlierRunEnded = track.exitEvents.some((e) => e.atMs >= floor && e.atMs < fromMs)
    return this.signalsFrom(track, earlierRunEnded ? floor + 1000 : fromMs)
  }

  /**
   * An existing machine that has not taken the gated config yet (the gate runs alongside the
   * deploy): what it logs and how it exits still belong to the release being replaced, such as
   * the crash loop a rollback is about to end. It is judged from the moment it takes the config.
   */
  private onOldConfig(track: MachineTrack): boolean {
    return this.expect.notBeforeMs !== undefined && track.configTakenAtMs === undefined && track.existedBefore === true
  }

  private fatalFor(track: MachineTrack, nowMs: number): UnhealthyVerdict | undefined {
    if (this.onOldConfig(track)) return undefined
    const windowStart = this.windowStart(track)
    const windowSignals = this.signalsFrom(track, windowStart)

    const logFatal = this.fatalSignalsFrom(track, windowStart).find((s) => s.signal.kind === 'fatal')
    if (logFatal && logFatal.signal.kind === 'fatal') {
      return this.unhealthy(logFatal.signal.cause, nowMs, track, `the gateway logged: ${logFatal.message}`)
    }

    const suppressed = windowSignals.flatMap((s) => (s.signal.kind === 'channels-suppressed' ? s.signal.channels : []))
    const lost = this.wantedChannels.filter((c) => suppressed.includes(c))
    if (lost.length > 0) {
      return this.unhealthy(
        'channel-not-started',
        nowMs,
        track,
        `the gateway suppressed channel ${lost.join(', ')}: its credentials are in the environment but the channel is not configured`,
      )
    }

    return (
      this.commandPortFatal(track, nowMs) ??
      this.servingFatal(track, windowSignals, nowMs) ??
      this.exitOrStop(track, windowSignals, nowMs)
    )
  }

  /** The machine's command or environment sets a port other than internal_port. */
  private commandPortFatal(track: MachineTrack, nowMs: number): UnhealthyVerdict | undefined {
    const { command } = track
    const configuredPort = this.expect.port
    if (command.isGateway && command.port !== undefined && command.port !== configuredPort) {
      return this.unhealthy(
        'wrong-port',
        nowMs,
        track,
        `the machine's command runs the gateway with --port ${command.port}, but internal_port is ${configuredPort}`,
      )
    }
    if (
      command.isGateway &&
      command.port === undefined &&
      track.envPort !== undefined &&
      track.envPort !== configuredPort
    ) {
      return this.unhealthy(
        'wrong-port',
        nowMs,
        track,
        `OPENCLAW_GATEWAY_PORT=${track.envPort} on the machine, but internal_port is ${configuredPort}`,
      )
    }
    return undefined
  }

  /** What the gateway's run says it serves: loopback only, another port, or unreachable through Fly's proxy. */
  private servingFatal(track: MachineTrack, windowSignals: SeenSignal[], nowMs: number): UnhealthyVerdict | undefined {
    const { command } = track
    const configuredPort = this.expect.port
    const runSignals = this.signalsFrom(track, this.latestRunStart(track))
    const listening = runSignals.filter((s) => s.signal.kind === 'listening').at(-1)
    if (listening && listening.signal.kind === 'listening') {
      const { addresses } = listening.signal
      const shown = addresses.map((a) => `${a.host}:${a.port}`).join(', ')
      if (addresses.length > 0 && addresses.every((a) => isLoopbackHost(a.host))) {
        return this.unhealthy('loopback-bind', nowMs, track, `the gateway listens on loopback only (${shown})`)
      }
      const wrong = addresses.find((a) => a.port !== configuredPort)
      if (wrong)
        return this.unhealthy(
          'wrong-port',
          nowMs,
          track,
          `the gateway listens on ${shown}, but internal_port is ${configuredPort}`,
        )
    }

    const originsPort = windowSignals.filter((s) => s.signal.kind === 'origins-port').at(-1)
    if (
      originsPort &&
      originsPort.signal.kind === 'origins-port' &&
      command.port === undefined &&
      track.envPort === undefined &&
      originsPort.signal.port !== configuredPort
    ) {
      return this.unhealthy(
        'wrong-port',
        nowMs,
        track,
        `the gateway serves port ${originsPort.signal.port} (its allowed origins say so), but internal_port is ${configuredPort}`,
      )
    }

    const ready = runSignals.find((s) => s.signal.kind === 'ready')
    const warned = runSignals.some((s) => s.signal.kind === 'non-loopback-warning')
    if (ready && !listening && !warned && this.expect.gatewayGeneration !== 'legacy') {
      if (command.bind === 'loopback') {
        return this.unhealthy(
          'loopback-bind',
          nowMs,
          track,
          'the gateway is ready but runs with --bind loopback (127.0.0.1)',
        )
      }
      if (nowMs - ready.receivedAtMs >= this.expect.bindWarningGraceMs) {
        return this.unhealthy(
          'loopback-bind',
          nowMs,
          track,
          'the gateway is ready but never printed "Gateway is binding to a non-loopback address", so it binds loopback (127.0.0.1)',
        )
      }
    }

    if (
      (ready || listening) &&
      runSignals.some((s) => s.signal.kind === 'proxy-refused' && s.atMs >= (ready ?? listening)!.atMs)
    ) {
      return this.unhealthy(
        'unreachable',
        nowMs,
        track,
        `Fly's proxy was refused on port ${configuredPort} after the gateway was ready`,
      )
    }

    return this.exitOrStop(track, windowSignals, nowMs) ?? this.failingCheck(track, nowMs)
  }

  /**
   * A Fly check that still fails once its grace period after the machine's latest start has
   * passed: the gateway's own probe says it is not serving (a /startupz that stays 503: startup
   * never finished), whatever its log lines said. Only results of the current run of a started machine.
   */
  private failingCheck(track: MachineTrack, nowMs: number): UnhealthyVerdict | undefined {
    if (track.state !== 'started') return undefined
    const runStart = this.latestRunStart(track)
    for (const result of this.currentResults(track)) {
      if (result.status !== 'critical') continue
      const configured = track.checkConfig.get(result.name)
      const graceMs = configured?.graceMs ?? 0
      if (!Number.isFinite(runStart) || nowMs - runStart < graceMs) continue
      const what = configured ? `${result.name} (${configured.what})` : result.name
      return this.unhealthy(
        'check-failing',
        nowMs,
        track,
        `Fly's check ${what} still fails ${formatMs(graceMs)} after the machine started (its grace period): ${result.output || 'no output'}`,
      )
    }
    return undefined
  }

  /** Check results of the machine's latest run (a result from before it started is the previous run's). */
  private currentResults(track: MachineTrack): CheckResult[] {
    const runStart = this.latestRunStart(track)
    return track.checkResults.filter(
      (r) =>
        !Number.isFinite(r.updatedAtMs) ||
        !Number.isFinite(runStart) ||
        r.updatedAtMs >= Math.floor(runStart / 1000) * 1000,
    )
  }

  /** With checks configured, Fly's results must exist and all pass (flyctl internal/machine/leasable_machine.go WaitForHealthchecksToPass). */
  private checksEvidence(track: MachineTrack): { passing: true; how: string } | { passing: false; missing: string } {
    if (track.checkConfig.size === 0) return { passing: true, how: '' }
    const results = this.currentResults(track)
    const failing = results.filter((r) => r.status !== 'passing')
    if (results.length === 0 || failing.length > 0) {
      const shown = failing.map((r) => `${r.name} ${r.status}`).join(', ')
      return { passing: false, missing: `ready, but Fly's checks do not pass yet (${shown || 'no result yet'})` }
    }
    const names = results.map((r) => {
      const configured = track.checkConfig.get(r.name)
      return configured ? `${r.name} (${configured.what})` : r.name
    })
    return { passing: true, how: `; Fly's check ${names.join(', ')} passing` }
  }

  private exitOrStop(track: MachineTrack, windowSignals: SeenSignal[], nowMs: number): UnhealthyVerdict | undefined {
    const grace = this.expect.exitGraceMs
    // Exit events and a window that starts at an event share Fly's clock in milliseconds: the exit
    // that ended the previous run a moment before the window's start (same second) is not this
    // release's. A window that starts at notBeforeMs (the runner's clock) keeps the whole second.
    const window = this.window(track)
    const windowFloor = window.fromEvent ? window.atMs : Math.floor(window.atMs / 1000) * 1000

    const oomEvent = track.exitEvents.find((e) => e.oomKilled && e.atMs >= windowFloor)
    if (oomEvent)
      return this.unhealthy(
        'out-of-memory',
        nowMs,
        track,
        `Fly reports the machine's process was OOM-killed (exit ${oomEvent.code ?? '?'})`,
      )

    const stopRequestedAt = windowSignals.filter((s) => s.signal.kind === 'stop-requested').map((s) => s.atMs)
    const crash = windowSignals.find((s) => {
      if (s.signal.kind === 'restarts-exhausted') return true
      if (s.signal.kind !== 'exit') return false
      if (s.signal.signal !== undefined) return !REQUESTED_SIGNALS.has(s.signal.signal)
      // A clean exit after the gateway logged a requested shutdown is a stop, not a crash.
      return !(s.signal.code === 0 && stopRequestedAt.some((t) => t <= s.atMs))
    })
    // The init's own exit line comes after the gateway's last lines in the same stream, so the lines
    // that explain it are already here: a short wait suffices (the full grace is for exit events
    // from `machines list`, which can run ahead of the log stream).
    if (crash && nowMs - crash.receivedAtMs >= Math.min(grace, LOG_EXIT_GRACE_MS)) {
      const how =
        crash.signal.kind === 'exit'
          ? crash.signal.code !== undefined
            ? `exit code ${crash.signal.code}`
            : `signal ${crash.signal.signal}`
          : 'restarts exhausted'
      return this.unhealthy(
        'machine-exited',
        nowMs,
        track,
        `the gateway process exited (${how})${exit78Hint(crash.signal)}`,
      )
    }

    const exitEvent = track.exitEvents.find((e) => e.atMs >= windowFloor)
    if (exitEvent && nowMs - exitEvent.seenAtMs >= grace) {
      const how =
        exitEvent.code !== undefined
          ? `exit code ${exitEvent.code}`
          : exitEvent.signal
            ? `signal ${exitEvent.signal}`
            : 'no exit code'
      return this.unhealthy(
        'machine-exited',
        nowMs,
        track,
        `Fly reports the machine's process exited (${how})${exit78Hint({ kind: 'exit', code: exitEvent.code })}`,
      )
    }

    if (track.missingSinceMs !== undefined && nowMs - track.missingSinceMs >= grace) {
      return this.unhealthy('machine-stopped', nowMs, track, 'the machine is gone from `machines list` (destroyed)')
    }
    if (
      track.state &&
      STOPPED_STATES.has(track.state) &&
      !this.awaitingStart(track) &&
      track.stateSinceMs !== undefined &&
      nowMs - track.stateSinceMs >= grace
    ) {
      return this.unhealthy('machine-stopped', nowMs, track, `the machine is ${track.state}`)
    }
    return undefined
  }

  /**
   * A machine that was stopped or suspended when the deploy began is not launched by it
   * (flyctl deploy/machines_launchinput.go shouldSkipLaunch): it is only stopped once it has
   * started since, which the deploy stage's `fly machine start` does.
   */
  private awaitingStart(track: MachineTrack): boolean {
    const notBefore = this.expect.notBeforeMs
    if (notBefore === undefined || (track.state !== 'stopped' && track.state !== 'suspended')) return false
    return !track.startEvents.some((t) => t >= notBefore)
  }

  private readiness(track: MachineTrack): { ready: true; how: string } | { ready: false; missing: string } {
    if (!track.observed) return { ready: false, missing: 'not seen in `machines list` yet' }
    if (this.onOldConfig(track)) return { ready: false, missing: 'has not taken the new release yet' }
    if (track.state !== 'started') return { ready: false, missing: `machine state is ${track.state ?? 'unknown'}` }
    const runSignals = this.signalsFrom(track, this.latestRunStart(track))
    const listening = runSignals.filter((s) => s.signal.kind === 'listening').at(-1)
    if (listening && listening.signal.kind === 'listening') {
      // fatalFor has already refused loopback-only lists and other ports.
      const shown = listening.signal.addresses.map((a) => `${a.host}:${a.port}`).join(', ')
      const checks = this.checksEvidence(track)
      if (!checks.passing) return { ready: false, missing: checks.missing }
      return { ready: true, how: `[gateway] listening on ${shown}${checks.how}` }
    }
    if (this.expect.gatewayGeneration === 'legacy')
      return { ready: false, missing: 'no `[gateway] listening on` line yet' }
    const ready = runSignals.some((s) => s.signal.kind === 'ready')
    if (!ready) return { ready: false, missing: 'no `[gateway] ready` line yet' }
    const warned = runSignals.some((s) => s.signal.kind === 'non-loopback-warning')
    if (!warned) return { ready: false, missing: 'ready, but no non-loopback bind warning yet' }
    const port = this.portEvidence(track)
    if (!port)
      return {
        ready: false,
        missing: `ready on a non-loopback address, port ${this.expect.port} not confirmed (no --port, no OPENCLAW_GATEWAY_PORT, no passing check)`,
      }
    const checks = this.checksEvidence(track)
    if (!checks.passing) return { ready: false, missing: checks.missing }
    return {
      ready: true,
      how: `[gateway] ready after the non-loopback bind warning; port ${this.expect.port} from ${port}${checks.how}`,
    }
  }

  private portEvidence(track: MachineTrack): string | undefined {
    const want = this.expect.port
    if (track.command.port === want) return '--port in the machine command'
    if (track.command.port === undefined && track.envPort === want) return 'OPENCLAW_GATEWAY_PORT on the machine'
    if (track.command.port === undefined && track.envPort === undefined) {
      const origins = this.signalsFrom(track, this.windowStart(track)).some(
        (s) => s.signal.kind === 'origins-port' && s.signal.port === want,
      )
      if (origins) return "the gateway's seeded allowed origins"
      if (track.passingCheckPorts.has(want)) return 'a passing Fly check on that port'
    }
    return undefined
  }

  private missingChannels(): string[] {
    if (this.wantedChannels.length === 0) return []
    const started = new Set<string>()
    for (const track of this.machines.values()) {
      for (const s of this.signalsFrom(track, this.windowStart(track))) {
        if (s.signal.kind === 'channel-started') started.add(s.signal.channel)
      }
    }
    return this.wantedChannels.filter((c) => !started.has(c))
  }

  private timeoutVerdict(nowMs: number, missingChannels: string[]): UnhealthyVerdict {
    const notReady: Array<{ track: MachineTrack; missing: string }> = []
    for (const track of this.machines.values()) {
      const ready = this.readiness(track)
      if (!ready.ready) notReady.push({ track, missing: ready.missing })
    }
    if (notReady.length === 0) {
      return this.unhealthy(
        'channel-not-started',
        nowMs,
        [...this.machines.values()][0],
        `the gateway is ready, but no start or login was logged for ${missingChannels.join(', ')} before the timeout`,
      )
    }
    const first = notReady[0]!
    const detail = notReady.map((n) => `${n.track.id}: ${n.missing}`).join('; ')
    return this.unhealthy('timeout', nowMs, first.track, `not healthy within health-timeout: ${detail}`)
  }

  private unhealthy(cause: Cause, nowMs: number, track: MachineTrack | undefined, detail: string): UnhealthyVerdict {
    return {
      health: 'unhealthy',
      cause,
      atMs: nowMs,
      machineId: track?.id,
      detail,
      fix: fixFor(cause, {
        port: this.expect.port,
        machineId: track?.id,
        channels: this.wantedChannels,
        ...(track?.memory ? { memory: track.memory } : {}),
      }),
      lastLines: track ? [...track.lastLines] : [],
    }
  }
}

// ---- machine record evidence ------------------------------------------------------------------

interface LifecycleEventLike {
  type: string
  source?: string
  timestamp?: number
}

/**
 * When the machine took the config being gated: its first user-issued lifecycle event at or after
 * `notBeforeMs`. `launch` (created) and `update` (config replaced) are the API caller's by nature;
 * a `start` or `restart` counts only from source `user` (a deploy or `fly machine restart`), never
 * flyd's restart-policy restarts of a crashing process, which run whatever config it had.
 */
function configTakenAt(events: readonly LifecycleEventLike[], notBeforeMs: number | undefined): number | undefined {
  if (notBeforeMs === undefined) return undefined
  let first: number | undefined
  for (const e of events) {
    if (typeof e.timestamp !== 'number' || e.timestamp < notBeforeMs) continue
    const takes =
      e.type === 'launch' ||
      e.type === 'update' ||
      (e.source === 'user' && (e.type === 'start' || e.type === 'restart'))
    if (takes && (first === undefined || e.timestamp < first)) first = e.timestamp
  }
  return first
}

interface ExitEventLike {
  timestamp?: number
  request?: unknown
}

function exitRecord(event: ExitEventLike, seenAtMs: number): ExitRecord | undefined {
  // fly-go machine_types.go: MachineRequest{exit_event | MonitorEvent.exit_event}{exit_code, oom_killed, requested_stop, signal}
  const request = (event.request ?? {}) as Record<string, unknown>
  const monitor = request.MonitorEvent as Record<string, unknown> | undefined
  const exit = (monitor?.exit_event ?? request.exit_event) as Record<string, unknown> | undefined
  if (exit?.requested_stop === true) return undefined
  // exit_code is omitempty: an exit event without it exited 0.
  const code = typeof exit?.exit_code === 'number' ? exit.exit_code : exit ? 0 : undefined
  const signal = typeof exit?.signal === 'number' && exit.signal > 0 ? String(exit.signal) : undefined
  return { atMs: event.timestamp ?? 0, code, signal, oomKilled: exit?.oom_killed === true, seenAtMs }
}

function commandEvidence(machine: Machine): MachineTrack['command'] {
  const init = machine.config?.init
  const argv = [...(init?.entrypoint ?? []), ...(init?.exec ?? []), ...(init?.cmd ?? [])]
  if (argv.length === 0) return { isGateway: false }
  const value = (flag: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!
      if (arg === flag) return argv[i + 1]
      if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1)
    }
    return undefined
  }
  const port = Number(value('--port'))
  return {
    isGateway: argv.includes('gateway'),
    port: Number.isInteger(port) && port > 0 ? port : undefined,
    bind: value('--bind'),
    text: argv.join(' '),
  }
}

interface ConfiguredCheck {
  graceMs: number
  /** `GET /startupz`, `tcp 3000`. */
  what: string
}

interface CheckResult {
  name: string
  status: string
  output: string
  updatedAtMs: number
}

/**
 * The checks of a machine config under the names Fly reports: top-level `checks` by key, a
 * service's `checks` as `servicecheck-<nn>-<type>-<port>` (flaps; flyctl internal/machine/
 * leasable_machine_test.go), with their grace periods.
 */
function configuredChecks(machine: Machine): Map<string, ConfiguredCheck> {
  const config = (machine.config ?? {}) as Record<string, unknown>
  const out = new Map<string, ConfiguredCheck>()
  const describe = (c: Record<string, unknown>, type: string, port: unknown): ConfiguredCheck => ({
    graceMs: goDurationMs(c.grace_period) ?? 0,
    what:
      type === 'http'
        ? `${typeof c.method === 'string' ? c.method.toUpperCase() : 'GET'} ${typeof c.path === 'string' ? c.path : '/'}`
        : `tcp ${String(port)}`,
  })
  for (const [name, c] of Object.entries(isRecord(config.checks) ? config.checks : {})) {
    if (isRecord(c)) out.set(name, describe(c, c.type === 'http' ? 'http' : 'tcp', c.port))
  }
  for (const service of Array.isArray(config.services) ? config.services.filter(isRecord) : []) {
    const checks = Array.isArray(service.checks) ? service.checks.filter(isRecord) : []
    for (const [index, c] of checks.entries()) {
      const type = c.type === 'tcp' ? 'tcp' : 'http'
      out.set(
        `servicecheck-${String(index).padStart(2, '0')}-${type}-${String(service.internal_port)}`,
        describe(c, type, service.internal_port),
      )
    }
  }
  return out
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A Go duration as flyctl writes it into a machine config (`2m0s`, `15s`, `500ms`), or nanoseconds. */
function goDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value / 1e6
  if (typeof value !== 'string') return undefined
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 }
  let total = 0
  let matched = ''
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)) {
    total += Number(m[1]) * (units[m[2] as string] as number)
    matched += m[0]
  }
  return matched === value && matched !== '' ? total : undefined
}

function formatMs(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`
}

function passingCheckPorts(machine: Machine): Set<number> {
  const ports = new Set<number>()
  const configChecks = ((machine.config as Record<string, unknown> | undefined)?.checks ?? {}) as Record<
    string,
    { port?: unknown }
  >
  for (const check of machine.checks ?? []) {
    if (check.status !== 'passing') continue
    // flaps names service checks `servicecheck-<n>-<type>-<port>` (flyctl internal/machine/leasable_machine_test.go).
    const service = /^servicecheck-\d+-[a-z]+-(\d+)$/.exec(check.name)
    if (service) ports.add(Number(service[1]))
    const port = configChecks[check.name]?.port
    if (typeof port === 'number') ports.add(port)
  }
  return ports
}

// ---- words --------------------------------------------------------------------------------------

function exit78Hint(signal: Signal): string {
  return signal.kind === 'exit' && signal.code === 78
    ? '; exit 78 is the gateway refusing its configuration (invalid or missing config, a lan bind without a token, or a held lock)'
    : ''
}

export interface MemoryFacts {
  memoryMb?: number
  cpuKind?: string
  heapMb?: number
}

/** The machine's guest memory and CPU kind, and the `--max-old-space-size` of its NODE_OPTIONS. */
function memoryFacts(
  config:
    | { guest?: { memory_mb?: number; cpu_kind?: string } | null; env?: Record<string, string> | null }
    | null
    | undefined,
): MemoryFacts {
  const heap = /--max-old-space-size[= ](\d+)/.exec(config?.env?.NODE_OPTIONS ?? '')
  return {
    ...(config?.guest?.memory_mb ? { memoryMb: config.guest.memory_mb } : {}),
    ...(config?.guest?.cpu_kind ? { cpuKind: config.guest.cpu_kind } : {}),
    ...(heap ? { heapMb: Number(heap[1]) } : {}),
  }
}

/**
 * The out-of-memory fix from what the machine had: below 2 GB the guide's 2048mb; at 2 GB or more
 * the next memory step up (doubled), on a size that holds it (machine-sizes.ts), with the heap at
 * the guide's three quarters of it, so a machine that already had 2048 MB is never told "2048mb" again.
 */
export function outOfMemoryFix(id: string, memory: MemoryFacts = {}): string {
  const had = memory.memoryMb
  const heapNote = memory.heapMb !== undefined ? ` (the heap was ${memory.heapMb} MB)` : ''
  // A heap capped far below the VM's memory is the limit that was hit, not the VM.
  const heapRoom = had === undefined ? undefined : Math.floor(had * 0.75)
  if (heapRoom !== undefined && memory.heapMb !== undefined && memory.heapMb < heapRoom * 0.8) {
    const small = (had as number) < 2048 ? ' (2GB of VM memory is recommended)' : ''
    return `The gateway's V8 heap was capped at ${memory.heapMb} MB by NODE_OPTIONS --max-old-space-size on a machine with ${had} MB: the cap, not the VM, ran out. Raise it to NODE_OPTIONS=--max-old-space-size=${heapRoom} in \`env\` (three quarters of the VM's memory)${small}.`
  }
  if (had === undefined || had < 2048) {
    return `Give the VM more memory: set the input \`memory: 2048mb\` ([[vm]] memory = "2048mb") with NODE_OPTIONS=--max-old-space-size=1536, or \`fly machine update ${id} --vm-memory 2048 -y\`. ${had ? `The machine had ${had} MB${heapNote}; ` : ''}512MB is too small; 2GB is recommended.`
  }
  const next = had * 2
  const heap = Math.floor(next * 0.75)
  const size = sizeFor(next, memory.cpuKind === 'performance' ? 'performance' : 'shared')
  return `The machine had ${had} MB${heapNote} and still ran out: set \`memory: ${next}mb\`${size ? ` (with \`vm-size: ${size}\` or larger)` : ''} and NODE_OPTIONS=--max-old-space-size=${heap} in \`env\`, or \`fly machine update ${id} --vm-memory ${next} -y\`; if memory keeps growing, look for a leak in the lines below.`
}

export function fixFor(
  cause: Cause,
  ctx: { port: number; machineId?: string; channels?: string[]; memory?: MemoryFacts },
): string {
  const id = ctx.machineId ?? '<machine-id>'
  switch (cause) {
    case 'out-of-memory':
      return outOfMemoryFix(id, ctx.memory)
    case 'gateway-lock':
      return `A stale gateway lock: remove it and restart, \`fly ssh console --machine ${id} -C "sh -c 'rm -f /data/gateway.*.lock /tmp/openclaw-*/gateway.*.lock'"\`, then \`fly machine restart ${id}\` (the input \`fix-stale-lock: true\` does this once; releases from 2026.8.1 keep the lock in /data/tmp/openclaw-<uid>/ and reclaim a dead owner's lock themselves: do not delete that tree).`
    case 'auth-required':
      return 'A non-loopback bind (`--bind lan`) requires auth: set the secret OPENCLAW_GATEWAY_TOKEN (e.g. `openssl rand -hex 32`) or OPENCLAW_GATEWAY_PASSWORD through `secrets`/`secrets-json`.'
    case 'invalid-config':
      return 'Fix openclaw.json (the `gateway-config` input, or $OPENCLAW_STATE_DIR/openclaw.json on the volume): run `openclaw doctor --fix` against it, or keep `--allow-unconfigured` in the command to start without one.'
    case 'start-failed':
      return 'The gateway could not start; the lines below say why. Check them with `fly logs` and `fly ssh console`.'
    case 'loopback-bind':
      return `The gateway binds 127.0.0.1, which Fly's proxy cannot reach ("App is not listening on expected address"): add \`--bind lan\` to the command (the input \`bind: lan\`).`
    case 'wrong-port':
      return `Make internal_port match the gateway's port: \`--port ${ctx.port}\` in the command (the input \`port\`) or OPENCLAW_GATEWAY_PORT=${ctx.port}.`
    case 'unreachable':
      return `Fly cannot reach the gateway: make internal_port match \`--port\` (or OPENCLAW_GATEWAY_PORT) and bind with \`--bind lan\`.`
    case 'channel-not-started':
      return `Check the channel's token secret (DISCORD_BOT_TOKEN, TELEGRAM_BOT_TOKEN, SLACK_BOT_TOKEN/SLACK_APP_TOKEN, ...) and enable it under \`channels.<name>\` in openclaw.json (2026.9 ignores ambient credentials of unconfigured channels unless the gateway runs with --ambient-channels); or drop it from health-channels.`
    case 'machine-exited':
    case 'machine-stopped':
      return `Read the lines below and \`fly machine status ${id}\`; after fixing the cause, redeploy or \`fly machine start ${id}\`.`
    case 'no-machines':
      return 'The deploy left no app machine on the new release; check `fly status` and `fly releases`.'
    case 'check-failing':
      return `Fly's check on the gateway port keeps failing: for /startupz, the gateway's startup never finished (check \`fly ssh console --machine ${id} -C "openclaw health --json"\` and the lines below); for /healthz or a tcp check, the gateway is not reachable on internal_port (\`--bind lan\` and \`--port ${ctx.port}\`). If it is only slow to start, give the check a longer grace_period in \`config\`.`
    case 'not-serving':
      return `Every app machine must run the new release: deploy again with \`strategy: rolling\` (the default), or update the machine that was left (\`fly machine update ${id} --image <the new image> -y\`), then check \`fly status\`.`
    case 'timeout':
      return 'If the gateway is only slow to start, raise `health-timeout`; otherwise the lines below show where it stopped.'
    case 'health-url':
      return "The gateway logged ready but the health-url did not answer below 500; check the URL, its path and the app's public IPs (a private app has none)."
  }
}
