// globalSetup of the e2e tier (vitest.config.ts): bundle the current src/ with ncc, exactly as
// `npm run build` does but into a scratch folder, and point every run of the action in the tests
// at it through FLY_DEPLOY_ACTION_ENTRY (standin/runner/runner.ts actionEntry). The committed dist/ is
// never read or written here: a stale dist/ cannot make a test pass, and `.ci/run` can still prove
// afterwards that dist/ is the build of src/.
//
// The bundle is kept in node_modules/.cache/fly-deploy-e2e/<hash>/, the hash taken over every file
// the build reads from the repository (src/, tsconfig.json, package.json, package-lock.json) and
// the build command, so an unchanged tree reuses it and any change rebuilds. Set
// FLY_DEPLOY_ACTION_ENTRY yourself to test another bundle (e.g. `FLY_DEPLOY_ACTION_ENTRY=dist/index.js
// npm test` tests the committed one); then nothing is built.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..')
const CACHE = path.join(REPO_ROOT, 'node_modules', '.cache', 'fly-deploy-e2e')
const INPUTS = ['src', 'tsconfig.json', 'package.json', 'package-lock.json']

/** `npm run build`'s ncc arguments with `-o dist` replaced by `-o <out>`. */
export function buildArgs(out: string): string[] {
  const script =
    (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts.build ?? ''
  const words = script.trim().split(/\s+/)
  const o = words.indexOf('-o')
  if (words[0] !== 'ncc' || words[1] !== 'build' || o < 0 || words[o + 1] !== 'dist') {
    throw new Error(`e2e bundle: expected the build script to be "ncc build ... -o dist ...", it is "${script}"`)
  }
  words[o + 1] = out
  return words.slice(1)
}

function inputHash(): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(buildArgs('OUT')))
    .update('\0')
  const files: string[] = []
  for (const entry of INPUTS) {
    const full = path.join(REPO_ROOT, entry)
    if (fs.statSync(full).isDirectory()) {
      for (const e of fs.readdirSync(full, { recursive: true, withFileTypes: true }))
        if (e.isFile()) files.push(path.join(e.parentPath, e.name))
    } else {
      files.push(full)
    }
  }
  for (const file of files.map((f) => path.relative(REPO_ROOT, f)).sort()) {
    hash
      .update(file)
      .update('\0')
      .update(fs.readFileSync(path.join(REPO_ROOT, file)))
      .update('\0')
  }
  return hash.digest('hex').slice(0, 20)
}

/** Set to the entry this setup chose, to tell it from one the user set. */
const OURS = 'FLY_DEPLOY_E2E_BUNDLE_BUILT_HERE'

/** Where a failed background build leaves its output, for the files waiting on the bundle. */
export const failedMarker = (entry: string): string => `${path.dirname(entry)}.failed`

export default function setup(): (() => void) | undefined {
  // Both process tiers list this setup, and one vitest run may run both: the second finds the
  // entry the first set (and may still be building), which is not the user's choice.
  if (process.env.FLY_DEPLOY_ACTION_ENTRY && process.env.FLY_DEPLOY_ACTION_ENTRY === process.env[OURS]) return undefined
  if (process.env.FLY_DEPLOY_ACTION_ENTRY) {
    const entry = path.resolve(REPO_ROOT, process.env.FLY_DEPLOY_ACTION_ENTRY)
    if (!fs.existsSync(entry))
      throw new Error(`FLY_DEPLOY_ACTION_ENTRY=${process.env.FLY_DEPLOY_ACTION_ENTRY}: ${entry} does not exist`)
    console.log(
      `e2e: the action under test is ${path.relative(REPO_ROOT, entry)} (FLY_DEPLOY_ACTION_ENTRY, not rebuilt)`,
    )
    return undefined
  }
  const hash = inputHash()
  const dir = path.join(CACHE, hash)
  const entry = path.join(dir, 'index.js')
  process.env.FLY_DEPLOY_ACTION_ENTRY = entry
  process.env[OURS] = entry
  fs.rmSync(failedMarker(entry), { force: true })
  if (fs.existsSync(entry)) {
    console.log(
      `e2e: the action under test is the bundle of the current src/ (${path.relative(REPO_ROOT, dir)}, reused)`,
    )
    return undefined
  }
  return buildInBackground(hash, dir)
}

/**
 * Builds the bundle while the unit tier runs (every project's globalSetup runs before any test, so
 * a build here would hold the unit tier up by its 15 to 45 s); each e2e or gateway file waits for it
 * in test/support/setup/await-bundle.ts. Returns the teardown, which stops a build still running.
 */
function buildInBackground(hash: string, dir: string): () => void {
  const started = Date.now()
  const scratch = `${dir}.tmp-${process.pid}`
  fs.rmSync(scratch, { recursive: true, force: true })
  fs.mkdirSync(CACHE, { recursive: true })
  // From the repository root, as `npm run build` runs: ncc's module ids follow the resolved
  // paths of src/ and node_modules, so the bundle behaves like dist/index.js.
  const ncc = path.join(REPO_ROOT, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
  const child = spawn(process.execPath, [ncc, ...buildArgs(scratch), '--quiet'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const fail = (why: string) => {
    fs.rmSync(scratch, { recursive: true, force: true })
    fs.writeFileSync(failedMarker(path.join(dir, 'index.js')), `ncc build of src/index.ts failed (${why}):\n${output}`)
  }
  child.once('error', (error) => fail(error.message))
  let stopping = false
  child.once('close', (code, signal) => {
    // Stopped by our own teardown: no marker, which another run building the same tree would read.
    if (stopping) return fs.rmSync(scratch, { recursive: true, force: true })
    if (code !== 0) return fail(signal ? `killed by ${signal}` : `exit ${code}`)
    // Another run of the suite in this worktree may have finished the same bundle first.
    try {
      fs.renameSync(scratch, dir)
    } catch {
      fs.rmSync(scratch, { recursive: true, force: true })
    }
    // Older bundles are of older trees: keep only this one (and any another run is writing).
    for (const name of fs.readdirSync(CACHE)) {
      if (name !== hash && !name.includes('.tmp-')) fs.rmSync(path.join(CACHE, name), { recursive: true, force: true })
    }
    console.log(
      `e2e: bundled the current src/ into ${path.relative(REPO_ROOT, dir)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    )
  })
  return () => {
    if (child.exitCode === null && child.signalCode === null) {
      stopping = true
      child.kill()
    }
  }
}
