/**
 * The health gate's edge: follows `flyctl logs -a <app>` (resumed when the stream drops), reads
 * `flyctl machines list --json` (alongside a deploy when flyctl says a machine took the config and
 * once it exits, rollout-feed.ts; otherwise every few seconds), and hands both to the
 * VerdictEngine, which decides as soon as the evidence allows. Everything goes through the Flyctl runner, so the
 * stand-in (or a fake) can play Fly.
 */
import type { z } from 'zod'
import type { FlyctlResult, RunOptions } from '../fly/flyctl.js'
import { MachineListSchema, type Machine } from '../fly/schemas.js'
import { servingAppMachines } from '../fly/machines.js'
import { newestOnMachinesAbove } from '../fly/releases.js'
import { LineDeduper, parseFlyLogLine } from './log-stream.js'
import type { RolloutFeed } from './rollout-feed.js'
import { VerdictEngine, type Cause, type UnhealthyVerdict, type Verdict } from './verdict.js'
import { sleep } from '../shared/sleep.js'

/** The part of Flyctl the gate uses (Flyctl satisfies it; tests pass a fake). */
export interface FlyctlRunner {
  run(args: string[], opts?: RunOptions): Promise<FlyctlResult>
  json<T>(args: string[], schema: z.ZodType<T>, opts?: RunOptions): Promise<T>
  redact(text: string): string
}

export interface GateOptions {
  flyctl: FlyctlRunner
  app: string
  /**
   * `fly_release_version` of the machines to judge, or `{ after }`: the release that a deploy now
   * rolling out will create, the first version above `after` that app machines take (the gate
   * then starts with `fly deploy` and follows the rollout while flyctl waits).
   */
  releaseVersion: number | { after: number }
  port: number
  bind?: string
  channels: string[]
  /** health-timeout: counted from the moment the gate finds the release on a machine (see gateRelease). */
  timeoutMs: number
  /** When the deploy (or restart) that produced this release began; earlier lines are ignored. */
  notBeforeMs?: number
  pollIntervalMs?: number
  /** After an unhealthy verdict, keep reading this long (default 1 s) so the lines that explain it are shown. */
  lingerMs?: number
  bindWarningGraceMs?: number
  exitGraceMs?: number
  /** First wait before resuming a dropped log stream (doubles while it keeps dropping, up to 8 s). */
  resumeDelayMs?: number
  /** How often a waiting gate says what each machine is doing (default 15 s). */
  progressIntervalMs?: number
  /**
   * The deploy this gate runs alongside: machines are read when flyctl says one took the config
   * and once it has exited, not polled while flyctl itself waits on them (rollout-feed.ts).
   */
  rollout?: RolloutFeed
  signal?: AbortSignal
  now?: () => number
  log?: (message: string) => void
}

/**
 * A gate's result: the verdict engine's Verdict (health/verdict.ts) as it stands, with the facts
 * of the gate beside it. The one shape from the gate to the health stage; a `health-url` probe
 * adds its evidence to a healthy verdict or makes it unhealthy (health/index.ts).
 */
export interface GateResult {
  /** The release judged (known up front, or found when the deploy's machines took it). */
  releaseVersion?: number
  verdict: Verdict
  machineIds: string[]
  /** The failing machine's last lines, redacted. */
  lastLines: string[]
  /** Each release machine's state in the last `machines list`. */
  machineStates: Record<string, string>
}

const CAUSE_TITLES: Record<Cause, string> = {
  'out-of-memory': 'the gateway ran out of memory',
  'gateway-lock': 'the gateway lock is held',
  'auth-required': 'the gateway refused a non-loopback bind without auth',
  'invalid-config': 'the gateway config is invalid or missing',
  'start-failed': 'the gateway failed to start',
  'loopback-bind': 'the gateway binds loopback only',
  'wrong-port': 'the gateway listens on another port than internal_port',
  unreachable: "Fly's proxy cannot reach the gateway",
  'channel-not-started': 'a health channel did not start',
  'machine-exited': 'the gateway process exited',
  'machine-stopped': 'the machine stopped',
  'no-machines': 'no machine runs the new release',
  'check-failing': "Fly's health check on the gateway fails",
  'not-serving': 'a machine still serves the old release',
  timeout: 'the gateway was not healthy before health-timeout',
  'health-url': 'health-url did not answer',
}

