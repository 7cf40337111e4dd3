// Fly's health checks of one machine, as flyd runs them and fly-go reports them: the checks of the
// machine config (top-level `checks`, and each service's `checks`: flyctl internal/appconfig
// machines.go puts [[http_service.checks]] there), run against the machine's real workload. An
// HTTP check is a request to the gateway's port with the check's method and path; a TCP check a
// connect. Fly's proxy reaches the machine on its private address, so a listener on loopback only
// fails like a closed port. Results are fly-go machine_types.go MachineCheckStatus
// {name, status passing|warning|critical, output, updated_at}.
import { childProcess, fs } from '../platform/builtins.ts'

export interface CheckSpec {
  /** The `checks` key, or flaps' `servicecheck-<nn>-<type>-<port>` for a service's check. */
  name: string
  type: 'tcp' | 'http'
  port: number
  method: string
  path: string
  intervalMs: number
  timeoutMs: number
  graceMs: number
}

export interface CheckResult {
  name: string
  status: 'passing' | 'warning' | 'critical'
  output: string
  updated_at: string
}

// fly-go machine_types.go MachineCheck documents these examples (interval 15s, timeout 2s,
// grace_period 1s); the stand-in uses them for a check that leaves one out.
const DEFAULTS = { intervalMs: 15_000, timeoutMs: 2_000, graceMs: 1_000 }

/** A Go duration string (`2m`, `15s`, `500ms`, `1m30s`) in ms; undefined when it is not one. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value / 1e6 // a Go Duration in JSON is nanoseconds
  if (typeof value !== 'string' || !value) return undefined
  let total = 0
  let rest = value
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 }
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/.exec(rest)
    if (!m) return undefined
    total += Number(m[1]) * (unit[m[2] as string] as number)
    rest = rest.slice(m[0].length)
  }
  return total
}

type Table = Record<string, unknown>
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v)

function spec(name: string, c: Table, port: number, type: 'tcp' | 'http'): CheckSpec {
  return {
    name,
    type,
    port,
    method: typeof c.method === 'string' ? c.method.toUpperCase() : 'GET',
    path: typeof c.path === 'string' ? c.path : '/',
    intervalMs: durationMs(c.interval) ?? DEFAULTS.intervalMs,
    timeoutMs: durationMs(c.timeout) ?? DEFAULTS.timeoutMs,
    graceMs: durationMs(c.grace_period) ?? DEFAULTS.graceMs,
  }
}

/** Every check a machine config asks for: top-level ones by name, a service's as flaps names them. */
export function checkSpecs(config: { checks?: Record<string, unknown>; services?: unknown[] }): CheckSpec[] {
  const specs: CheckSpec[] = []
  for (const [name, c] of Object.entries(config.checks ?? {})) {
    if (!isTable(c) || typeof c.port !== 'number') continue
    specs.push(spec(name, c, c.port, c.type === 'http' ? 'http' : 'tcp'))
  }
  for (const service of (config.services ?? []).filter(isTable)) {
    const port = service.internal_port
    if (typeof port !== 'number') continue
    for (const [index, c] of (Array.isArray(service.checks) ? service.checks : []).filter(isTable).entries()) {
      const type = c.type === 'tcp' ? 'tcp' : 'http'
      // flaps names service checks `servicecheck-<nn>-<type>-<port>` (flyctl internal/machine/leasable_machine_test.go).
      specs.push(spec(`servicecheck-${String(index).padStart(2, '0')}-${type}-${port}`, c, port, type))
    }
  }
  return specs
}

/** Whether something listens on the port on an address other than loopback, in the machine's network namespace. */
function listensBeyondLoopback(nsPid: number, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const loopback = (address: string) => address === '0100007F' || address === '00000000000000000000000001000000'
  for (const table of ['tcp', 'tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(`/proc/${nsPid}/net/${table}`, 'utf8')
    } catch {
      continue
    }
    for (const row of text.split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/)
      const [address, portHex] = (fields[1] ?? '').split(':')
      if (fields[3] === '0A' && portHex === hexPort && address && !loopback(address)) return true
    }
  }
  return false
}

// Runs inside the machine's network namespace (a process cannot join one, so a small program does):
// bash's /dev/tcp connects and, for an HTTP check, writes the request and copies the answer out for
// probe() to read. bash and head start in a few ms of CPU where a node took some 85 ms, and every
// running machine is probed each `interval`. The request is HTTP/1.0 so that the answer needs no
// chunked decoding: the body runs to the close.
const PROBE = [
  'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 3',
  '[ "$2" = tcp ] && exit 0',
  `printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' "$4" "$3" "172.19.0.2:$1" >&3`,
  'exec head -c 16384 <&3',
].join('\n')

interface ProbeAnswer {
  ok: boolean
  status?: number
  text?: string
  body?: string
  error?: string
}

// Rootless machines live in a user namespace of their own (isolation.ts): joining their network
// namespace takes joining that user namespace first, as isolation.ts execArgs does.
const ROOTLESS_JOIN = process.getuid?.() !== 0 ? ['--user', '--preserve-credentials'] : []

/** Probes still running, so a stopping machine's checks end at once (no request in flight while it drains). */
const running = new Set<import('node:child_process').ChildProcess>()

