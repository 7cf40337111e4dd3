// setupFiles of the e2e and gateway tiers: the file waits here until the bundle of src/ that
// e2e-bundle.ts builds in the background is there (at once when it was reused), and fails with
// ncc's output when that build failed, before any of its tests runs the action.
import * as fs from 'node:fs'
import { failedMarker } from './e2e-bundle.ts'

const WAIT_MS = 600_000

async function waitForBundle(entry: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!fs.existsSync(entry)) {
    const failed = failedMarker(entry)
    if (fs.existsSync(failed)) throw new Error(`e2e bundle: ${fs.readFileSync(failed, 'utf8')}`)
    if (Date.now() > deadline) throw new Error(`e2e bundle: ${entry} did not appear within ${WAIT_MS / 1000} s`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const entry = process.env.FLY_DEPLOY_ACTION_ENTRY
if (!entry) throw new Error('e2e bundle: FLY_DEPLOY_ACTION_ENTRY is not set (test/support/setup/e2e-bundle.ts sets it)')
await waitForBundle(entry)
