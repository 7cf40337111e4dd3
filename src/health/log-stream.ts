/**
 * Fly's text log lines, parsed. `fly logs` prints each entry as
 *
 *   <RFC3339 time> <provider>[<machine id>] <region> [<level>]<message>
 *
 * (flyctl internal/render/logs.go, LogEntry with HideAllocID off: the time is `format.Time`, whole
 * seconds; provider and region may be wrapped in aurora colour codes; there is no space between
 * `[level]` and the message). The message is whatever the machine printed, often with its own ANSI
 * colours (the gateway colours its console when TERM is set: openclaw dist/subsystem-*.mjs,
 * getColorForConsole), so colour is stripped from the whole line before parsing.
 */

export interface LogLine {
  /** Milliseconds since the epoch; whole seconds in the text format. */
  timestampMs: number
  /** `app`, `runner`, `proxy`, ... */
  provider: string
  /** The machine id; empty for platform lines that name none. */
  machineId: string
  region: string
  level: string
  /** The machine's text, colour stripped, leading whitespace kept as printed. */
  message: string
  /** The whole line, colour stripped, for showing to the user. */
  text: string
}

// CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks), as chalk and aurora emit them.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u009b[0-?]*[ -/]*[@-~]/g

export function stripAnsi(text: string): string {
  return text.includes('\u001b') || text.includes('\u009b') ? text.replace(ANSI, '') : text
}

const LINE =
  /^(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d))\s+([A-Za-z][\w-]*)(?:\[([0-9a-zA-Z]+)\])?\s+(\S+)\s+\[(\w+)\](.*)$/

/** Parse one line of `fly logs`; undefined for anything else (banners, blank lines, flyctl's own notes). */
export function parseFlyLogLine(raw: string): LogLine | undefined {
  const text = stripAnsi(raw).replace(/\r$/, '')
  const match = LINE.exec(text)
  if (!match) return undefined
  const [, time, provider, machineId, region, level, message] = match
  const timestampMs = Date.parse(time!)
  if (Number.isNaN(timestampMs)) return undefined
  return {
    timestampMs,
    provider: provider!,
    machineId: machineId ?? '',
    region: region!,
    level: level!.toLowerCase(),
    message: message ?? '',
    text,
  }
}

/**
 * A resumed `fly logs` starts by polling the recent buffer (flyctl internal/command/logs/logs.go:
 * poll, then nats after two seconds), so lines already seen come again. This remembers the last
 * `capacity` lines exactly as printed and reports a repeat.
 */
export class LineDeduper {
  private readonly seen = new Set<string>()
  private readonly capacity: number

  constructor(capacity = 20_000) {
    this.capacity = capacity
  }

  /** True the first time a line is offered. */
  accept(raw: string): boolean {
    if (this.seen.has(raw)) return false
    this.seen.add(raw)
    if (this.seen.size > this.capacity) {
      // Sets iterate in insertion order: drop the oldest.
      const oldest = this.seen.values().next().value
      if (oldest !== undefined) this.seen.delete(oldest)
    }
    return true
  }
}