/** What the probe's exit and output say: a refused or failed connect, a TCP success, an HTTP answer. */
function readAnswer(check: CheckSpec, code: number | null, out: string, errors: string): ProbeAnswer {
  if (code === 3) {
    const reason = errors.trim().split('\n').pop() ?? ''
    return {
      ok: false,
      error: /refused/i.test(reason) ? 'ECONNREFUSED' : reason.replace(/^.*: /, '') || 'connect failed',
    }
  }
  if (check.type === 'tcp') return code === 0 ? { ok: true } : { ok: false, error: 'connect failed' }
  // Go's net/http: a connection closed before any answer is "EOF", one closed inside the headers
  // "unexpected EOF", a status line it cannot read "malformed HTTP response".
  if (!out) return { ok: false, error: 'EOF' }
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?\n/.exec(out)
  if (!statusLine) return { ok: false, error: out.includes('\n') ? 'malformed HTTP response' : 'unexpected EOF' }
  const headEnd = /\r?\n\r?\n/.exec(out)
  if (!headEnd) return { ok: false, error: 'unexpected EOF' }
  const bodyStart = headEnd.index + headEnd[0].length
  return {
    ok: true,
    status: Number(statusLine[1]),
    text: statusLine[2] ?? '',
    body: out.slice(bodyStart, bodyStart + 512),
  }
}

function probe(check: CheckSpec, nsPid: number, namespace: boolean): Promise<ProbeAnswer> {
  const args = ['-c', PROBE, 'probe', String(check.port), check.type, check.path, check.method]
  const [command, argv] = namespace
    ? ['nsenter', ['--target', String(nsPid), ...ROOTLESS_JOIN, '--net', '--', 'bash', ...args]]
    : ['bash', args]
  return new Promise((resolve) => {
    const child = childProcess().spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let out = ''
    let errors = ''
    let timedOut = false
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')))
    // The whole exchange is bounded by the check's timeout, as Go's http.Client.Timeout bounds it.
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, check.timeoutMs)
    child.once('error', () => resolve({ ok: false, error: 'probe failed to run' }))
    child.once('close', (code) => {
      running.delete(child)
      clearTimeout(timer)
      if (timedOut) {
        const error =
          check.type === 'tcp'
            ? 'i/o timeout'
            : 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        resolve({ ok: false, error })
      } else {
        resolve(readAnswer(check, code, out, errors))
      }
    })
  })
}

/**
 * What Go's client refuses before it sends anything (net/http NewRequest: a method that is not an
 * RFC 7230 token; net/url: a control character or a space in the URL), so that the probe, which
 * writes the request line as given, never sends what Fly's check could not.
 */
function invalidRequest(check: CheckSpec, url: string): string | undefined {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(check.method))
    return `net/http: invalid method ${JSON.stringify(check.method)}`
  if ([...check.path].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f))
    return `parse ${JSON.stringify(url)}: net/url: invalid control character in URL`
  return undefined
}

/** Runs one check once: passing or critical, with Fly's (Consul's) kind of output. */
export async function runCheck(
  check: CheckSpec,
  nsPid: number,
  namespace: boolean,
): Promise<Omit<CheckResult, 'updated_at'>> {
  const target = `172.19.0.2:${check.port}`
  const refused = `dial tcp ${target}: connect: connection refused`
  if (!listensBeyondLoopback(nsPid, check.port)) return { name: check.name, status: 'critical', output: refused }
  const url = `http://${target}${check.path}`
  const invalid = check.type === 'http' ? invalidRequest(check, url) : undefined
  if (invalid) return { name: check.name, status: 'critical', output: `${check.method} ${url}: ${invalid}` }
  const answer = await probe(check, nsPid, namespace)
  if (check.type === 'tcp') {
    return answer.ok
      ? { name: check.name, status: 'passing', output: 'Success' }
      : {
          name: check.name,
          status: 'critical',
          output: answer.error === 'ECONNREFUSED' ? refused : `dial tcp ${target}: ${answer.error}`,
        }
  }
  if (!answer.ok || answer.status === undefined)
    return {
      name: check.name,
      status: 'critical',
      output: `${check.method} ${url}: ${answer.error === 'ECONNREFUSED' ? refused : answer.error}`,
    }
  const output =
    `HTTP ${check.method} ${url}: ${answer.status} ${answer.text ?? ''} Output: ${answer.body ?? ''}`.trim()
  // Consul's HTTP check: 2xx passes, 429 warns, anything else is critical.
  const status =
    answer.status >= 200 && answer.status < 300 ? 'passing' : answer.status === 429 ? 'warning' : 'critical'
  return { name: check.name, status, output }
}

/**
 * Runs every check of one boot of the machine: each at once, then every `interval`, each request
 * bounded by `timeout`. A passing result is published at once; a failing one only once the check's
 * grace period after the boot has passed (fly-go MachineCheck.GracePeriod: "the time to wait after
 * a VM starts before checking its health"), so early failures of a starting gateway do not count.
 * Returns a stop function.
 */
export function runChecks(
  specs: CheckSpec[],
  nsPid: number,
  namespace: boolean,
  publish: (result: CheckResult) => void,
): () => void {
  const bootedAt = Date.now()
  let stopped = false
  const timers: Array<ReturnType<typeof setTimeout>> = []
  for (const check of specs) {
    let published = false
    const tick = async () => {
      if (stopped) return
      const result = await runCheck(check, nsPid, namespace)
      if (stopped) return
      // Once a result is out, every later one replaces it (a passing check that fails is not left passing).
      if (published || result.status === 'passing' || Date.now() - bootedAt >= check.graceMs) {
        published = true
        publish({ ...result, updated_at: new Date().toISOString() })
      }
      timers.push(setTimeout(() => void tick(), check.intervalMs))
    }
    timers.push(setTimeout(() => void tick(), 500))
  }
  return () => {
    stopped = true
    for (const t of timers) clearTimeout(t)
    for (const child of running) child.kill('SIGKILL')
  }
}
