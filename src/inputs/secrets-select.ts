/**
 * Which secret names are synced, and under which name (docs/CONTRACT.md, inputs `secrets-include` and
 * `secrets-prefix`). Pure. A name `<prefix><NAME>` is synced as `<NAME>` whatever
 * `secrets-include` says (the prefix is the opt-in: `PREVIEW_DISCORD_BOT_TOKEN` gives a preview
 * its own bot, `TEAM_A_OPENAI_API_KEY` gives one gateway of a fleet its own key), and it wins over
 * a plain `<NAME>`; a plain name from `secrets-json` must match `secrets-include`; an explicit
 * `secrets` line wins over `secrets-json` for the same name and kind.
 */

export type SecretSource = 'secrets' | 'secrets-json'

/** The name to sync `given` as: stripped of the prefix, else itself when `include` admits it, else undefined. */
export function syncedName(
  given: string,
  prefix: string,
  include: ((name: string) => boolean) | undefined,
): string | undefined {
  if (prefix && given.startsWith(prefix) && given.length > prefix.length) return given.slice(prefix.length)
  if (include && !include(given)) return undefined
  return given
}

/** The synced set being built: name to value, where each came from, and which came through the prefix. */
export class SecretSelection {
  readonly values = new Map<string, string>()
  readonly sources = new Map<string, SecretSource>()
  /** Synced name to the prefixed name it came from. */
  readonly prefixed = new Map<string, string>()
  private readonly rank = new Map<string, number>()

  /** Offer `given` (synced as `synced`); kept unless a stronger offer holds the name: prefixed over plain, then `secrets` over `secrets-json`. */
  offer(given: string, synced: string, value: string, source: SecretSource): void {
    const viaPrefix = given !== synced
    const rank = (viaPrefix ? 2 : 0) + (source === 'secrets' ? 1 : 0)
    if ((this.rank.get(synced) ?? -1) > rank) return
    this.rank.set(synced, rank)
    this.values.set(synced, value)
    this.sources.set(synced, source)
    if (viaPrefix) this.prefixed.set(synced, given)
    else this.prefixed.delete(synced)
  }

  /** Take every name that did not come through the prefix out of the set; returns those names. */
  dropPlain(): string[] {
    const plain = [...this.values.keys()].filter((name) => !this.prefixed.has(name))
    for (const name of plain) {
      this.values.delete(name)
      this.sources.delete(name)
      this.rank.delete(name)
    }
    return plain.sort()
  }
}
