import * as core from '@actions/core'
import { describePlan, PINNED_FLYCTL_VERSION_FALLBACK, readPlan } from './inputs.js'
import { Redactor } from './redact.js'

/**
 * Runs the stages of SPEC.md in order. Any error ends the run in one setFailed with a message a
 * user can act on; secrets are scrubbed from it first.
 */
export async function run(): Promise<void> {
  const redactor = new Redactor()
  try {
    const plan = readPlan(redactor, PINNED_FLYCTL_VERSION_FALLBACK)
    core.startGroup('Plan')
    core.info(JSON.stringify(describePlan(plan), null, 2))
    core.endGroup()
    // The later stages (install, render, validate, ensure, secrets, deploy, overrides, harden,
    // health, report) are not built yet: stop here rather than pretend.
    core.setOutput('app-name', plan.app)
    core.warning('Only the inputs stage exists so far; nothing was installed or deployed.')
  } catch (err) {
    core.setFailed(redactor.redact(err instanceof Error ? err.message : String(err)))
  }
}
