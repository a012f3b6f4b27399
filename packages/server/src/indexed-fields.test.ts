import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger } from '@annal/store'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { appAlerts, createApp } from './app.js'
import { indexLedger, reindexLog } from './search-fields.js'
import { AUDIENCE, ISSUER, Mint, type Harness, accessRecords, bearer, expectProblem, harness, jwksOf, signingKey } from './testing/fixture.js'

const REGIONS = ['eu', 'us', 'ap']
const CUSTOMERS = ['acme', 'initech']

interface Page {
  size: number
  next: string | null
  unindexed_below: number
  results: { index: number; payload: { customer: string; region: string } }[]
}

interface Status {
  log: string
  indexed_fields: string[]
  indexed_from: number
  fields_indexed_from: Record<string, number>
  reindex: { done: number; total: number; running: boolean } | null
  reindex_error: string | null
}

async function createLog(h: Harness, token: string, name: string, fields: string[]): Promise<void> {
  const created = await h.app.request('/v1/logs', {
    method: 'POST', headers: { ...bearer(token), 'Content-Type': 'application/json' }, body: JSON.stringify({ name, indexed_fields: fields }),
  })
  expect(created.status).toBe(201)
}

async function appendEvents(h: Harness, token: string, name: string, events: readonly object[]): Promise<void> {
  const response = await h.app.request(`/v1/logs/${name}/entries`, {
    method: 'POST', headers: { ...bearer(token), 'Content-Type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n'),
  })
  expect(response.status).toBe(201)
}

/** Every result of a search, page after page, and the first page's `unindexed_below`. */
async function searchAll(h: Harness, token: string, name: string, query: string): Promise<{ indexes: number[]; unindexedBelow: number }> {
  const indexes: number[] = []
  let unindexedBelow: number | undefined
  for (let url: string | undefined = `/v1/logs/${name}/search?${query}`; url !== undefined;) {
    const response: Response = await h.app.request(url, { headers: bearer(token) })
    expect(response.status).toBe(200)
    const page = await response.json() as Page
    unindexedBelow ??= page.unindexed_below
    indexes.push(...page.results.map((r) => r.index))
    url = /^<([^>]+)>; rel="next"$/.exec(response.headers.get('link') ?? '')?.[1]
  }
  return { indexes, unindexedBelow: unindexedBelow! }
}

