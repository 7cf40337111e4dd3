/**
 * The change journal: what this run changed on Fly, recorded by the one flyctl runner the moment
 * flyctl confirms a mutating call (exit 0), and also when a mutating call was in flight as the job
 * was cancelled or interrupted (Fly may already hold its effect: a deploy creates the release and
 * updates machines before it waits). The summary's "changed on Fly" is this journal and nothing else.
 */

export type ChangeState = 'done' | 'in-flight' | 'interrupted' | 'failed'

export interface Change {
  /** What changed, in words a user reads (`created app x`, `deployed release v3`). */
  what: string
  state: ChangeState
}

export class ChangeJournal {
  readonly entries: Change[] = []

  /** Record one change; returns the entry so the caller may add what it learns later (the release). */
  record(what: string, state: ChangeState = 'done'): Change {
    const change = { what, state }
    this.entries.push(change)
    return change
  }

  /** The entries as summary lines. */
  lines(): string[] {
    return this.entries.map((c) => `${c.what}${STATE_NOTE[c.state]}`)
  }
}

const STATE_NOTE: Record<ChangeState, string> = {
  done: '',
  'in-flight': ' (in flight when the job was cancelled: Fly may hold part of it)',
  interrupted: ' (interrupted by the health gate: Fly holds the release, marked interrupted)',
  failed: ' (failed: Fly may hold part of it, see the step log)',
}

/** Mutating flyctl commands and how each reads in the journal; every other command only reads. */
const MUTATING: Array<{ match: (a: readonly string[]) => boolean; describe: (a: readonly string[]) => string }> = [
  { match: (a) => is(a, 'apps', 'create'), describe: (a) => `created app ${a[2]}` },
  { match: (a) => is(a, 'apps', 'destroy'), describe: (a) => `destroyed app ${a[2]}` },
  { match: (a) => is(a, 'volumes', 'create'), describe: (a) => `created volume ${a[2]}` },
  {
    match: (a) => a[0] === 'volumes' && a[1] === 'snapshots' && a[2] === 'create',
    describe: (a) => `took a snapshot of volume ${a[3]}`,
  },
  { match: (a) => isMachine(a, 'clone'), describe: (a) => `cloned machine ${a[2]}` },
  { match: (a) => is(a, 'secrets', 'import'), describe: () => 'staged secrets' },
  { match: (a) => is(a, 'secrets', 'set'), describe: () => 'set secrets' },
  {
    match: (a) => is(a, 'secrets', 'unset'),
    describe: (a) => `${a.includes('--stage') ? 'staged removal of' : 'unset'} secrets ${positional(a, 2).join(', ')}`,
  },
  { match: (a) => is(a, 'secrets', 'deploy'), describe: () => 'deployed staged secrets' },
  {
    match: (a) => a[0] === 'deploy',
    describe: (a) =>
      a.includes('--image') ? `deployed image ${a[a.indexOf('--image') + 1]}` : 'deployed a new release',
  },
  { match: (a) => isMachine(a, 'start'), describe: (a) => `started machine ${a[2]}` },
  { match: (a) => isMachine(a, 'stop'), describe: (a) => `stopped machine ${a[2]}` },
  { match: (a) => isMachine(a, 'restart'), describe: (a) => `restarted machine ${a[2]}` },
  { match: (a) => isMachine(a, 'update'), describe: (a) => `updated machine ${a[2]}` },
  { match: (a) => isMachine(a, 'destroy'), describe: (a) => `destroyed machine ${a[2]}` },
  { match: (a) => is(a, 'ips', 'release'), describe: (a) => `released IP ${a[2]}` },
  {
    match: (a) => a[0] === 'ips' && /^allocate/.test(a[1] ?? ''),
    describe: (a) =>
      `allocated ${a.includes('--private') ? 'a private' : 'an'} ${a[1]?.replace('allocate-', '')} address`,
  },
  {
    match: (a) => is(a, 'ssh', 'console'),
    describe: (a) => `ran a command over ssh on machine ${a[a.indexOf('--machine') + 1] ?? '?'}`,
  },
]

function is(args: readonly string[], group: string, verb: string): boolean {
  return args[0] === group && args[1] === verb
}

function isMachine(args: readonly string[], verb: string): boolean {
  return ['machine', 'machines', 'm'].includes(args[0] ?? '') && args[1] === verb
}

/** Positional words after `from` (flags and their values left out). */
function positional(args: readonly string[], from: number): string[] {
  const words: string[] = []
  for (let i = from; i < args.length; i++) {
    const word = args[i] as string
    if (word === '--app' || word === '-a') i++
    else if (!word.startsWith('-')) words.push(word)
  }
  return words
}

/** How a flyctl call reads in the journal when it changes Fly; undefined for a reading call. */
export function describeChange(args: readonly string[]): string | undefined {
  return MUTATING.find((m) => m.match(args))?.describe(args)
}
