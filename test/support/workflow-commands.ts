/**
 * What a GitHub runner does with a step's stdout: reads each line as a possible workflow command
 * and acts on it. Follows actions/runner src/Runner.Worker/ActionCommandManager.cs
 * (TryProcessCommand: `stop-commands` and its resume token, the commands it registers) and
 * ActionCommand.cs (TryParseV2: `::name k=v,k=v::data` after leading white space; TryParse: the
 * older `##[name k=v;k=v]data` anywhere in a line), and @actions/core's escaping of data and
 * properties. Lines end at LF, CR or CRLF (.NET StreamReader.ReadLine).
 *
 * Stricter than the runner in one way: `set-env` and `add-path` count as acted on, as they are
 * when a workflow sets ACTIONS_ALLOW_UNSECURE_COMMANDS.
 */
export interface Annotation {
  level: 'error' | 'warning' | 'notice'
  properties: Record<string, string>
  message: string
}

export interface RunnerView {
  /** Every command the runner acted on, in order (name and unescaped data). */
  acted: Array<{ name: string; data: string; properties: Record<string, string> }>
  outputs: Record<string, string>
  env: Record<string, string>
  paths: string[]
  masks: string[]
  annotations: Annotation[]
  /** Still stopped at the end: every later command of the job would be ignored. */
  stopped: boolean
  /** Groups opened minus groups closed (0 when the step's own groups all closed). */
  openGroups: number
}

const COMMANDS = new Set([
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'warning',
  'error',
  'notice',
  'debug',
  'group',
  'endgroup',
  'echo',
  'stop-commands',
])

interface Parsed {
  name: string
  properties: Record<string, string>
  data: string
}

// @actions/core command.ts escapeData / escapeProperty, undone as the runner's ActionCommand does.
const unescapeData = (s: string): string => s.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%')
const unescapeProperty = (s: string): string => unescapeData(s).replace(/%3A/gi, ':').replace(/%2C/gi, ',')

function properties(text: string, separator: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of text.split(separator)) {
    const eq = pair.indexOf('=')
    if (eq > 0) out[pair.slice(0, eq)] = unescapeProperty(pair.slice(eq + 1))
  }
  return out
}

/** `::name props::data`, after leading white space (.NET String.TrimStart: Unicode white space). */
function parseV2(line: string, registered: Set<string>): Parsed | undefined {
  const text = line.replace(/^[\s\u0085]+/u, '')
  if (!text.startsWith('::')) return undefined
  const end = text.indexOf('::', 2)
  if (end < 0) return undefined
  const info = text.slice(2, end)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!registered.has(name.toLowerCase())) return undefined
  return {
    name,
    properties: space < 0 ? {} : properties(info.slice(space + 1), ','),
    data: unescapeData(text.slice(end + 2)),
  }
}

/** `##[name props]data` anywhere in the line. */
function parseV1(line: string, registered: Set<string>): Parsed | undefined {
  const at = line.indexOf('##[')
  if (at < 0) return undefined
  const close = line.indexOf(']', at)
  if (close < 0) return undefined
  const info = line.slice(at + 3, close)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!registered.has(name.toLowerCase())) return undefined
  return {
    name,
    properties: space < 0 ? {} : properties(info.slice(space + 1), ';'),
    data: unescapeData(line.slice(close + 1)),
  }
}

export function interpretStdout(stdout: string): RunnerView {
  const view: RunnerView = {
    acted: [],
    outputs: {},
    env: {},
    paths: [],
    masks: [],
    annotations: [],
    stopped: false,
    openGroups: 0,
  }
  const registered = new Set(COMMANDS)
  let stopToken: string | undefined
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    const command = parseV2(line, registered) ?? parseV1(line, registered)
    if (!command) continue
    const name = command.name.toLowerCase()
    if (stopToken !== undefined) {
      if (name === stopToken.toLowerCase()) {
        registered.delete(stopToken.toLowerCase())
        stopToken = undefined
      }
      continue
    }
    if (name === 'stop-commands') {
      stopToken = command.data
      registered.add(stopToken.toLowerCase())
      continue
    }
    act(view, name, command)
  }
  view.stopped = stopToken !== undefined
  return view
}

function act(view: RunnerView, name: string, c: Parsed): void {
  view.acted.push({ name, data: c.data, properties: c.properties })
  if (name === 'set-output' && c.properties.name) view.outputs[c.properties.name] = c.data
  else if (name === 'set-env' && c.properties.name) view.env[c.properties.name] = c.data
  else if (name === 'add-path') view.paths.push(c.data)
  else if (name === 'add-mask' && c.data.trim()) view.masks.push(c.data)
  else if (name === 'error' || name === 'warning' || name === 'notice')
    view.annotations.push({ level: name, properties: c.properties, message: c.data })
  else if (name === 'group') view.openGroups++
  else if (name === 'endgroup') view.openGroups--
}

/** The step's error: its `::error::` lines (setFailed's, without properties), decoded as the runner decodes them. */
export function stepError(result: { stdout: string }): string {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => unescapeData(l.slice('::error::'.length)))
    .join('\n')
}

/** The text of every `::error` line, decoded the way the runner decodes a command's data. */
export function errorText(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .map((l) =>
      l
        .replace(/^::error[^:]*::/, '')
        .replaceAll('%0A', '\n')
        .replaceAll('%0D', '\r')
        .replaceAll('%25', '%'),
    )
    .join('\n')
}
