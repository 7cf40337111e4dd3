/** One problem the checks of the rendered config found: the guide's rules, the gateway config's. */
export interface Finding {
  level: 'error' | 'warning'
  rule: string
  /** Cause and the guide's fix. */
  message: string
  /** The input the value came from. */
  input?: string
  /** The file (and line) the value came from, when it came from a file. */
  file?: string
  line?: number
}