/** Polls the log's index status until no reindex runs, within a bound. */
async function reindexed(h: Harness, token: string, name: string): Promise<Status> {
  for (let polls = 0; polls < 10_000; polls++) {
    const status = await (await h.app.request(`/v1/admin/logs/${name}/reindex`, { headers: bearer(token) })).json() as Status
    if (status.reindex === null || !status.reindex.running) return status
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('the reindex did not end')
}

describe('PATCH /v1/logs/{log} and reindexing', () => {
  let h: Harness
  let admin: string

  beforeEach(async () => {
    h = await harness()
    admin = await h.mint.token({ scope: 'log:read log:append log:admin audit:read' })
  })
  afterEach(async () => h.close())

  it('indexes an added field in entries from then on, records the change, and reindexes the older ones', async () => {
    await createLog(h, admin, 'orders', ['customer'])
    const events = Array.from({ length: 30 }, (_, i) => ({ customer: CUSTOMERS[i % 2], region: REGIONS[i % 3] }))
    await appendEvents(h, admin, 'orders', events.slice(0, 20))
    await expectProblem(await h.app.request('/v1/logs/orders/search?field.region=eu', { headers: bearer(admin) }), 400, 'REQUEST_MALFORMED')

    const patched = await h.app.request('/v1/logs/orders', {
      method: 'PATCH', headers: { ...bearer(admin), 'Content-Type': 'application/json' },
      body: JSON.stringify({ indexed_fields: ['customer', 'region'], reason: 'search orders by region' }),
    })
    expect(patched.status).toBe(200)
    const status = await patched.json() as Status
    expect(status).toMatchObject({ log: 'orders', indexed_fields: ['customer', 'region'], indexed_from: 0 })
    expect([0, 20]).toContain(status.fields_indexed_from.region)
    const record = (await accessRecords(h.ledger)).find((r) => r.type === 'annal.indexed-fields/v1')
    expect(record).toMatchObject({ log: 'orders', indexed_fields: ['customer', 'region'], indexed_from: { region: 20 }, reason: 'search orders by region' })

    await appendEvents(h, admin, 'orders', events.slice(20))
    const expected = events.flatMap((e, i) => (e.region === 'eu' && e.customer === 'acme' ? [i] : [])).reverse()
    // Whether the reindex has finished or not, the search finds them all.
    expect((await searchAll(h, admin, 'orders', 'field.region=eu&field.customer=acme&limit=2')).indexes).toEqual(expected)
    const done = await reindexed(h, admin, 'orders')
    expect(done).toMatchObject({ fields_indexed_from: { customer: 0, region: 0 }, reindex: null, reindex_error: null })
    expect(await searchAll(h, admin, 'orders', 'field.region=eu&field.customer=acme&limit=2')).toEqual({ indexes: expected, unindexedBelow: 0 })
  })

  it('refuses a bad body, a missing scope and an unknown log', async () => {
    await createLog(h, admin, 'orders', [])
    const patch = (body: unknown, token = admin, log = 'orders') => h.app.request(`/v1/logs/${log}`, {
      method: 'PATCH', headers: { ...bearer(token), 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    })
    for (const body of [{ indexed_fields: ['a'] }, { reason: 'why' }, { indexed_fields: ['a', 'a'], reason: 'why' },
      { indexed_fields: ['a'], reason: 'why', more: 1 }, { indexed_fields: 'a', reason: 'why' }]) {
      await expectProblem(await patch(body), 400, 'REQUEST_MALFORMED')
    }
    const reader = await h.mint.token({ scope: 'log:read log:append' })
    await expectProblem(await patch({ indexed_fields: ['a'], reason: 'why' }, reader), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await h.app.request('/v1/admin/logs/orders/reindex', { method: 'POST', headers: bearer(reader) }), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await patch({ indexed_fields: ['a'], reason: 'why' }, admin, 'nope'), 404, 'LOG_NOT_FOUND')
    await expectProblem(await h.app.request('/v1/admin/logs/nope/reindex', { method: 'POST', headers: bearer(admin) }), 404, 'LOG_NOT_FOUND')
    expect((await accessRecords(h.ledger)).some((r) => r.type === 'annal.indexed-fields/v1')).toBe(false)
  })

  it('reindexes a log when asked, and says how far it got', async () => {
    await createLog(h, admin, 'orders', ['region'])
    await appendEvents(h, admin, 'orders', [{ region: 'eu' }, { region: 'us' }])
    const started = await h.app.request('/v1/admin/logs/orders/reindex', { method: 'POST', headers: bearer(admin) })
    expect(started.status).toBe(202)
    expect((await started.json() as Status).reindex).toMatchObject({ running: true })
    expect(await reindexed(h, admin, 'orders')).toMatchObject({ reindex: null, fields_indexed_from: { region: 0 } })
    expect((await searchAll(h, admin, 'orders', 'field.region=us')).indexes).toEqual([1])
  })
})

describe('a server starting', () => {
  it('reindexes a log whose index misses entries, and resumes a reindex cut short', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'annal-resume-'))
    const utf8 = new TextEncoder()
    const record = (i: number) => utf8.encode(JSON.stringify({ actor: { sub: `user-${i % 3}` }, time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() }))
    try {
      let ledger = await Ledger.open(directory, { originPrefix: 'annal.test' })
      // Appended by the store alone, without the server's indexer.
      await ledger.createLog('plain')
      await ledger.log('plain').append(Array.from({ length: 10 }, (_, i) => record(i)))
      await ledger.createLog('big')
      await ledger.log('big').append(Array.from({ length: 10_000 }, (_, i) => record(i)))
      const stop = new AbortController()
      await expect(reindexLog(ledger, 'big', { signal: stop.signal, onProgress: (done) => { if (done > 0) stop.abort() } })).rejects.toThrow()
      expect((await ledger.reindexProgress('big'))?.done).toBeGreaterThan(0)
      await ledger.close()

      ledger = await Ledger.open(directory, { originPrefix: 'annal.test' })
      const key = await signingKey('ES256')
      const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) } })
      const token = await new Mint(key).token({ scope: 'log:admin log:read' })
      const h = { app } as Harness
      try {
        for (const name of ['plain', 'big']) {
          expect(await reindexed(h, token, name)).toMatchObject({ indexed_from: 0, reindex: null, reindex_error: null })
        }
        expect((await searchAll(h, token, 'plain', 'sub=user-1&order=oldest')).indexes).toEqual([1, 4, 7])
        expect((await searchAll(h, token, 'big', 'sub=user-2&from=2026-01-01T00:00:05Z&to=2026-01-01T00:00:12Z')).indexes).toEqual([11, 8, 5])
      } finally {
        await appAlerts(app).close()
        await ledger.close()
      }
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})

// Searches on a field indexed only from some index on equal a filter of the log: the entries
// below it are read and checked one by one, with or without the other filters and a time
// range, in either order and any page size.
describe('a search on a field indexed from some index on', () => {
  let h: Harness
  let admin: string
  let run = 0

  beforeAll(async () => {
    h = await harness()
    admin = await h.mint.token({ scope: 'log:read log:append log:admin' })
  })
  afterAll(async () => h.close())

  it('equals a filter of the log', async () => {
    const event = fc.record({ customer: fc.constantFrom(...CUSTOMERS), region: fc.constantFrom(...REGIONS) })
    await fc.assert(fc.asyncProperty(
      fc.array(event, { minLength: 1, maxLength: 60 }), fc.array(event, { maxLength: 60 }), fc.constantFrom(...REGIONS),
      fc.option(fc.constantFrom(...CUSTOMERS), { nil: undefined }), fc.boolean(), fc.integer({ min: 1, max: 15 }), fc.boolean(),
      async (before, after, region, customer, newest, limit, timed) => {
        const name = `orders-${run++}`
        await createLog(h, admin, name, ['customer'])
        await appendEvents(h, admin, name, before)
        // The field added as a PATCH adds it, without the reindex that follows one.
        const fields = await indexLedger(h.ledger)
        const table = h.ledger.table('search-fields')
        await fields.change(h.ledger, name, ['customer', 'region'], (row) => table.write([row]))
        if (after.length > 0) await appendEvents(h, admin, name, after)
        const events = [...before, ...after]
        const query = new URLSearchParams({ 'field.region': region, order: newest ? 'newest' : 'oldest', limit: String(limit) })
        if (customer !== undefined) query.set('field.customer', customer)
        if (timed) query.set('from', '2000-01-01T00:00:00Z')
        const expected = events.flatMap((e, i) => (e.region === region && (customer === undefined || e.customer === customer) ? [i] : []))
        const found = await searchAll(h, admin, name, query.toString())
        expect(found.indexes).toEqual(newest ? expected.reverse() : expected)
        expect(found.unindexedBelow).toBe(before.length)
      }), { numRuns: 25 })
  })
})
