import { splitShellWords } from '../shared/shell-words.js'

/**
 * The argv that actually runs the gateway, read through shell wrappers: in
 * `sh -c 'cd /app && exec node dist/index.js gateway --port 3000 --bind lan'` the port and bind
 * are those of the exec'd command, not of the outer words (flyctl passes `[processes]` to the
 * machine as argv, internal/appconfig/processgroups.go; only a shell given `-c` reads the script).
 */

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'busybox'])
/** Words a shell treats as command separators, when they stand alone in the script. */
const SEPARATORS = new Set(['&&', '||', ';', '|', '&'])
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/

/** The script of `sh -c SCRIPT` (also `sh -ec`, `bash -lc`, `/bin/sh -c`), else undefined. */
export function shellScript(argv: readonly string[]): string | undefined {
  const base = (argv[0] ?? '').split('/').pop() ?? ''
  if (!SHELLS.has(base)) return undefined
  for (let i = base === 'busybox' ? 2 : 1; i < argv.length; i++) {
    const word = argv[i] as string
    if (!word.startsWith('-')) return undefined
    if (/^-[a-z]*c[a-z]*$/.test(word)) return argv[i + 1]
  }
  return undefined
}

/** Splits a script's words into simple commands at `&&`, `||`, `;`, `|`, `&` (also a trailing `;`). */
function simpleCommands(script: string): string[][] {
  const commands: string[][] = [[]]
  for (const word of splitShellWords(script, { literalOperators: true, lenient: true })) {
    const trailing = word.length > 1 && word.endsWith(';')
    const bare = trailing ? word.slice(0, -1) : word
    if (SEPARATORS.has(word)) commands.push([])
    else commands.at(-1)?.push(bare)
    if (trailing) commands.push([])
  }
  return commands.filter((c) => c.length > 0)
}

/** Drops `exec`, `env`, and leading `NAME=value` assignments from a simple command. */
function strip(argv: string[]): string[] {
  let i = 0
  while (i < argv.length && (argv[i] === 'exec' || argv[i] === 'env' || ASSIGNMENT.test(argv[i] as string))) i++
  return argv.slice(i)
}

/**
 * The gateway's own argv: `argv` itself, or, for a shell wrapper, the simple command of its
 * script that runs `gateway` (the `exec`'d one first, then the last), read through nested wrappers.
 */
export function gatewayArgv(argv: readonly string[], depth = 0): string[] {
  const script = shellScript(argv)
  if (script === undefined || depth > 3) return [...argv]
  const commands = simpleCommands(script)
  const runsGateway = commands.filter((c) => strip(c).includes('gateway') || shellScript(strip(c)) !== undefined)
  const chosen = runsGateway.find((c) => c[0] === 'exec') ?? runsGateway.at(-1)
  return chosen ? gatewayArgv(strip(chosen), depth + 1) : [...argv]
}
