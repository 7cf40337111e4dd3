import { describe, expect, it } from 'vitest'
import { couldBeCommand, guarded } from '../../../src/shared/runner-output.ts'
import { interpretStdout } from '../../support/workflow-commands.ts'

/** Lines a Dockerfile's `RUN echo`, a gateway's log or an error text may carry. */
const HOSTILE = [
  '::add-mask::app-url',
  '::set-output name=health::healthy',
  '::error file=action.yml,line=1::injected',
  '  ::add-path::/tmp/evil',
  'step 3 ##[set-env name=NODE_ENV;]evil',
  '::set-env name=LD_PRELOAD::/tmp/x.so',
  'built\r::warning::after a carriage return',
  '::stop-commands::x',
]
/** What the action itself writes after them: an annotation, a mask, a group. */
const OWN = '::add-mask::s3cret-value\n::group::next\n::endgroup::\n::error::the action failed'

describe('the runner interpreter (test/support/workflow-commands.ts)', () => {
  it('acts on commands after leading white space, the old ##[ form anywhere, and lines split at CR', () => {
    const view = interpretStdout(HOSTILE.slice(0, -1).join('\n'))
    expect(view.masks).toEqual(['app-url'])
    expect(view.outputs).toEqual({ health: 'healthy' })
    expect(view.paths).toEqual(['/tmp/evil'])
    expect(view.env).toEqual({ NODE_ENV: 'evil', LD_PRELOAD: '/tmp/x.so' })
    expect(view.annotations.map((a) => a.message)).toEqual(['injected', 'after a carriage return'])
  })

  it('ignores everything after ::stop-commands:: until its exact token, then acts again', () => {
    const stopped = interpretStdout(`::stop-commands::x\n${OWN}`)
    expect(stopped.stopped).toBe(true)
    expect(stopped.acted).toEqual([])
    const resumed = interpretStdout(
      `::stop-commands::tok\n::stop-commands::other\n::other::\n::error::ignored\n::tok::\n${OWN}`,
    )
    expect(resumed.stopped).toBe(false)
    expect(resumed.masks).toEqual(['s3cret-value'])
    expect(resumed.annotations.map((a) => a.message)).toEqual(['the action failed'])
  })
})

describe('guarded: how the action prints text it did not write', () => {
  it('leaves a line that cannot be a command as it is', () => {
    expect(guarded('#5 [2/3] RUN npm ci')).toBe('#5 [2/3] RUN npm ci')
    expect(couldBeCommand('Visit your newly deployed app at https://a.fly.dev/')).toBe(false)
  })

  it('no hostile line acts, and the action’s own mask, group and annotation after them still do', () => {
    const stdout = [...HOSTILE.map((l) => guarded(l)), guarded(HOSTILE.join('\n')), OWN].join('\n')
    const view = interpretStdout(stdout)
    expect(view.acted.map((a) => a.name)).toEqual(['add-mask', 'group', 'endgroup', 'error'])
    expect(view.masks).toEqual(['s3cret-value'])
    expect(view.outputs).toEqual({})
    expect(view.stopped).toBe(false)
  })

  it('uses a fresh token for every block', () => {
    const tokens = new Set(Array.from({ length: 20 }, () => /::stop-commands::(\w+)/.exec(guarded('::x::'))?.[1]))
    expect(tokens.size).toBe(20)
  })
})
