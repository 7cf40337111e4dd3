import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'

/**
 * The one way this action prints a plain log line. The runner reads every line of a step's output
 * as a possible workflow command (actions/runner src/Runner.Worker/ActionCommandManager.cs
 * TryProcessCommand, ActionCommand.TryParseV2 and TryParse): `::name props::data` after leading
 * white space, and the older `##[name props]data` anywhere in a line; lines end at LF, CR or CRLF.
 * Much of what the action prints is others' text: flyctl's output (with a remote build's `RUN`
 * lines), the machines' log lines, flyctl's and GitHub's error text. Such a line must never run.
 *
 * A line that could not be parsed as a command at all (no `::`, no `##[`) is printed as it is, so
 * the cost is nothing for nearly every line. Any other text is printed inside a
 * `::stop-commands::<token>` ... `::<token>::` block with a fresh random token: while stopped, the
 * runner acts on nothing but the exact token, which no one else can know, so an injected
 * `::stop-commands::x` inside the block is ignored too and the action's own later annotations,
 * masks and outputs still take effect.
 *
 * Annotations (`core.error`, `core.warning`), masks and groups stay with @actions/core: it escapes
 * their data (`%`, CR, LF) onto one line, so text inside them cannot start a command.
 */
export function info(text: string): void {
  core.info(guarded(text))
}

/** Whether the runner could read any line of `text` as a workflow command. */
export function couldBeCommand(text: string): boolean {
  return text.includes('::') || text.includes('##[')
}

/** `text` as it should be printed (core.info adds the last newline): inside a stop-commands block when needed. */
export function guarded(text: string, token: () => string = freshToken): string {
  if (!couldBeCommand(text)) return text
  const t = token()
  return `::stop-commands::${t}\n${text}\n::${t}::`
}

/** 128 random bits as hex: a command name the runner accepts, and one nobody can guess. */
function freshToken(): string {
  return randomBytes(16).toString('hex')
}
