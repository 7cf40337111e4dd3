import { describe, expect, it } from 'vitest'
import {
  createRunnerLog,
  maskLine,
  newRunnerLogState,
  renderRunnerLine,
  unescapeData,
} from '../../../scripts/runner-log.ts'

/**
 * The demo shows the action's log the way a runner's log view does (scripts/runner-log.ts):
 * workflow commands are read, never printed, and masked values show as `***` (GitHub docs,
 * "Workflow commands for GitHub Actions"; @actions/core command.ts for the escaping).
 */
const render = (lines: string[]): string[] => {
  const state = newRunnerLogState()
  return lines.map((l) => renderRunnerLine(l, state)).filter((l): l is string => l !== undefined)
}

describe('runner log view', () => {
  it('hides add-mask and debug lines and masks the registered values in later lines', () => {
    const shown = render([
      '::add-mask::s3cret-token',
      '::debug::checking cache',
      'token is s3cret-token here',
      '::add-mask::a%25b',
    ])
    expect(shown).toEqual(['token is *** here'])
    expect(shown.join('\n')).not.toMatch(/::add-mask::|::debug::|s3cret/)
  })

  it('masks the longest secret first, so a secret that contains another never shows in part', () => {
    expect(maskLine('abc-long and abc', ['abc', 'abc-long'])).toBe('*** and ***')
  })

  it('turns a group into a heading with its lines indented, and drops endgroup', () => {
    expect(render(['::group::fly deploy', 'Verified app config', '::endgroup::', 'after'])).toEqual([
      '\x1b[1m▾ fly deploy\x1b[0m',
      '  Verified app config',
      'after',
    ])
  })

  it('shows annotations as the runner does, unescaped and masked', () => {
    const shown = render([
      '::add-mask::tok-1',
      '::error file=action.yml,line=3::bad value tok-1%0Asecond line',
      '::warning::careful %25',
    ])
    expect(shown).toEqual(['Error: bad value ***\n  second line', 'Warning: careful %'])
  })

  it('renders whole lines from chunks split anywhere, and the unterminated rest on flush', () => {
    const out: string[] = []
    const log = createRunnerLog((t) => out.push(t))
    for (const chunk of ['::add-', 'mask::pw-9\nplain pw', '-9 line\n::debug::x\ntail']) log.push(chunk)
    log.flush()
    expect(out.join('')).toBe('plain *** line\ntail\n')
  })

  it('unescapes the data escapes of @actions/core', () => {
    expect(unescapeData('50%25%0Anext%0D')).toBe('50%\nnext\r')
  })
})
