/**
 * Stale gateway lock repair (the guide's "Gateway lock issues"): remove the lock files on the
 * machine over `fly ssh console`, then restart that machine once.
 *
 * The lock has lived in three places across gateway releases; only the two of releases before the
 * state-local lock tree are ever cleared:
 * - `<state-dir>/gateway.*.lock` (the guide);
 * - `/tmp/openclaw-<uid>/gateway.*.lock` (2026.1.25 - 2026.7).
 * The state-local tree `<state-dir>/tmp/openclaw-<uid>/` (2026.8.1 and later, gateway-release.ts
 * STATE_LOCAL_LOCK_RELEASE) is never touched: those releases reclaim a dead owner's lock at start,
 * and their guide says not to delete it while an owner may run. For them there is no repair (health/index.ts).
 * `fly ssh console -C` runs the command without a shell, so globs need `sh -c`.
 */
import { sleep } from '../shared/sleep.js'
import type { FlyctlRunner } from './gate.js'

// The state dir goes inside `sh -c '...'`: allow only characters that need no quoting there.
const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/

export function lockPatterns(stateDir: string): string[] {
  const dir = stateDir.replace(/\/+$/, '') || ''
  return [`${dir}/gateway.*.lock`, '/tmp/openclaw-*/gateway.*.lock']
}

/** The `-C` argument: a POSIX sh script that removes each existing lock file and names it. */
export function staleLockCommand(stateDir: string): string {
  if (!SAFE_PATH.test(stateDir) || stateDir.includes('..')) {
    throw new Error(
      `state-dir "${stateDir}" cannot be used in the lock repair command; use an absolute path of letters, digits, ".", "_", "-" and "/" (the guide uses /data)`,
    )
  }
  const patterns = lockPatterns(stateDir).join(' ')
  return `sh -c 'for f in ${patterns}; do if [ -e "$f" ]; then rm -f -- "$f" && echo "removed $f"; fi; done; true'`
}

export interface RepairOptions {
  flyctl: FlyctlRunner
  app: string
  machineId: string
  stateDir: string
  sshAttempts?: number
  retryDelayMs?: number
  log?: (message: string) => void
  signal?: AbortSignal
}

export interface RepairResult {
  /** Lock files the remote shell reported removing. */
  removed: string[]
  /** Runner clock just before the restart: the re-gate ignores earlier lines. */
  restartedAtMs: number
}

export async function repairStaleLock(o: RepairOptions): Promise<RepairResult> {
  const log = o.log ?? (() => {})
  const command = staleLockCommand(o.stateDir)
  const machineArgs = ['-a', o.app]

  const attempts = o.sshAttempts ?? 3
  let removed: string[] | undefined
  let lastError = ''
  for (let attempt = 1; attempt <= attempts && removed === undefined; attempt++) {
    await startIfStopped(o)
    const result = await o.flyctl.run(['ssh', 'console', ...machineArgs, '--machine', o.machineId, '-C', command], {
      allowFailure: true,
      signal: o.signal,
      timeoutMs: 120_000,
      retry: { safe: 'once', why: 'this loop repeats it (rm -f of the lock files is idempotent)' },
    })
    if (result.exitCode === 0) {
      removed = result.stdout
        .split(/\r?\n/)
        .map((l) => /^removed (.+)$/.exec(l.trim())?.[1])
        .filter((f): f is string => f !== undefined)
    } else {
      lastError = o.flyctl.redact(result.error || result.stderr.trim() || `exit ${result.exitCode}`)
      // The machine may be between two crash restarts; ssh needs it up.
      if (attempt < attempts) await sleep(o.retryDelayMs ?? 3_000, o.signal)
    }
  }
  if (removed === undefined) {
    throw new Error(
      `could not remove the gateway lock on machine ${o.machineId} over \`fly ssh console\`: ${lastError}`,
    )
  }
  log(
    removed.length > 0
      ? `health: removed ${removed.join(', ')} on ${o.machineId}`
      : `health: no lock file found on ${o.machineId}; restarting anyway`,
  )

  const restartedAtMs = Date.now()
  await o.flyctl.run(['machine', 'restart', o.machineId, ...machineArgs], {
    signal: o.signal,
    timeoutMs: 300_000,
    retry: {
      safe: 'once',
      why: 'a repeat would restart the machine twice; the gate that follows shows whether it came up',
    },
  })
  return { removed, restartedAtMs }
}

/**
 * Reads the machine's state afresh, not from the gate's last read: flyd's restart policy may have
 * given up on its crash loop since and left it stopped, and ssh needs a started VM. A stopped one
 * is started (`fly machine start`).
 */
async function startIfStopped(o: RepairOptions): Promise<void> {
  const status = await o.flyctl.run(['machine', 'status', o.machineId, '-a', o.app], {
    allowFailure: true,
    signal: o.signal,
    timeoutMs: 60_000,
    retry: { safe: 'reading' },
  })
  // flyctl internal/command/machine/status.go prints `State: <state>`.
  const state = /^State:\s*(\S+)/m.exec(status.stdout)?.[1]
  if (!state || !['stopped', 'suspended', 'failed', 'created'].includes(state)) return
  o.log?.(`health: machine ${o.machineId} is ${state}; starting it to reach it over ssh`)
  await o.flyctl.run(['machine', 'start', o.machineId, '-a', o.app], {
    allowFailure: true,
    signal: o.signal,
    timeoutMs: 120_000,
    retry: { safe: 'idempotent', why: 'starting a started machine changes nothing' },
  })
}
