// The stand-in's HTTP check against a server that answers what the test scripts: Fly's check is
// Go's net/http client, so what that client refuses or cannot read must never pass here.
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck, type CheckSpec } from '../../../standin/machines/checks.ts'

let answer = ''
let requests: string[] = []
let server: net.Server
let port = 0

beforeAll(async () => {
  // Beyond loopback, as Fly's proxy needs it: the check refuses a loopback-only listener.
  server = net.createServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      requests.push(chunk.toString('latin1'))
      socket.end(answer)
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
  port = (server.address() as net.AddressInfo).port
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

const check = (over: Partial<CheckSpec> = {}): CheckSpec => ({
  name: 'health',
  type: 'http',
  port,
  method: 'GET',
  path: '/healthz',
  intervalMs: 15_000,
  // A bound for a busy machine, not a speed: the answers here are immediate.
  timeoutMs: 20_000,
  graceMs: 1_000,
  ...over,
})

async function probe(reply: string, over: Partial<CheckSpec> = {}) {
  answer = reply
  requests = []
  return runCheck(check(over), process.pid, false)
}

describe('HTTP check (host network, no namespace)', () => {
  it('a whole 2xx answer passes with its status and body; 429 warns; 503 is critical', async () => {
    const ok = await probe('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}')
    expect(ok).toEqual({
      name: 'health',
      status: 'passing',
      output: `HTTP GET http://172.19.0.2:${port}/healthz: 200 OK Output: {"ok":true}`,
    })
    expect(requests[0]).toMatch(/^GET \/healthz HTTP\/1\.[01]\r\n/)
    expect((await probe('HTTP/1.1 429 Too Many Requests\r\n\r\n')).status).toBe('warning')
    expect((await probe('HTTP/1.1 503 Service Unavailable\r\n\r\nstarting')).status).toBe('critical')
  })

  it('an answer cut inside its headers, a bad status line or none at all is critical, as Go reads it', async () => {
    expect(await probe('HTTP/1.1 200 OK\r\nContent-Le')).toMatchObject({
      status: 'critical',
      output: expect.stringMatching(/: unexpected EOF$/),
    })
    expect(await probe('HTTP/1.1 2000 OK\r\n\r\n')).toMatchObject({
      status: 'critical',
      output: expect.stringMatching(/: malformed HTTP response$/),
    })
    expect(await probe('')).toMatchObject({ status: 'critical', output: expect.stringMatching(/: EOF$/) })
  })

  it('a method or path Go would refuse is critical and nothing is sent', async () => {
    const method = await probe('HTTP/1.1 200 OK\r\n\r\n', { method: 'GE T' })
    expect(method).toMatchObject({ status: 'critical', output: expect.stringContaining('net/http: invalid method') })
    const path = await probe('HTTP/1.1 200 OK\r\n\r\n', { path: '/healthz\r\nX: y' })
    expect(path).toMatchObject({
      status: 'critical',
      output: expect.stringContaining('invalid control character in URL'),
    })
    expect(requests).toEqual([])
  })
})
