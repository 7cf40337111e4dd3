/**
 * Split a string into argv the way a POSIX shell splits words, without running one: quotes and
 * backslashes group and escape, nothing is expanded. Unquoted shell syntax (`;`, `|`, `&`, `>`,
 * `<`, `$(`, backticks) is refused, because without a shell it would reach flyctl literally,
 * which is never what someone writing it meant.
 */
export class ShellWordsError extends Error {}

const OPERATOR = /[;&|<>`]/

export interface SplitOptions {
  /** Shell operators are ordinary characters (a fly.toml command: flyctl runs no shell either). */
  literalOperators?: boolean
  /** An unterminated quote runs to the end instead of failing (describing a file, not refusing it). */
  lenient?: boolean
}

export function splitShellWords(text: string, options: SplitOptions = {}): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  const fail = (what: string): never => {
    throw new ShellWordsError(`${what} at character ${i + 1}`)
  }
  while (i < text.length) {
    const ch = text[i] as string
    if (ch === "'") {
      let end = text.indexOf("'", i + 1)
      if (end < 0) {
        if (!options.lenient) fail('unterminated single quote')
        end = text.length
      }
      word += text.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (ch === '"') {
      i++
      inWord = true
      for (;;) {
        if (i >= text.length) {
          if (!options.lenient) fail('unterminated double quote')
          break
        }
        const c = text[i] as string
        if (c === '"') break
        if (c === '\\' && i + 1 < text.length && '\\"$`\n'.includes(text[i + 1] as string)) {
          if (text[i + 1] !== '\n') word += text[i + 1]
          i += 2
          continue
        }
        if (!options.literalOperators && c === '$' && text[i + 1] === '(')
          fail('command substitution "$(" inside double quotes')
        if (!options.literalOperators && c === '`') fail('command substitution "`" inside double quotes')
        word += c
        i++
      }
      i++
    } else if (ch === '\\') {
      if (i + 1 >= text.length) {
        if (!options.lenient) fail('trailing backslash')
        break
      }
      if (text[i + 1] !== '\n') {
        word += text[i + 1]
        inWord = true
      }
      i += 2
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
    } else {
      const operator = ch === '$' && text[i + 1] === '(' ? '$(' : OPERATOR.test(ch) ? ch : undefined
      if (operator && !options.literalOperators)
        fail(`unquoted shell operator "${operator}" (this is not run through a shell; quote it to pass it literally)`)
      word += ch
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}
