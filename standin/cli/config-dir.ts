// flyctl's own config folder, as flyctl picks and prepares it before every command:
//   helpers/config.go GetConfigDirectory: `FLY_CONFIG_DIR` when set (even empty), else
//     `os.UserHomeDir()` + `.fly` (UserHomeDir fails when $HOME is unset or empty on Unix);
//   internal/command/command.go commonPreparers: preparers.DetermineConfigDir, then
//     ensureConfigDirExists (MkdirAll 0700; a file there is an error) and ensureConfigDirPerms
//     (os.CreateTemp(dir, "perms.*"), closed and removed).
// The stand-in keeps nothing else there (its platform lives under FLYCTL_STANDIN_STATE), but it
// makes the folder exactly when flyctl would, so tests can see which folder each call used.
import { fs } from '../platform/builtins.ts'
import path from 'node:path'
import { FlyError } from '../platform/state.ts'

/**
 * The folder flyctl would use, or undefined where flyctl would fail for want of a HOME: the
 * stand-in then goes on without one (tests run it with a bare environment; nothing it does needs
 * the folder).
 */
export function configDirectory(env: NodeJS.ProcessEnv): string | undefined {
  if (env.FLY_CONFIG_DIR !== undefined) return env.FLY_CONFIG_DIR
  return env.HOME ? path.join(env.HOME, '.fly') : undefined
}

/** The preparers' work; returns the folder. Errors carry flyctl's wording (command.go). */
export function prepareConfigDir(env: NodeJS.ProcessEnv): string | undefined {
  const dir = configDirectory(env)
  if (dir === undefined) return undefined
  let stat: import('node:fs').Stats | undefined
  try {
    stat = fs.statSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new FlyError(`failed stat-ing config directory: ${(error as Error).message}`)
  }
  if (stat && !stat.isDirectory())
    throw new FlyError(`the path to the config directory (${dir}) is occupied by not a directory`)
  if (!stat) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    } catch (error) {
      throw new FlyError(`failed creating config directory: ${(error as Error).message}`)
    }
  }
  const probe = path.join(dir, `perms.${process.pid}${Math.random().toString().slice(2, 11)}`)
  try {
    fs.writeFileSync(probe, '', { flag: 'wx' })
    fs.rmSync(probe)
  } catch (error) {
    throw new FlyError(`failed ensuring config directory perms: ${(error as Error).message}`)
  }
  return dir
}