export function causeTitle(cause: Cause): string {
  return CAUSE_TITLES[cause]
}

/** The error text of an unhealthy verdict: cause, fix, and the failing machine's last lines (redacted). */
export function formatUnhealthy(
  verdict: UnhealthyVerdict,
  lastLines: readonly string[],
  redact: (text: string) => string,
): string {
  const where = verdict.machineId ? ` on machine ${verdict.machineId}` : ''
  const parts = [`Health gate: ${causeTitle(verdict.cause)}${where}: ${verdict.detail}.`, `Fix: ${verdict.fix}`]
  if (lastLines.length > 0) {
    parts.push(`Last log lines of ${verdict.machineId ?? 'the machine'}:`)
    parts.push(...lastLines.map((l) => `  ${l}`))
  }
  return redact(parts.join('\n'))
}

/** The step's error for an unhealthy result: the verdict, its fix and the last lines, redacted. */
export function unhealthyMessage(
  result: Pick<GateResult, 'lastLines'> & { verdict: UnhealthyVerdict },
  redact: (text: string) => string,
): string {
  return formatUnhealthy(result.verdict, result.lastLines, redact)
}

/** App machines of a release: process group `app`, not a standby (flyctl deploy/machines_launchinput.go). */
export function releaseMachines(machines: readonly Machine[], version: number): { ids: string[]; note?: string } {
  const app = servingAppMachines(machines)
  const versionOf = (m: Machine) => m.config?.metadata?.fly_release_version
  const onRelease = app.filter((m) => versionOf(m) === String(version))
  if (onRelease.length > 0) {
    const others = app.filter((m) => versionOf(m) !== String(version))
    const note =
      others.length > 0
        ? `machines not on release v${version}: ${others.map((m) => `${m.id} (v${versionOf(m) ?? '?'})`).join(', ')}`
        : undefined
    return { ids: onRelease.map((m) => m.id), note }
  }
  // Machines that carry no release metadata at all (not created by `fly deploy`): judge them all.
  if (app.length > 0 && app.every((m) => versionOf(m) === undefined)) return { ids: app.map((m) => m.id) }
  return {
    ids: [],
    note:
      app.length > 0
        ? `app machines run ${[...new Set(app.map((m) => `v${versionOf(m) ?? '?'}`))].join(', ')}, not v${version}`
        : 'the app has no app machines',
  }
}

