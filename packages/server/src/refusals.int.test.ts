// Refusals the app never sees (Node's parser) and a close under keep-alive load, over real sockets.
import { Agent, request } from 'node:http'
import { exchange } from '@annal/http/testing'
import { afterEach, expect, it } from 'vitest'
import { serve } from './serve.js'
import { type LiveHarness, accessLogOverHttp, bearer, harness, liveHarness } from './testing/fixture.js'

let h: LiveHarness | undefined

afterEach(async () => {
  await h?.close()
  h = undefined
})

/** Polls the access log over HTTP until `find` matches a record (the refusal is recorded after its answer). */
async function recorded(find: (record: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (const started = Date.now(); Date.now() - started < 10_000;) {
    const { records } = await accessLogOverHttp(h!.server.url, h!.auditor)
    const record = records.find(find)
    if (record !== undefined) return record
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('no such access record within 10 s')
}

it('refuses a token in the query string on any route, known or not, and records it', async () => {
  h = await liveHarness()
  const token = await h.mint.token({ scope: 'log:read' })
  for (const path of ['/v1/no/such/route', '/v1/logs']) {
    const response = await fetch(h.url(`${path}?access_token=${token}`), { headers: { 'user-agent': `query ${path}` } })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'TOKEN_REQUEST_MALFORMED' })
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_request"/)
    const record = await recorded((r) => r.user_agent === `query ${path}`)
    expect(record).toMatchObject({ status: 400, code: 'TOKEN_REQUEST_MALFORMED', reason: 'token_in_query' })
  }
})

it('answers headers too large and malformed HTTP with a problem, and records them without the token', async () => {
  h = await liveHarness()
  const huge = `ey${'A'.repeat(100 * 1024)}`
  const answer = await exchange(h.server.port, [`GET /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${huge}\r\n\r\n`])
  expect(answer).toMatch(/^HTTP\/1\.1 431 /)
  expect(answer).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i)
  expect(answer).toMatch(/\r\nconnection: close\r\n/i)
  const [head, body] = answer.split('\r\n\r\n')
  expect(JSON.parse(body!)).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' })
  const requestId = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(head!)![1]
  const record = await recorded((r) => r.request_id === requestId)
  expect(record).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE', method: 'GET', remote_address: '127.0.0.1' })
  expect(JSON.stringify(record)).not.toContain('AAAAAAAA')

  const malformed = await exchange(h.server.port, ['GET / HTTP/1.1\r\nHost x\r\n\r\n'])
  expect(malformed).toMatch(/^HTTP\/1\.1 400 /)
  const malformedId = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(malformed)![1]
  expect(await recorded((r) => r.request_id === malformedId)).toMatchObject({ status: 400, code: 'REQUEST_MALFORMED' })
})

it('answers every request it read when closed under keep-alive load, and appends only what it answered', async () => {
  h = await liveHarness()
  await h.ledger.createLog('audit')
  const token = await h.mint.token({ scope: 'log:append', expiresIn: 3600 })
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  const url = new URL(h.server.url)
  const statuses = new Map<number, number>()
  const lost: string[] = []
  let closed = false
  let answered = 0
  const append = (n: number) => new Promise<'go' | 'stop'>((resolve) => {
    const body = JSON.stringify({ n })
    const call = request({
      agent, host: url.hostname, port: url.port, path: '/v1/logs/audit/entries', method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (response) => {
      response.resume()
      response.on('end', () => {
        statuses.set(response.statusCode!, (statuses.get(response.statusCode!) ?? 0) + 1)
        answered++
        resolve(closed ? 'stop' : 'go')
      })
    })
    call.on('error', (error: NodeJS.ErrnoException) => {
      // Refused: a new connection after the listener closed, which never carried a request.
      if (error.code !== 'ECONNREFUSED') lost.push(`${error.code} (reused socket: ${call.reusedSocket})`)
      resolve('stop')
    })
    call.end(body)
  })
  const clients = Array.from({ length: 16 }, async (_, client) => {
    for (let i = 0; i < 2_000; i++) if (await append(client * 10_000 + i) === 'stop') return
  })
  // Close once the load is going, as a SIGTERM would come.
  for (const started = Date.now(); answered < 200 && Date.now() - started < 20_000;) await new Promise((resolve) => setTimeout(resolve, 5))
  await h.server.close()
  closed = true
  await Promise.all(clients)
  agent.destroy()
  expect(lost).toEqual([])
  expect([...statuses.keys()]).toEqual([201])
  expect(h.ledger.log('audit').size).toBe(statuses.get(201))
})

it('answers a request still running at the end of the grace period 503, and closes', async () => {
  const local = await harness()
  await local.ledger.createLog('audit')
  const token = await local.mint.token({ scope: 'log:append' })
  const running = await serve(local.app, { closeGraceMs: 300, idleGraceMs: 100 })
  try {
    // Half of a body that never comes whole: the route waits on it past the grace period.
    const received = new Promise((resolve) => running.server.once('request', resolve))
    const answer = exchange(running.port, [`POST /v1/logs/audit/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + 'Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{"half":'])
    await received
    await running.close()
    const reply = await answer
    expect(reply).toMatch(/^HTTP\/1\.1 503 /)
    expect(reply).toMatch(/\r\nconnection: close\r\n/i)
    expect(JSON.parse(reply.split('\r\n\r\n')[1]!)).toMatchObject({ status: 503, code: 'SHUTTING_DOWN' })
    expect(local.ledger.log('audit').size).toBe(0)
  } finally {
    await running.close()
    await local.close()
  }
})
