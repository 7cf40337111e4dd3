// The preview lifecycle (opened, synchronize, closed) on the REAL gateway: does the
// preview start, restart once on a push, and go with its volume when the pull request closes.
// The fake-gateway cases are in test/e2e/preview.test.ts; both share test/support/preview-e2e.ts.
import { beforeAll, describe, it } from 'vitest'
import { setupStandinRuntimes } from '../../scripts/standin-setup.ts'
import { DEFAULT_OPENCLAW_VERSION } from '../../standin/machines/install-runtimes.ts'
import { lifecycle, REAL_TIMEOUT, usePreviewGitHub } from '../support/preview-e2e.ts'
import { useWorlds } from '../support/world.ts'

useWorlds()
usePreviewGitHub()

describe('a preview through opened, synchronize and closed (real gateway)', () => {
  beforeAll(async () => {
    await setupStandinRuntimes([DEFAULT_OPENCLAW_VERSION], () => {})
  }, 600_000)

  it(
    'deploys, redeploys with one restart, destroys with its volume; one comment updated each time',
    () => lifecycle(`openclaw@${DEFAULT_OPENCLAW_VERSION}`),
    REAL_TIMEOUT,
  )
})