export async function gateRelease(o: GateOptions): Promise<GateResult> {
  const now = o.now ?? Date.now
  const log = o.log ?? (() => {})
  // Until the release is found: bounded by health-timeout only when no deploy runs alongside
  // (flyctl's own exit bounds the wait for it otherwise, so a build never eats the gate's time).
  const findDeadlineMs = o.rollout ? Number.POSITIVE_INFINITY : now() + o.timeoutMs
  const stop = new AbortController()
  const onOuterAbort = () => stop.abort()
  o.signal?.addEventListener('abort', onOuterAbort, { once: true })

  try {
    // The log stream starts first: lines that arrive while the rollout is still being found are
    // kept and fed to the engine once it knows which machines to judge.
    const lines = new LineRelay()
    const follower = followLogs(o.flyctl, o.app, (raw) => lines.push(raw), stop.signal, log, o.resumeDelayMs ?? 500)
    const found = await findRelease(o, stop.signal, findDeadlineMs, now, log)
    if (!found) {
      stop.abort()
      await follower
      if (o.signal?.aborted) throw cancelled()
      const verdict = noMachinesVerdict(
        now(),
        o.rollout?.machinesAfter
          ? '`fly deploy` exited and no app machine took a new release'
          : 'no app machine took a new release before health-timeout',
      )
      return { verdict, machineIds: [], lastLines: [], machineStates: {} }
    }
    const { version, machines } = found
    // health-timeout counts from the first machine of the release starting: the gate sees it take
    // the release's config as flyctl updates and starts it (plan.go updateOrCreateMachine).
    const deadlineMs = now() + o.timeoutMs
    const selected = releaseMachines(machines, version)
    if (selected.note) log(`health: ${selected.note}`)
    const engine = new VerdictEngine({
      machineIds: selected.ids,
      port: o.port,
      bind: o.bind,
      channels: o.channels,
      notBeforeMs: o.notBeforeMs,
      deadlineMs,
      bindWarningGraceMs: o.bindWarningGraceMs,
      exitGraceMs: o.exitGraceMs,
    })
    engine.observeMachines(machines, now())
    if (selected.ids.length === 0) {
      stop.abort()
      await follower
      const verdict = engine.verdict(now()) as UnhealthyVerdict
      verdict.detail = selected.note ?? verdict.detail
      return { releaseVersion: version, verdict, machineIds: [], lastLines: [], machineStates: {} }
    }
    log(`health: following the logs of ${selected.ids.join(', ')} (release v${version}, port ${o.port})`)
    const judged = await judge(o, engine, { ids: selected.ids, machines, deadlineMs, now, log, stop, lines })
    const { verdict } = judged
    // Said the moment it is decided, before the follower winds down: the user sees the verdict at once.
    log(
      `health: release v${version} is ${verdict.health}${verdict.health === 'unhealthy' ? ` (${verdict.cause})` : ''}`,
    )
    if (verdict.health === 'unhealthy' && (o.lingerMs ?? 1_000) > 0) await sleep(o.lingerMs ?? 1_000, stop.signal)
    stop.abort()
    await Promise.allSettled([follower, judged.poller])

    const lastLines =
      verdict.health === 'unhealthy' && verdict.machineId
        ? engine.lastLines(verdict.machineId).map((l) => o.flyctl.redact(l))
        : []
    if (verdict.health === 'unhealthy') verdict.lastLines = lastLines
    else verdict.lines = engine.evidenceLines().map((l) => o.flyctl.redact(l))
    const machineStates = Object.fromEntries(
      judged.lastList.filter((m) => selected.ids.includes(m.id)).map((m) => [m.id, m.state]),
    )
    return { releaseVersion: version, verdict, machineIds: selected.ids, lastLines, machineStates }
  } finally {
    stop.abort()
    o.signal?.removeEventListener('abort', onOuterAbort)
  }
}

/** Log lines held until the engine exists, then handed straight on. */
class LineRelay {
  private held: string[] = []
  private target?: (raw: string) => void

  push(raw: string): void {
    if (this.target) this.target(raw)
    else this.held.push(raw)
  }

  connect(target: (raw: string) => void): void {
    this.target = target
    for (const raw of this.held.splice(0)) target(raw)
  }
}

interface Judging {
  ids: string[]
  machines: Machine[]
  deadlineMs: number
  now: () => number
  log: (m: string) => void
  stop: AbortController
  lines: LineRelay
}

/**
 * Feed the engine the log lines and a `machines list` every few seconds until it decides (or the
 * gate is stopped); a clock tick lets grace periods and the deadline pass when nothing arrives,
 * and a progress line at least every 15 s says what each machine is doing.
 */
async function judge(
  o: GateOptions,
  engine: VerdictEngine,
  j: Judging,
): Promise<{ verdict: Verdict; lastList: Machine[]; poller: Promise<void> }> {
  let decided: Verdict | undefined
  let wake: () => void = () => {}
  const decidedPromise = new Promise<void>((resolve) => (wake = resolve))
  const check = (): void => {
    if (decided) return
    decided = engine.verdict(j.now())
    if (decided) wake()
  }
  const dedupe = new LineDeduper()
  j.lines.connect((raw) => {
    const line = dedupe.accept(raw) ? parseFlyLogLine(raw) : undefined
    if (!line) return
    engine.feed(line, j.now())
    check()
  })
  let lastList = j.machines
  const poller = (async () => {
    let seen = o.rollout?.count ?? 0
    while (!j.stop.signal.aborted) {
      const shared = await nextRead(o, seen, j.stop.signal)
      seen = o.rollout?.count ?? 0
      if (j.stop.signal.aborted) break
      try {
        lastList = shared ?? (await listMachines(o, j.stop.signal))
        engine.observeMachines(lastList, j.now())
        check()
      } catch (err) {
        if (!j.stop.signal.aborted)
          j.log(`health: machines list failed (${o.flyctl.redact((err as Error).message)}); will retry`)
      }
    }
  })()
  const ticker = setInterval(check, 250)
  const progress = setInterval(
    () => j.log(progressLine(engine, lastList, j.ids, j.deadlineMs - j.now())),
    o.progressIntervalMs ?? 15_000,
  )
  check()
  await Promise.race([decidedPromise, abortPromise(j.stop.signal)])
  clearInterval(ticker)
  clearInterval(progress)
  if (!decided) throw cancelled()
  return { verdict: decided, lastList, poller }
}

