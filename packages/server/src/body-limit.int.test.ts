import { UNENDING_CHUNKED_BODY, exchange } from '@annal/http/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LiveHarness, accessRecords, liveHarness } from './testing/fixture.js'

let h: LiveHarness

beforeAll(async () => {
  h = await liveHarness({ app: { limits: { bodyBytes: 1024 } } })
  await h.ledger.createLog('audit')
})

afterAll(async () => {
  await h?.close()
})

describe('a chunked upload over the body limit', () => {
  it('gets a 413 problem with Connection: close, recorded as 413, then the connection closes', async () => {
    const token = await h.mint.token({ scope: 'log:append' })
    const size = h.ledger.log('audit').size
    // 64 KiB against a 1 KiB limit, and no last chunk: only the server can end this exchange.
    const reply = await exchange(h.server.port, [`POST /v1/logs/audit/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + 'Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n', ...UNENDING_CHUNKED_BODY])
    const [head, body] = reply.split('\r\n\r\n') as [string, string]
    expect(head).toMatch(/^HTTP\/1\.1 413 /)
    expect(head).toMatch(/\r\nconnection: close(?:\r\n|$)/i)
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json(?:\r\n|$)/i)
    expect(JSON.parse(body)).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE' })
    expect(h.ledger.log('audit').size).toBe(size)
    const requestId = /\r\nx-request-id: ([^\r]+)/i.exec(head)?.[1]
    const record = (await accessRecords(h.ledger)).find((r) => r.request_id === requestId)
    expect(record).toMatchObject({ route: '/v1/logs/:log/entries', status: 413, code: 'BODY_TOO_LARGE' })
  })
})
