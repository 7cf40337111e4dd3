import type { App, Machine } from '../fly/schemas.js'
import type { Plan, PullRequestRef } from '../inputs/plan.js'
import { globToRegExp } from '../inputs/parse-inputs.js'
import { CHANNEL_TOKEN_GLOBS, previewAppName } from '../inputs/preview-inputs.js'

/**
 * docs/CONTRACT.md, "Previews", the pure part: the preview's name and marker, the plan it deploys
 * with, whether an app may be destroyed, which apps cleanup-previews considers, and the pull
 * request comment. The edges (flyctl, the GitHub API) are in preview.ts.
 */

/** The `[env]` marker every preview machine carries: `<owner>/<repo>#<N>`. Nothing without it is ever destroyed. */
export const PREVIEW_MARKER_ENV = 'OPENCLAW_DEPLOY_PREVIEW'

export function previewMarker(repository: string, number: number): string {
  return `${repository}#${number}`
}

export interface PreviewTarget {
  /** `<app>-pr-<N>` */
  name: string
  marker: string
  /** The plan the deploy stages run with. */
  plan: Plan
  /** health-channels entries left out because no token of theirs was synced. */
  skippedChannels: string[]
  /** Channel-token names that a preview would share with production (synced without the prefix). */
  sharedChannelTokens: string[]
}

/** A channel's token names: `discord` has `DISCORD_*` (DISCORD_BOT_TOKEN), `slack` `SLACK_*`, ... */
function channelPrefix(channel: string): string {
  return `${channel.toUpperCase().replace(/-/g, '_')}_`
}

export function previewTarget(plan: Plan, pr: PullRequestRef): PreviewTarget {
  const name = previewAppName(plan.app, pr.number)
  const marker = previewMarker(pr.repository, pr.number)
  const synced = [...plan.secrets.keys()]
  const hasToken = (channel: string): boolean => synced.some((n) => n.startsWith(channelPrefix(channel)))
  const channelGlobs = CHANNEL_TOKEN_GLOBS.map(globToRegExp)
  const env = plan.env.filter(([k]) => k !== PREVIEW_MARKER_ENV)
  return {
    name,
    marker,
    plan: {
      ...plan,
      app: name,
      env: [...env, [PREVIEW_MARKER_ENV, marker]],
      healthChannels: plan.healthChannels.filter(hasToken),
      // A health-url of production would probe the wrong gateway; the preview's own is its fly.dev name.
      healthUrl: plan.healthUrl?.replace(`//${plan.app}.fly.dev`, `//${name}.fly.dev`),
    },
    skippedChannels: plan.healthChannels.filter((c) => !hasToken(c)),
    sharedChannelTokens: synced
      .filter((n) => channelGlobs.some((re) => re.test(n)) && !plan.secretsPrefixed.has(n))
      .sort(),
  }
}

export type DestroyDecision =
  { kind: 'gone' } | { kind: 'destroy'; machines: number } | { kind: 'refuse'; reason: string }

/**
 * Whether `name` may be destroyed as the preview `marker` names: only an app `<base>-pr-<N>`
 * (never the base app) whose every machine carries exactly that marker. `machines` undefined:
 * the app is gone already.
 */
export function decideDestroy(
  name: string,
  base: string,
  marker: string,
  machines: readonly Machine[] | undefined,
): DestroyDecision {
  if (name === base || !/-pr-\d+$/.test(name))
    return { kind: 'refuse', reason: `${name} is not a preview app name (<app>-pr-<N>); nothing was destroyed` }
  if (machines === undefined) return { kind: 'gone' }
  const live = machines.filter((m) => m.state !== 'destroyed' && m.state !== 'destroying')
  const fix = `check it with \`fly machines list -a ${name}\` and destroy it by hand (\`fly apps destroy ${name}\`) if it is yours`
  if (live.length === 0) {
    return {
      kind: 'refuse',
      reason: `the app ${name} has no machine carrying ${PREVIEW_MARKER_ENV} = "${marker}", so it cannot be shown to be this pull request's preview; nothing was destroyed; ${fix}`,
    }
  }
  for (const m of live) {
    const found = m.config.env?.[PREVIEW_MARKER_ENV]
    if (found !== marker) {
      const carries = found === undefined ? `no ${PREVIEW_MARKER_ENV}` : `${PREVIEW_MARKER_ENV} = "${found}"`
      return {
        kind: 'refuse',
        reason: `the app ${name} is not this pull request's preview: machine ${m.id} carries ${carries}, not "${marker}"; nothing was destroyed; ${fix}`,
      }
    }
  }
  return { kind: 'destroy', machines: live.length }
}

/** The apps `<base>-pr-<N>` among those listed, with N. */
export function previewCandidates(apps: readonly App[], base: string): Array<{ name: string; number: number }> {
  const pattern = new RegExp(`^${base.replace(/[-]/g, '\\-')}-pr-([1-9]\\d*)$`)
  return apps
    .map((a) => ({ name: a.Name, m: pattern.exec(a.Name) }))
    .filter((a): a is { name: string; m: RegExpExecArray } => a.m !== null)
    .map((a) => ({ name: a.name, number: Number(a.m[1]) }))
    .sort((a, b) => a.number - b.number)
}

// --- the pull request comment ---------------------------------------------------------------

/** Hidden marker the comment is found again by; one comment per preview app. */
export function commentMarker(previewApp: string): string {
  return `<!-- openclaw/fly-deploy preview: ${previewApp} -->`
}

export interface CommentState {
  app: string
  outcome: 'deployed' | 'failed' | 'destroyed' | 'gone'
  url?: string
  release?: number
  health?: string
  /** Why a deploy failed (already redacted). */
  error?: string
  sha?: string
  runUrl?: string
  skippedChannels?: string[]
}

const TITLES: Record<CommentState['outcome'], string> = {
  deployed: '✅ Preview gateway deployed',
  failed: '❌ Preview gateway deploy failed',
  destroyed: '🗑️ Preview gateway destroyed',
  gone: '🗑️ Preview gateway gone',
}

/** The comment's markdown. Values are app names, URLs and versions; the error goes in a fenced block. */
export function commentBody(s: CommentState): string {
  const lines = [commentMarker(s.app), `### ${TITLES[s.outcome]}: \`${s.app}\``, '']
  if (s.outcome === 'destroyed' || s.outcome === 'gone') {
    lines.push(
      s.outcome === 'destroyed'
        ? `The pull request was closed, so the preview app \`${s.app}\` was destroyed with its machines and volume.`
        : `The pull request was closed; the preview app \`${s.app}\` was gone already.`,
    )
  } else {
    lines.push('| | |', '|---|---|')
    lines.push(`| URL | ${s.url ? s.url : '—'} |`)
    lines.push(`| Release | ${s.release === undefined ? '—' : `v${s.release}`} |`)
    lines.push(`| Health | ${s.health ?? '—'} |`)
    if (s.sha) lines.push(`| Commit | \`${s.sha.slice(0, 12)}\` |`)
    if (s.error) lines.push('', '```text', s.error.replace(/```/g, "'''").slice(0, 1500), '```')
    if (s.skippedChannels?.length) {
      const names = s.skippedChannels.map((c) => `\`${c}\``).join(', ')
      lines.push(
        '',
        `Health channels skipped (no token of theirs was synced: previews get no production channel tokens; add \`PREVIEW_<NAME>\` secrets to give the preview its own): ${names}.`,
      )
    }
  }
  if (s.runUrl) lines.push('', `<sub>Updated by openclaw/fly-deploy in [this run](${s.runUrl}).</sub>`)
  return `${lines.join('\n')}\n`
}