/** While flyctl rolls out and waits on the machines itself, the gate reads them this seldom unless flyctl says one took the config. */
const ROLLOUT_READ_MS = 30_000
/** Reads 1 s apart after flyctl's line when the first one does not show the release yet. */
const QUICK_READS = 3

/**
 * Wait for the judge's next machines read: alongside a running deploy, until flyctl says another
 * machine took the config, or it exits (then its list is shared: returned), or 30 s pass; else
 * the poll interval.
 */
async function nextRead(o: GateOptions, seen: number, signal: AbortSignal): Promise<Machine[] | undefined> {
  const feed = o.rollout
  if (!feed || feed.machinesAfter) {
    await sleep(o.pollIntervalMs ?? 3_000, signal)
    return undefined
  }
  await feed.next(seen, ROLLOUT_READ_MS, signal)
  return feed.machinesAfter
}

/** The gate's one read of the app's machines (a reading call: retried, bounded to 60 s). */
function listMachines(o: GateOptions, signal: AbortSignal): Promise<Machine[]> {
  return o.flyctl.json(['machines', 'list', '-a', o.app, '--json'], MachineListSchema, {
    signal,
    timeoutMs: 60_000,
    retry: { safe: 'reading' },
  })
}

/** The release to judge and the machines list that shows it (undefined: none before the deadline). */
async function findRelease(
  o: GateOptions,
  signal: AbortSignal,
  deadlineMs: number,
  now: () => number,
  log: (m: string) => void,
): Promise<{ version: number; machines: Machine[] } | undefined> {
  const pollMs =
    typeof o.releaseVersion === 'number' ? (o.pollIntervalMs ?? 3_000) : Math.min(o.pollIntervalMs ?? 3_000, 1_000)
  let announced = false
  let seen = 0
  let quickReads = 0
  while (!signal.aborted) {
    // Alongside a deploy: read when flyctl says a machine took the config (and up to 3 times more,
    // 1 s apart, while a read after such a line does not show it yet), every 30 s otherwise (a
    // long build), or use the list read once flyctl exited.
    if (o.rollout && !o.rollout.machinesAfter)
      await o.rollout.next(seen, quickReads > 0 ? pollMs : ROLLOUT_READ_MS, signal)
    const byEvent = (o.rollout?.count ?? 0) > seen
    seen = o.rollout?.count ?? 0
    quickReads = byEvent ? QUICK_READS : Math.max(0, quickReads - 1)
    if (signal.aborted) break
    try {
      const shared = o.rollout?.machinesAfter
      const machines = shared ?? (await listMachines(o, signal))
      if (typeof o.releaseVersion === 'number') return { version: o.releaseVersion, machines }
      const version = o.rollout
        ? ownRelease(o.rollout, machines, o.releaseVersion.after)
        : newestOnMachinesAbove(machines, o.releaseVersion.after)
      if (version !== undefined) return { version, machines }
      if (!announced)
        log(`health: waiting for the deploy's machines to take a release newer than v${o.releaseVersion.after}`)
      announced = true
      // flyctl exited and no machine took the release: the deploy stage decides what that means.
      if (shared) return undefined
    } catch (err) {
      if (signal.aborted) break
      if (now() >= deadlineMs) throw err
      log(`health: could not list machines (${o.flyctl.redact((err as Error).message)}); retrying`)
      quickReads = Math.max(quickReads, 1)
    }
    if (now() >= deadlineMs) return undefined
    if (!o.rollout) await sleep(pollMs, signal)
  }
  throw cancelled()
}

/**
 * The release this deploy made, alongside it: the one flyctl emitted once it exited, else the one
 * on the machines flyctl said it updated. Another run's deploy of the same app may roll its own
 * release meanwhile (it waits for our leases, or we for its): its machines are not ours to judge.
 */
