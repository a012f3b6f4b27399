// Search results equal a brute-force filter of the same records: random access records appended
// to a log of their own per run (the searches' own records go to the access log, and the indexer
// reads any log's records alike), random filters, orders and page sizes, every page followed to
// the end, with more records appended after the first page that the search must not return.
// Records' times mostly go forward and now and then step back, as a server's clock may, over
// logs long enough to fill several nodes of the time index.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessRecordBytes } from './access-record.js'
import type { Principal } from './auth.js'
import { type Harness, bearer, harness } from './testing/fixture.js'

const SUBS = ['alice', 'bob', 'carol']
const SCOPES = ['log:read', 'log:append', 'audit:read']
const ROUTES = ['/v1/logs/:log/entries', '/v1/logs/:log/search']
const STATUSES = [200, 201, 403, 404, 500]
const ADDRESSES = ['10.0.0.1', '2001:db8::1']
const BASE = Date.UTC(2026, 0, 1)
/** About the seconds a run's records span. */
const SPAN = 6000
const utf8 = new TextDecoder()

const record = fc.record({
  sub: fc.option(fc.constantFrom(...SUBS), { nil: undefined }),
  client: fc.constantFrom('cli', 'web'),
  jti: fc.constantFrom('j1', 'j2'),
  scopes: fc.subarray(SCOPES),
  required: fc.option(fc.constantFrom(...SCOPES), { nil: undefined }),
  route: fc.constantFrom(...ROUTES),
  status: fc.constantFrom(...STATUSES),
  address: fc.constantFrom(...ADDRESSES),
  /** Seconds after the record before; now and then back. */
  step: fc.oneof({ weight: 9, arbitrary: fc.nat(20) }, { weight: 1, arbitrary: fc.integer({ min: -600, max: -1 }) }),
})

const values = fc.record({
  sub: fc.constantFrom(...SUBS), client_id: fc.constantFrom('cli', 'web'), jti: fc.constantFrom('j1', 'j2'),
  required_scope: fc.constantFrom(...SCOPES), granted_scope: fc.constantFrom(...SCOPES), route: fc.constantFrom(...ROUTES),
  status: fc.constantFrom('200', '403', '2xx', '4xx', '5xx'), remote_address: fc.constantFrom(...ADDRESSES),
  from: fc.nat(SPAN), width: fc.nat(SPAN / 10),
})
// A few filters at a time, so that searches match enough records to take several pages.
const filters = fc.tuple(values, fc.uniqueArray(fc.constantFrom(...(['sub', 'client_id', 'jti', 'required_scope',
  'granted_scope', 'route', 'status', 'remote_address', 'from', 'to'] as const)), { maxLength: 3 }))
  .map(([all, keys]) => Object.fromEntries(keys.map((key) => [key, key === 'to' ? all.from + all.width : all[key]])) as Filters)

type Filters = Partial<Record<string, string | number>>

const isoAt = (second: number) => new Date(BASE + second * 1000).toISOString()

/** The brute-force filter, written from the records' members without the search's code. */
function matches(rec: Record<string, any>, f: Filters): boolean {
  const status = String(f.status ?? '')
  return (f.sub === undefined || rec.actor?.sub === f.sub) &&
    (f.client_id === undefined || rec.actor?.client_id === f.client_id) &&
    (f.jti === undefined || rec.token?.jti === f.jti) &&
    (f.required_scope === undefined || rec.required_scope === f.required_scope) &&
    (f.granted_scope === undefined || (rec.scopes ?? []).includes(f.granted_scope)) &&
    (f.route === undefined || rec.route === f.route) &&
    (f.remote_address === undefined || rec.remote_address === f.remote_address) &&
    (f.status === undefined || (status.endsWith('xx') ? Math.floor(rec.status / 100) === Number(status[0]) : rec.status === Number(status))) &&
    (f.from === undefined || Date.parse(rec.time) >= BASE + Number(f.from) * 1000) &&
    (f.to === undefined || Date.parse(rec.time) < BASE + Number(f.to) * 1000)
}

describe('search', () => {
  let h: Harness
  let reader: string
  let run = 0

  beforeAll(async () => {
    h = await harness()
    reader = await h.mint.token({ scope: 'log:read', expiresIn: 3600 })
  })
  afterAll(async () => h.close())

  it('equals a brute-force filter of the log, page after page', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.array(record, { minLength: 1, maxLength: 300, size: 'max' }), { maxLength: 3 }), filters, fc.boolean(),
      fc.integer({ min: 3, max: 40 }), fc.array(record, { minLength: 1, maxLength: 5 }),
      async (batches, f, newest, limit, later) => {
        const name = `records-${run++}`
        await h.ledger.createLog(name)
        let second = 0
        const append = (batch: readonly (typeof later)[number][]) => h.ledger.log(name).append(batch.map((r, i) => accessRecordBytes({
            time: new Date(BASE + (second += r.step) * 1000), requestId: `r${i}`, method: 'GET', route: r.route, status: r.status,
            requiredScope: r.required, remoteAddress: r.address, fingerprint: 'fp',
            principal: { iss: 'https://issuer.test', sub: r.sub, clientId: r.client, jti: r.jti, scopes: r.scopes, fingerprint: 'fp', expiresAt: 0 } as Principal,
        })))
        for (const batch of batches) await append(batch)
        const params = new URLSearchParams(Object.entries(f).map(([k, v]) => [k, k === 'from' || k === 'to' ? isoAt(v as number) : String(v)]))
        params.set('order', newest ? 'newest' : 'oldest')
        params.set('limit', String(limit))
        const found: number[] = []
        let size: number | undefined
        for (let url: string | undefined = `/v1/logs/${name}/search?${params}`; url !== undefined;) {
          const response: Response = await h.app.request(url, { headers: bearer(reader) })
          expect(response.status).toBe(200)
          const page = await response.json() as { size: number; results: { index: number }[] }
          size ??= page.size
          expect(page.results.length).toBeLessThanOrEqual(limit)
          found.push(...page.results.map((r) => r.index))
          url = /^<([^>]+)>; rel="next"$/.exec(response.headers.get('link') ?? '')?.[1]
          if (found.length === page.results.length) await append(later)
        }
        const entries = await h.ledger.log(name).entries(0, size!)
        const expected = entries.filter((e) => matches(JSON.parse(utf8.decode(e.data)) as Record<string, any>, f)).map((e) => e.index)
        expect(found).toEqual(newest ? expected.reverse() : expected)
      }), { numRuns: 30 })
  })
})
