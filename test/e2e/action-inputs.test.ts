import * as fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeRunnerDirs, runAction, type RunnerDirs } from '../../standin/runner/runner.ts'

/** dist/index.js as a process, the way a runner starts it, with bad and good inputs. */
let dirs: RunnerDirs
beforeAll(() => {
  dirs = makeRunnerDirs('action-inputs-')
})
afterAll(() => fs.rmSync(dirs.root, { recursive: true, force: true }))

const good = { app: 'my-openclaw', 'api-token': 'FlyV1 tok-0123456789' }

describe('dist/index.js refuses bad inputs before doing anything', () => {
  const bad: Array<[Record<string, string>, string]> = [
    [{ app: 'Bad_Name' }, 'app'],
    [{ port: 'abc' }, 'port'],
    [{ bind: 'public' }, 'bind'],
    [{ 'dry-run': 'yes' }, 'dry-run'],
    [{ memory: 'lots' }, 'memory'],
    [{ secrets: 'NOT A NAME=1' }, 'secrets'],
    [{ 'secrets-json': '[1]' }, 'secrets-json'],
    [{ config: 'missing/fly.toml' }, 'config'],
    [{ 'deploy-args': 'a && b' }, 'deploy-args'],
    [{ strategy: 'sideways' }, 'strategy'],
  ]
  for (const [inputs, name] of bad) {
    it(`names \`${name}\``, async () => {
      const result = await runAction({ inputs: { ...good, ...inputs }, dirs })
      expect(result.exitCode).toBe(1)
      expect(result.stdout).toMatch(new RegExp(`::error::Input \`${name}\``))
    })
  }
})
