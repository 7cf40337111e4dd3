// The action's stdout as a GitHub runner's log view shows it: workflow commands are read, not
// printed. Follows "Workflow commands for GitHub Actions" (docs.github.com/actions/reference/
// workflow-commands-for-github-actions) and @actions/core's command.ts escaping:
// - `::add-mask::v` registers v, and every later line shows `***` in its place;
// - `::debug::` lines show only with step debug logging (ACTIONS_STEP_DEBUG), so not here;
// - `::group::T` / `::endgroup::` become a heading and an indented block (the runner folds it);
// - `::error|warning|notice <props>::m` become annotations, shown as `Error: m`.

export interface RunnerLogState {
  masks: string[]
  inGroup: boolean
}

export const newRunnerLogState = (): RunnerLogState => ({ masks: [], inGroup: false })

const COMMAND = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/
const ANNOTATIONS: Record<string, string> = { error: 'Error', warning: 'Warning', notice: 'Notice' }
/** Commands the runner acts on without printing anything (set-output and save-state are legacy). */
const SILENT = new Set([
  'debug',
  'set-output',
  'save-state',
  'add-matcher',
  'remove-matcher',
  'echo',
  'add-path',
  'set-env',
])

/** @actions/core escapeData: `%` -> %25, CR -> %0D, LF -> %0A. */
export function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/** Every registered secret replaced by `***`, longest first so a secret's prefix never shows. */
export function maskLine(line: string, masks: readonly string[]): string {
  let out = line
  for (const secret of [...masks].sort((a, b) => b.length - a.length)) if (secret) out = out.split(secret).join('***')
  return out
}

/** One line of the action's stdout, as the runner shows it: the text, or undefined for none. */
export function renderRunnerLine(line: string, state: RunnerLogState): string | undefined {
  const command = COMMAND.exec(line)
  const indent = state.inGroup ? '  ' : ''
  if (!command) return indent + maskLine(line, state.masks)
  const [, name = '', , rawMessage = ''] = command
  const message = maskLine(unescapeData(rawMessage), state.masks)
  if (name === 'add-mask') {
    const secret = unescapeData(rawMessage)
    if (secret.trim()) state.masks.push(secret)
    return undefined
  }
  if (name === 'group') {
    state.inGroup = true
    return `\x1b[1m▾ ${message}\x1b[0m`
  }
  if (name === 'endgroup') {
    state.inGroup = false
    return undefined
  }
  if (ANNOTATIONS[name])
    return message
      .split('\n')
      .map((l, i) => (i === 0 ? `${indent}${ANNOTATIONS[name]}: ${l}` : `${indent}  ${l}`))
      .join('\n')
  if (SILENT.has(name)) return undefined
  return indent + maskLine(line, state.masks)
}

/** A chunk-fed renderer: whole lines are rendered and written; `flush` renders the rest. */
export function createRunnerLog(write: (text: string) => void, state = newRunnerLogState()) {
  let pending = ''
  const emit = (line: string): void => {
    const shown = renderRunnerLine(line, state)
    if (shown !== undefined) write(`${shown}\n`)
  }
  return {
    state,
    push(chunk: string): void {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) emit(line.replace(/\r$/, ''))
    },
    flush(): void {
      if (pending) emit(pending)
      pending = ''
    },
  }
}
