import * as core from '@actions/core'
import { appExistsOnFly, isAppNotFound } from '../stages/ensure.js'
import { AppListSchema, MachineListSchema, type Machine } from '../fly/schemas.js'
import { Flyctl, FlyctlError, READING } from '../fly/flyctl.js'
import { gitHubClient, repoRef, type GitHubApi } from './github-api.js'
import type { Plan } from '../inputs/plan.js'
import {
  commentBody,
  commentMarker,
  decideDestroy,
  previewCandidates,
  previewMarker,
  previewTarget,
  type CommentState,
  type PreviewTarget,
} from './preview-plan.js'
import type { Redactor } from '../shared/redact.js'
import type { RunRecord } from '../run/report.js'
import type { StageRunner } from '../run/stage-runner.js'
import { info } from '../shared/runner-output.js'

/**
 * docs/CONTRACT.md, "Previews", the edges: `mode: preview` wraps the deploy stages (any action but
 * `closed`) or destroys the preview (`closed`); `mode: cleanup-previews` destroys the previews of
 * closed pull requests. The decisions are preview-plan.ts's; here are flyctl, the GitHub API and
 * the outputs. A GitHub failure is a warning and never fails the step.
 */

export interface ModeContext {
  plan: Plan
  record: RunRecord
  redactor: Redactor
  signal: AbortSignal
  stages: StageRunner
  /** The install stage: flyctl, as the deploy stages get it (change journal, dry-run safety net). */
  install(): Promise<Flyctl>
}

export async function runPreview(ctx: ModeContext, deployStages: (plan: Plan) => Promise<void>): Promise<void> {
  const pr = ctx.plan.pullRequest
  if (!pr) throw new Error('mode: preview needs the pull request of the event (GITHUB_EVENT_PATH)')
  const target = previewTarget(ctx.plan, pr)
  // app-name and app-url name the preview (report.ts writes them from the record).
  ctx.record.app = target.name
  const comment = commenter(ctx, target.name, pr.number)
  if (pr.action === 'closed') return closePreview(ctx, target, comment)

  if (pr.fork !== undefined) {
    // Reached only with allow-fork-previews: true (inputs refuse a fork's preview otherwise).
    const note = `pull request #${pr.number} comes from the fork ${pr.fork ?? '(deleted)'} and was deployed because \`allow-fork-previews\` is true: only \`${ctx.plan.secretsPrefix}\` secrets were synced (${[...ctx.plan.secretsPrefixed.values()].sort().join(', ') || 'none'}); plain names, OPENCLAW_GATEWAY_TOKEN included, were not`
    ctx.record.previewNotes = [...(ctx.record.previewNotes ?? []), note]
    core.warning(`Preview of a fork: ${note}.`)
  }
  for (const channel of target.skippedChannels) {
    core.notice(
      `health-channels: ${channel} skipped for the preview ${target.name}: no ${channel.toUpperCase()}_* token was synced (previews get no production channel tokens; add PREVIEW_${channel.toUpperCase()}_... secrets to give it its own)`,
    )
  }
  for (const name of target.sharedChannelTokens) {
    core.warning(
      `${name} reaches the preview ${target.name} unprefixed: a second gateway on production's bot token takes its connection over. Give the preview its own as ${ctx.plan.secretsPrefix || 'PREVIEW_'}${name}.`,
    )
  }
  const state = (): CommentState => ({
    app: target.name,
    outcome: 'deployed',
    url: ctx.record.url,
    release: ctx.record.servingRelease ?? ctx.record.release,
    health: ctx.record.health.verdict,
    sha: pr.headSha,
    runUrl: ctx.plan.runUrl,
    skippedChannels: target.skippedChannels,
  })
  try {
    await deployStages(target.plan)
  } catch (err) {
    if (!ctx.plan.dryRun)
      await comment.post(
        commentBody({
          ...state(),
          outcome: 'failed',
          error: ctx.redactor.redact(err instanceof Error ? err.message : String(err)),
        }),
      )
    throw err
  }
  // A dry run changes nothing: no preview-action, no comment.
  if (ctx.plan.dryRun) return
  core.setOutput('preview-action', 'deployed')
  await comment.post(commentBody(state()))
}

