import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { hexToBytes, verifyInclusion } from '@annal/tlog'
import { nodeEd25519, nodeHasher } from '@annal/crypto-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { accessRecordBytes } from './access-record.js'
import type { Principal } from './auth.js'
import { type Harness, bearer, expectProblem, harness } from './testing/fixture.js'

let h: Harness
let auditor: string
let reader: string

beforeEach(async () => {
  h = await harness()
  auditor = await h.mint.token({ scope: 'audit:read' })
  reader = await h.mint.token({ scope: 'log:read log:append log:admin' })
})
afterEach(async () => h.close())

const principal = (sub: string): Principal => ({
  iss: 'https://issuer.test', sub, clientId: `client-of-${sub}`, jti: `jti-${sub}`, scopes: ['log:read'],
  fingerprint: `fp-${sub}`, expiresAt: 0,
} as unknown as Principal)

/** Access records of `subs` in turn, appended straight to the ledger: status 403 for every third. */
async function appendRecords(subs: readonly string[]): Promise<void> {
  await h.ledger.log('access').append(subs.map((sub, i) => accessRecordBytes({
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)), requestId: `r-${i}`, method: 'GET', route: '/v1/logs/:log/entries', log: 'audit',
    status: i % 3 === 0 ? 403 : 200, principal: principal(sub), fingerprint: `fp-${sub}`, remoteAddress: '10.0.0.1',
  })))
}

async function search(query: string, token = auditor, log = 'access'): Promise<Response> {
  return h.app.request(`/v1/logs/${log}/search?${query}`, { headers: bearer(token) })
}

interface Page {
  size: number
  next: string | null
  checkpoint?: { size: number; note: string }
  results: { index: number; id: string; envelope: Record<string, any>; payload?: unknown; inclusion_proof?: string[] }[]
}

describe('GET /v1/logs/{log}/search', () => {
  it('finds one sub newest first, with index and id, AND-ed with an outcome', async () => {
    await appendRecords(['alice', 'bob', 'alice', 'carol', 'alice', 'bob'])
    const page = await (await search('sub=alice')).json() as Page
    expect(page.results.map((r) => r.index)).toEqual([4, 2, 0])
    expect(page.results[0]!.id).toMatch(/^[0-9a-f]{64}$/)
    expect(page.next).toBeNull()
    const denied = await (await search('sub=alice&status=4xx&order=oldest')).json() as Page
    expect(denied.results.map((r) => r.index)).toEqual([0])
    const exact = await (await search('client_id=client-of-bob&status=200&jti=jti-bob&remote_address=10.0.0.1')).json() as Page
    expect(exact.results.map((r) => r.index)).toEqual([5, 1])
    const times = await (await search('from=2026-01-01T00:00:01Z&to=2026-01-01T00:00:03Z&order=oldest')).json() as Page
    expect(times.results.map((r) => r.index)).toEqual([1, 2])
  })

  it('pages with a cursor that holds while the log grows', async () => {
    await appendRecords(Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? 'alice' : 'bob')))
    const seen: number[] = []
    let url: string | undefined = '/v1/logs/access/search?sub=alice&limit=5'
    while (url !== undefined) {
      const response: Response = await h.app.request(url, { headers: bearer(auditor) })
      const page = await response.json() as Page
      expect(page.size).toBe(25)
      seen.push(...page.results.map((r) => r.index))
      const link = response.headers.get('link')
      expect(link === null).toBe(page.next === null)
      url = link === null ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)![1]
      // New records for alice between pages are not in this search's pages.
      await appendRecords(['alice', 'alice'])
    }
    expect(seen).toEqual([24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0])
  })

  it('attaches inclusion proofs against the checkpoint it returns', async () => {
    await appendRecords(['alice', 'bob', 'alice'])
    const page = await (await search('sub=alice&with_proofs=1')).json() as Page
    const verifier = parseVerifierKey(h.ledger.log('access').info.verifierKey, { providers: { hash: nodeHasher.provider, signature: nodeEd25519 } })
    const checkpoint = openCheckpoint(page.checkpoint!.note, [verifier])
    expect(page.results).toHaveLength(2)
    for (const result of page.results) {
      const leaf = nodeHasher.leaf(new TextEncoder().encode(JSON.stringify(result.envelope)))
      verifyInclusion(result.index, checkpoint.size, leaf, result.inclusion_proof!.map(hexToBytes), checkpoint.rootHash, nodeHasher)
    }
  })

  it('finds events by the payload fields their log indexes', async () => {
    const created = await h.app.request('/v1/logs', {
      method: 'POST', headers: { ...bearer(reader), 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'orders', indexed_fields: ['customer', 'amount'] }),
    })
    expect(created.status).toBe(201)
    const events = [{ customer: 'acme', amount: 5 }, { customer: 'initech', amount: 5 }, { customer: 'acme', amount: '5' }]
    const body = events.map((event) => JSON.stringify(event)).join('\n')
    expect((await h.app.request('/v1/logs/orders/entries', {
      method: 'POST', headers: { ...bearer(reader), 'Content-Type': 'application/x-ndjson' }, body,
    })).status).toBe(201)
    const acme = await (await search('field.customer=acme&order=oldest', reader, 'orders')).json() as Page
    expect(acme.results.map((r) => r.payload)).toEqual([events[0], events[2]])
    const five = await (await search('field.amount=5&field.customer=acme', reader, 'orders')).json() as Page
    expect(five.results.map((r) => r.index)).toEqual([0])
    const text = await (await search('field.amount=%225%22', reader, 'orders')).json() as Page
    expect(text.results.map((r) => r.index)).toEqual([2])
    await expectProblem(await search('field.other=1', reader, 'orders'), 400, 'REQUEST_MALFORMED')
  })

  it('needs audit:read for the access log and log:read for the others', async () => {
    await expectProblem(await search('sub=alice', reader), 403, 'INSUFFICIENT_SCOPE')
    await h.ledger.createLog('audit')
    await expectProblem(await search('sub=alice', auditor, 'audit'), 403, 'INSUFFICIENT_SCOPE')
    expect((await search('sub=alice', reader, 'audit')).status).toBe(200)
  })

  it('refuses unknown, repeated and malformed parameters, and a cursor of another search', async () => {
    await appendRecords(['alice', 'alice', 'alice'])
    for (const query of ['nope=1', 'sub=a&sub=b', 'status=4x', 'from=yesterday', 'order=up', 'limit=0', 'cursor=!!', 'with_proofs=yes']) {
      await expectProblem(await search(query), 400, 'REQUEST_MALFORMED')
    }
    const page = await (await search('sub=alice&limit=1')).json() as Page
    await expectProblem(await search(`sub=bob&limit=1&cursor=${page.next!}`), 400, 'REQUEST_MALFORMED')
    expect((await search(`sub=alice&limit=1&cursor=${page.next!}`)).status).toBe(200)
  })
})
