import * as core from '@actions/core'

const MASK = '***'

/**
 * The one place secrets are registered and scrubbed. Every value is masked with the runner
 * (core.setSecret) the moment it is added, and every text we show (errors, flyctl output,
 * log excerpts, the summary) passes through redact() as a second line of defence, since the
 * runner's masking only covers what reaches its own log.
 */
export class Redactor {
  private readonly needles = new Set<string>()

  add(value: string | undefined): void {
    if (!value) return
    for (const form of encodedForms(value)) {
      // Very short or blank values would mask half the log (every run of spaces); the runner skips them too.
      if (form.trim().length < 3 || this.needles.has(form)) continue
      this.needles.add(form)
      core.setSecret(form)
    }
  }

  redact(text: string): string {
    if (!text || this.needles.size === 0) return text
    let out = text
    // Longest first, so a secret that contains another is replaced whole.
    for (const needle of [...this.needles].sort((a, b) => b.length - a.length)) {
      out = out.split(needle).join(MASK)
    }
    return out
  }

  get size(): number {
    return this.needles.size
  }
}

/** The value itself, each line of a multi-line value, and the encodings it may travel in. */
function encodedForms(value: string): string[] {
  const forms = [value, ...value.split(/\r?\n/).map((line) => line.trim())]
  forms.push(Buffer.from(value, 'utf8').toString('base64'))
  forms.push(encodeURIComponent(value))
  return forms.filter((f) => f.length > 0)
}

/**
 * A URL as it may be shown: user and password (everything up to the last `@` of the authority)
 * replaced by `***`, also when the text is no valid URL, so a typo never prints a password.
 */
export function hideUrlCredentials(text: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?([^/?#]*)@/i.exec(text)
  return m ? `${m[1] ?? ''}${MASK}@${text.slice(m[0].length)}` : text
}