/** `closed`: destroy the preview when its machines carry this pull request's marker; gone already is success. */
async function closePreview(ctx: ModeContext, target: PreviewTarget, comment: Commenter): Promise<void> {
  const flyctl = await ctx.install()
  const outcome = await ctx.stages.must({
    name: 'destroy',
    run: () => destroyIfMarked(ctx, flyctl, target.name, target.marker),
    note: (o) => o,
  })
  ctx.record.heading = `🗑️ Preview <code>${target.name}</code> ${outcome === 'gone' ? 'was gone already' : ctx.plan.dryRun ? 'would be destroyed' : 'destroyed'}`
  if (ctx.plan.dryRun) return
  core.setOutput('preview-action', 'destroyed')
  await comment.post(
    commentBody({ app: target.name, outcome: outcome === 'gone' ? 'gone' : 'destroyed', runUrl: ctx.plan.runUrl }),
  )
}

/** Reads the app's machines, decides (preview-plan.ts decideDestroy), destroys. Throws on any marker but this one. */
async function destroyIfMarked(
  ctx: ModeContext,
  flyctl: Flyctl,
  name: string,
  marker: string,
): Promise<'destroyed' | 'gone' | 'would destroy'> {
  const machines = await readMachines(flyctl, name)
  const decision = decideDestroy(name, ctx.plan.app, marker, machines)
  if (decision.kind === 'refuse') throw new Error(decision.reason)
  if (decision.kind === 'gone') {
    ctx.record.previewNotes = [...(ctx.record.previewNotes ?? []), `${name} does not exist (destroyed already)`]
    return 'gone'
  }
  if (ctx.plan.dryRun) return 'would destroy'
  try {
    // Not repeated: after a lost answer the app may be gone, which the next read shows.
    await flyctl.run(['apps', 'destroy', name, '-y'], {
      change: `destroyed app ${name} (${decision.machines} machine(s), its volumes, IPs and secrets)`,
      retry: {
        safe: 'once',
        why: 'a repeat after a lost answer fails with "Could not find App"; re-run the job, which finds it gone',
      },
    })
  } catch (err) {
    if (err instanceof FlyctlError && isAppNotFound(err.flyError)) return 'gone'
    throw err
  }
  ctx.record.previewNotes = [...(ctx.record.previewNotes ?? []), `destroyed ${name}: its machines carried ${marker}`]
  info(`Destroyed the preview app ${name}`)
  return 'destroyed'
}

/** The app's machines, or undefined when the app does not exist. */
async function readMachines(flyctl: Flyctl, name: string): Promise<Machine[] | undefined> {
  if (!(await appExistsOnFly(flyctl, name))) return undefined
  try {
    return await flyctl.json(['machines', 'list', '--app', name], MachineListSchema, { retry: READING })
  } catch (err) {
    if (err instanceof FlyctlError && isAppNotFound(err.flyError)) return undefined
    throw err
  }
}

