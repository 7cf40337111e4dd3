/**
 * The stage runner: the bookkeeping of a run, so that main.ts reads as the list of stages. It times
 * each stage and records how it ended, checks for job cancellation between stages, applies what a
 * stage returns to the run record (each stage says how, in its definition), and at the end writes
 * the outputs and the summary, whose "changed on Fly" is the flyctl runner's change journal.
 */
import * as core from '@actions/core'
import { ChangeJournal } from './change-journal.js'
import type { Redactor } from '../shared/redact.js'
import { errorText, firstLine, writeReport, type RunRecord } from './report.js'

/** One stage of a run (docs/CONTRACT.md, "Stages"). */
export interface Stage<T> {
  name: string
  /** Why the stage does not run this time (a public deployment has nothing to harden); undefined: it runs. */
  skip?: string
  run(): Promise<T>
  /** The stage's line in the summary's stage table. */
  note?(result: T): string | undefined
  /** What the result adds to the run record (outputs, summary), applied also in a dry run. */
  record?(result: T, record: RunRecord): void
  /** A result that fails the step (an unhealthy release): the stage is recorded first, then this is thrown. */
  failure?(result: T): string | undefined
}

export class StageRunner {
  readonly journal = new ChangeJournal()

  constructor(
    readonly record: RunRecord,
    private readonly signal: AbortSignal,
  ) {}

  /** Run one stage: cancellation is checked first; time, status and the record are kept also when it throws. */
  async run<T>(stage: Stage<T>): Promise<T | undefined> {
    this.signal.throwIfAborted()
    if (stage.skip !== undefined) {
      this.record.stages.push({ name: stage.name, ms: 0, status: 'skipped', note: stage.skip })
      return undefined
    }
    const started = performance.now()
    const ms = (): number => Math.round(performance.now() - started)
    let result: T
    try {
      result = await stage.run()
    } catch (err) {
      this.record.stages.push({ name: stage.name, ms: ms(), status: 'failed', note: firstLine(errorText(err)) })
      throw err
    }
    stage.record?.(result, this.record)
    const failure = stage.failure?.(result)
    const status = failure !== undefined ? 'failed' : this.record.dryRunPlan ? 'planned' : 'ok'
    this.record.stages.push({ name: stage.name, ms: ms(), status, note: stage.note?.(result) })
    if (failure !== undefined) throw new Error(failure)
    return result
  }

  /** Like run, for a stage that never skips: its result is always there. */
  async must<T>(stage: Stage<T>): Promise<T> {
    if (stage.skip !== undefined) throw new Error(`the ${stage.name} stage cannot be skipped (${stage.skip})`)
    return (await this.run(stage)) as T
  }

  /** The end of every run, failed or cancelled ones included: the journal into the record, then outputs and summary. */
  async finish(redactor: Redactor, error?: string): Promise<void> {
    if (error !== undefined) this.record.error = error
    this.record.changed = this.journal.lines()
    await writeReport(this.record, (text) => redactor.redact(text))
    if (error !== undefined) core.setFailed(error)
  }
}