export function ownRelease(
  rollout: Pick<RolloutFeed, 'ownMachines' | 'ownRelease' | 'machinesAfter'>,
  machines: readonly Machine[],
  after: number,
): number | undefined {
  if (rollout.ownRelease !== undefined) return rollout.ownRelease > after ? rollout.ownRelease : undefined
  const own = machines.filter((m) => rollout.ownMachines.has(m.id))
  // flyctl exited without naming a release or a machine (an older flyctl): the newest, as before.
  if (own.length === 0 && rollout.machinesAfter && rollout.ownMachines.size === 0)
    return newestOnMachinesAbove(machines, after)
  return newestOnMachinesAbove(own, after)
}

function noMachinesVerdict(atMs: number, detail: string): UnhealthyVerdict {
  return {
    health: 'unhealthy',
    cause: 'no-machines',
    atMs,
    detail,
    fix: 'Check `fly status` and the deploy output above: the release reached no machine.',
    lastLines: [],
  }
}

/** What a waiting gate says at least every 15 s: each machine's state and checks, its last line, the time left. */
export function progressLine(
  engine: VerdictEngine,
  machines: readonly Machine[],
  ids: readonly string[],
  leftMs: number,
): string {
  const parts = ids.map((id) => {
    const m = machines.find((x) => x.id === id)
    const checks = m?.checks ?? []
    const passing = checks.filter((c) => c.status === 'passing').length
    const last = engine.lastLines(id).at(-1)
    return `${id} ${m?.state ?? 'unknown'}, checks ${passing}/${checks.length} passing${last ? `, last line: ${truncate(last, 120)}` : ''}`
  })
  return `health: waiting (${Math.max(0, Math.round(leftMs / 1000))} s left): ${parts.join('; ')}`
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/**
 * `fly logs` streams until killed; it ends on its own when its connection drops. Start it again
 * (backing off while it keeps failing) until the gate is done.
 */
async function followLogs(
  flyctl: FlyctlRunner,
  app: string,
  onLine: (raw: string) => void,
  signal: AbortSignal,
  log: (m: string) => void,
  resumeDelayMs: number,
): Promise<void> {
  let failures = 0
  while (!signal.aborted) {
    const began = Date.now()
    let result: FlyctlResult | undefined
    try {
      result = await flyctl.run(['logs', '-a', app], {
        onLine,
        signal,
        allowFailure: true,
        retry: { safe: 'once', why: 'a stream: this loop resumes it with backoff' },
      })
    } catch (err) {
      if (signal.aborted) return
      log(`health: could not run flyctl logs (${flyctl.redact((err as Error).message)})`)
    }
    if (signal.aborted) return
    failures = Date.now() - began > 30_000 ? 1 : failures + 1
    const why = result
      ? result.exitCode === 0
        ? 'ended'
        : `exited ${result.exitCode}${result.error ? `: ${flyctl.redact(result.error)}` : ''}`
      : 'failed'
    log(`health: the log stream ${why}; resuming`)
    await sleep(Math.min(resumeDelayMs * 2 ** (failures - 1), 8_000), signal)
  }
}

export interface ProbeResult {
  ok: boolean
  detail: string
}

/**
 * Probe `health-url` after the log gate: any answer below 500 passes. Connection errors and 5xx
 * are retried every 2 s until the deadline (the proxy may still be catching up with the machine).
 */
export async function probeHealthUrl(
  url: string,
  deadlineMs: number,
  opts: { fetch?: typeof fetch; now?: () => number; signal?: AbortSignal; intervalMs?: number } = {},
): Promise<ProbeResult> {
  const doFetch = opts.fetch ?? fetch
  const now = opts.now ?? Date.now
  let last: string
  do {
    try {
      const timeout = AbortSignal.timeout(Math.max(1_000, Math.min(10_000, deadlineMs - now())))
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout
      const response = await doFetch(url, { method: 'GET', redirect: 'manual', signal })
      await response.body?.cancel().catch(() => {})
      if (response.status < 500) return { ok: true, detail: `${url} answered ${response.status}` }
      last = `answered ${response.status}`
    } catch (err) {
      if (opts.signal?.aborted) throw cancelled()
      last = (err as Error).message
    }
    if (now() >= deadlineMs) break
    await sleep(opts.intervalMs ?? 2_000, opts.signal)
  } while (now() < deadlineMs)
  return { ok: false, detail: `${url}: ${last}` }
}

function cancelled(): Error {
  return new Error('health gate cancelled')
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
