/**
 * A stand-in for @actions/core, as actions/typescript-action's __fixtures__/core.ts: every call is a
 * vi.fn, inputs come from a map the test fills, outputs and the summary are kept for assertions.
 * Used with `vi.mock('@actions/core', () => core)`.
 */
import { vi } from 'vitest'

export const inputs = new Map<string, string>()
export const outputs = new Map<string, string>()
export const logs: string[] = []
export let summaryText = ''
export let failed: string | undefined

export function reset(values: Record<string, string>): void {
  inputs.clear()
  outputs.clear()
  logs.length = 0
  summaryText = ''
  failed = undefined
  for (const [name, value] of Object.entries(values)) inputs.set(name, value)
}

export const getInput = vi.fn((name: string) => inputs.get(name) ?? '')
export const setOutput = vi.fn((name: string, value: unknown) => void outputs.set(name, String(value)))
export const setSecret = vi.fn()
export const setFailed = vi.fn((message: string | Error) => {
  failed = String(message)
  logs.push(`::error::${String(message)}`)
})
export const info = vi.fn((m: string) => void logs.push(m))
export const debug = vi.fn()
export const notice = vi.fn((m: string) => void logs.push(`::notice::${m}`))
export const warning = vi.fn((m: string | Error) => void logs.push(`::warning::${String(m)}`))
export const error = vi.fn((m: string | Error) => void logs.push(`::error::${String(m)}`))
export const startGroup = vi.fn((title: string) => void logs.push(`::group::${title}`))
export const endGroup = vi.fn(() => void logs.push('::endgroup::'))
export const group = vi.fn(async <T>(title: string, fn: () => Promise<T>): Promise<T> => {
  startGroup(title)
  try {
    return await fn()
  } finally {
    endGroup()
  }
})
export const summary = {
  addRaw(text: string) {
    summaryText += text
    return summary
  },
  async write() {
    return summary
  },
}
export const addPath = vi.fn()
