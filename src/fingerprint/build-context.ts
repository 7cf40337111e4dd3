/**
 * What `fly deploy` would upload as the build context, as one digest: every file of the context
 * directory that the ignore file leaves in, by path, kind, exec bit and content. The rules are
 * flyctl's (internal/build/imgsrc/archive.go readDockerignore/parseDockerignore): the ignore file
 * is `[build] ignorefile`, else `<context>/.dockerignore`; without one only `fly.toml` is left out;
 * `.dockerignore` and the Dockerfile are always sent. Patterns are matched with
 * `@balena/dockerignore`, a port of Docker's own matcher (moby's patternmatcher: `**`, `!`
 * exceptions, a directory pattern covering what is under it), where gitignore matchers such as
 * `ignore` differ (anchoring, `**`).
 */
import { createHash } from 'node:crypto'
import { lstat, readFile, readdir, readlink } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import dockerignore from '@balena/dockerignore'

export interface ContextDigest {
  digest: string
  /** Files that went into the digest. */
  files: number
  /** `.git` is in the context: it changes with every checkout, so the fingerprint will too. */
  includesGit: boolean
}

interface Matcher {
  ignores(path: string): boolean
  add(patterns: string | string[]): Matcher
}

const newMatcher = ((dockerignore as unknown as { default?: unknown }).default ??
  dockerignore) as unknown as () => Matcher

/** flyctl's exclusions for a context: the ignore file's patterns plus its own exceptions. */
function contextMatcher(patterns: string | undefined, dockerfileRel: string | undefined): Matcher {
  if (patterns === undefined) return newMatcher().add('fly.toml')
  return newMatcher()
    .add(patterns)
    .add(['!.dockerignore', dockerfileRel ? `!${dockerfileRel}` : '![Dd]ockerfile'])
}

export async function hashBuildContext(o: {
  contextDir: string
  dockerfile: string
  ignorefile?: string
}): Promise<ContextDigest> {
  const ignoreText = await readFile(o.ignorefile ?? join(o.contextDir, '.dockerignore'), 'utf8').catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    },
  )
  const rel = relative(o.contextDir, o.dockerfile)
  const dockerfileRel = rel.startsWith('..') ? undefined : rel.split(sep).join('/')
  const m = contextMatcher(ignoreText, dockerfileRel)
  // An ignored folder is walked only when an exception (`!dir/keep`) could bring a file under it back.
  const exceptions = ignoreText !== undefined && /^\s*!/m.test(ignoreText)
  const entries: string[] = []
  let includesGit = false
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort()
    for (const name of names) {
      const full = join(dir, name)
      const path = relative(o.contextDir, full).split(sep).join('/')
      const stat = await lstat(full)
      if (stat.isDirectory()) {
        if (!exceptions && m.ignores(path) && !dockerfileRel?.startsWith(`${path}/`)) continue
        await walk(full)
        continue
      }
      if (m.ignores(path)) continue
      if (path.startsWith('.git/')) includesGit = true
      const exec = stat.mode & 0o111 ? 'x' : '-'
      if (stat.isSymbolicLink()) entries.push(`${path}\0link\0${await readlink(full)}`)
      else if (stat.isFile())
        entries.push(
          `${path}\0file${exec}\0${createHash('sha256')
            .update(await readFile(full))
            .digest('hex')}`,
        )
    }
  }
  await walk(o.contextDir)
  return { digest: createHash('sha256').update(entries.join('\n')).digest('hex'), files: entries.length, includesGit }
}
