// Process trees read from /proc: a machine's processes are everything descended from the one
// the supervisor spawned (unshare in namespace mode), found by parent pid.
import { fs } from '../platform/builtins.ts'

export interface ProcessEntry {
  pid: number
  ppid: number
}

function readStat(pid: number): { ppid: number; comm: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm is in parentheses and may itself contain spaces or parentheses.
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const fields = stat.slice(close + 2).split(' ')
    return { ppid: Number(fields[1]), comm }
  } catch {
    return undefined
  }
}

export function allProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = readStat(Number(name))
    if (stat) entries.push({ pid: Number(name), ppid: stat.ppid })
  }
  return entries
}

// rootPid first, then its descendants breadth-first; empty when rootPid is gone. Children come from
// /proc/<pid>/task/<tid>/children (one small read per thread of each process in the tree), not from a
// scan of every process on the host: a supervisor walks its tree five times a second, and with dozens
// of machines up a full /proc scan each time cost more CPU than the machines themselves.
export function listTree(rootPid: number): ProcessEntry[] {
  const root = readStat(rootPid)
  if (!root) return []
  if (!CHILDREN_FILES) return listTreeByScan(rootPid)
  const tree: ProcessEntry[] = [{ pid: rootPid, ppid: root.ppid }]
  for (let i = 0; i < tree.length; i += 1) {
    const parent = tree[i]!.pid
    for (const pid of childrenOf(parent)) tree.push({ pid, ppid: parent })
  }
  return tree
}

/** Whether this kernel has the children files (CONFIG_PROC_CHILDREN); else listTree scans /proc. */
const CHILDREN_FILES = fs.existsSync(`/proc/${process.pid}/task/${process.pid}/children`)

function childrenOf(pid: number): number[] {
  let threads: string[]
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  const children: number[] = []
  for (const tid of threads) {
    try {
      for (const word of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        if (word) children.push(Number(word))
      }
    } catch {
      // the thread ended meanwhile
    }
  }
  return children
}

function listTreeByScan(rootPid: number): ProcessEntry[] {
  const all = allProcesses()
  const root = all.find((p) => p.pid === rootPid)
  if (!root) return []
  const children = new Map<number, ProcessEntry[]>()
  for (const entry of all) {
    const list = children.get(entry.ppid) ?? []
    list.push(entry)
    children.set(entry.ppid, list)
  }
  const tree: ProcessEntry[] = [root]
  for (let i = 0; i < tree.length; i += 1) tree.push(...(children.get(tree[i]!.pid) ?? []))
  return tree
}

export function signalTree(rootPid: number, signal: NodeJS.Signals): number[] {
  const pids = listTree(rootPid).map((p) => p.pid)
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // exited meanwhile
    }
  }
  return pids
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether the process has exited and only waits for its parent to reap it. */
export function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}

/**
 * Whether the process still runs: alive and not a zombie. A killed child of this process stays a
 * zombie until the event loop reaps it, so "nothing left running" is asked with this, not isAlive.
 */
export function isRunning(pid: number): boolean {
  return isAlive(pid) && !isZombie(pid)
}

export function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

export interface MemoryUsage {
  totalBytes: number
  largest?: { pid: number; rssBytes: number; vmKb: number }
}

const PAGE_BYTES = 4096

// Called five times a second for every running machine, so it reads one short file per process
// (statm); who the largest process is (guestProcess) is read only when the OOM killer needs it.
export function readRss(pids: number[]): MemoryUsage {
  const usage: MemoryUsage = { totalBytes: 0 }
  for (const pid of pids) {
    let statm: string
    try {
      statm = fs.readFileSync(`/proc/${pid}/statm`, 'utf8')
    } catch {
      continue
    }
    const [sizePages, residentPages] = statm.split(' ').map(Number)
    const rssBytes = (residentPages ?? 0) * PAGE_BYTES
    usage.totalBytes += rssBytes
    if (!usage.largest || rssBytes > usage.largest.rssBytes)
      usage.largest = { pid, rssBytes, vmKb: ((sizePages ?? 0) * PAGE_BYTES) / 1024 }
  }
  return usage
}

/** The pid a process has inside its machine, and its executable's name, as the kernel's OOM line names it. */
export function guestProcess(pid: number): { guestPid: number; comm: string } {
  let status = ''
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    // gone meanwhile: the pid as the host sees it
  }
  // NSpid lists the pid in each namespace, innermost last: the pid the guest sees.
  const nsPids = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [pid]
  // The kernel names the executable; Node renames its main thread ("MainThread").
  const executable = commandLine(pid)[0]
  const comm = executable ? executable.split('/').pop()! : (/^Name:\s+(.+)$/m.exec(status)?.[1] ?? 'node')
  return { guestPid: nsPids[nsPids.length - 1] ?? pid, comm }
}