/** `cleanup-previews`: every `<app>-pr-<N>` with this repository's marker whose pull request is closed. */
export async function cleanupPreviews(ctx: ModeContext): Promise<void> {
  const { plan, record } = ctx
  const repository = plan.repository ?? ''
  const flyctl = await ctx.install()
  const github = gitHubClient({
    token: plan.githubToken,
    baseUrl: plan.githubApiUrl,
    log: info,
    signal: ctx.signal,
  })
  const destroyed: string[] = []
  const failures: string[] = []
  core.setOutput('previews-destroyed', '')
  await ctx.stages.must({
    name: 'cleanup',
    note: (d: string[]) => `${d.length} destroyed`,
    run: async () => {
      const apps = await flyctl.json(['apps', 'list'], AppListSchema, { retry: READING })
      const candidates = previewCandidates(apps, plan.app)
      record.previewNotes = [`${candidates.length} app(s) named ${plan.app}-pr-<N>`]
      for (const c of candidates) {
        ctx.signal.throwIfAborted()
        const note = await cleanupOne(ctx, flyctl, github, c, repository).catch((err: unknown) => {
          failures.push(`${c.name}: ${ctx.redactor.redact(err instanceof Error ? err.message : String(err))}`)
          return `${c.name}: failed`
        })
        record.previewNotes.push(note)
        if (note.startsWith(`destroyed ${c.name}`)) {
          destroyed.push(c.name)
          core.setOutput('previews-destroyed', destroyed.join(','))
        }
      }
      return destroyed
    },
  })
  record.heading = `🧹 Cleaned up the previews of <code>${plan.app}</code>: ${destroyed.length ? destroyed.map((d) => `<code>${d}</code>`).join(', ') : 'none'} ${plan.dryRun ? 'would be ' : ''}destroyed`
  if (failures.length)
    throw new Error(`cleanup-previews could not destroy ${failures.length} preview(s):\n${failures.join('\n')}`)
}

async function cleanupOne(
  ctx: ModeContext,
  flyctl: Flyctl,
  github: GitHubApi,
  c: { name: string; number: number },
  repository: string,
): Promise<string> {
  const marker = previewMarker(repository, c.number)
  const decision = decideDestroy(c.name, ctx.plan.app, marker, await readMachines(flyctl, c.name))
  // Another repository's preview, or an app without the marker: never touched.
  if (decision.kind === 'refuse')
    return `${c.name}: kept, not this repository's preview (${marker} not found on its machines)`
  if (decision.kind === 'gone') return `${c.name}: gone already`
  let state: string
  try {
    state = await github.pullState(repoRef(repository), c.number)
  } catch (err) {
    core.warning(`${c.name} kept: ${ctx.redactor.redact(err instanceof Error ? err.message : String(err))}`)
    return `${c.name}: kept, the state of #${c.number} could not be read`
  }
  if (state !== 'closed') return `${c.name}: kept, #${c.number} is ${state}`
  const outcome = await destroyIfMarked(ctx, flyctl, c.name, marker)
  if (outcome === 'destroyed')
    await commenter(ctx, c.name, c.number).post(
      commentBody({ app: c.name, outcome: 'destroyed', runUrl: ctx.plan.runUrl }),
    )
  return outcome === 'gone'
    ? `${c.name}: gone already`
    : `destroyed ${c.name} (#${c.number} is closed)${outcome === 'would destroy' ? ' [dry run: would be]' : ''}`
}

// --- shared edges -----------------------------------------------------------------------------

/** The install stage as main.ts runs it, for the modes that call flyctl without deploying. */
interface Commenter {
  post(body: string): Promise<void>
}

/** The one comment of a preview, found again by its hidden marker: updated, else created. Failing is a warning. */
function commenter(ctx: ModeContext, app: string, number: number): Commenter {
  const { plan, redactor } = ctx
  return {
    async post(body) {
      if (!plan.githubToken || !plan.repository) {
        info('No github-token: the pull request gets no preview comment.')
        return
      }
      const github = gitHubClient({
        token: plan.githubToken,
        baseUrl: plan.githubApiUrl,
        log: info,
        signal: ctx.signal,
      })
      const repo = repoRef(plan.repository)
      const text = redactor.redact(body)
      try {
        const existing = (await github.listComments(repo, number)).find((c) => c.body.includes(commentMarker(app)))
        const written = existing
          ? await github.updateComment(repo, existing.id, text)
          : await github.createComment(repo, number, text)
        info(
          `${existing ? 'Updated' : 'Created'} the preview comment on #${number}${written.html_url ? `: ${written.html_url}` : ''}`,
        )
      } catch (err) {
        core.warning(
          `The preview comment on #${number} was not written: ${redactor.redact(err instanceof Error ? err.message : String(err))}`,
        )
      }
    },
  }
}
