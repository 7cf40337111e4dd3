// setupFiles of the unit tier (vitest.config.ts): the unit tier is in-process only, so any attempt
// to start a process (the flyctl stand-in, dist/index.js, a machine, a shell) fails the test that
// made it, naming the tier rule. A file that needs a process belongs in the e2e tier's list.
import childProcess from 'node:child_process'
import { syncBuiltinESMExports } from 'node:module'

const STARTERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const

for (const name of STARTERS) {
  ;(childProcess as unknown as Record<string, unknown>)[name] = (file: unknown) => {
    throw new Error(
      `child_process.${name}(${JSON.stringify(String(file))}) in the unit tier: unit tests run in-process only. ` +
        'Move the test to a file under test/e2e/.',
    )
  }
}
// Named imports (`import { spawn } from 'node:child_process'`) see the replacements too.
syncBuiltinESMExports()
