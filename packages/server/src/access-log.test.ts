import { Ledger } from '@annal/store'
import { LevelDriver, type Swap, type WriteOp } from '@annal/storage'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Harness, accessRecords, bearer, harness, recordOf } from './testing/fixture.js'

let h: Harness

beforeEach(async () => {
  h = await harness()
  await h.ledger.createLog('audit')
})
afterEach(async () => {
  vi.restoreAllMocks()
  await h.close()
})

describe('the access log', () => {
  it('is created at startup and kept across apps on one ledger', async () => {
    expect(h.ledger.logs().map((log) => log.name)).toContain('access')
    const { createApp } = await import('./app.js')
    const size = h.ledger.log('access').size
    await createApp({ ledger: h.ledger, auth: { issuer: 'https://i.test', audience: 'https://a.test/', jwks: { keys: [] } } })
    expect(h.ledger.log('access').size).toBe(size)
  })

  it('records requests with a token or on protected routes, not anonymous public reads', async () => {
    await h.app.request('/v1/logs/audit/checkpoint')
    await h.app.request('/healthz')
    expect(h.ledger.log('access').size).toBe(0)
    const token = await h.mint.token({ scope: 'log:read' })
    const withToken = await h.app.request('/v1/logs/audit/checkpoint', { headers: { ...bearer(token), 'User-Agent': 'probe/1' } })
    expect(await recordOf(h.ledger, withToken)).toMatchObject({
      route: '/v1/logs/:log/checkpoint', log: 'audit', status: 200, user_agent: 'probe/1', scopes: ['log:read'],
    })
    const anonymousProtected = await h.app.request('/v1/logs/audit/entries')
    expect(await recordOf(h.ledger, anonymousProtected)).toMatchObject({ status: 401, code: 'TOKEN_MISSING' })
    const unknownRoute = await h.app.request('/v1/unknown', { headers: bearer(token) })
    expect(await recordOf(h.ledger, unknownRoute)).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND' })
    expect((await recordOf(h.ledger, unknownRoute))!.route).toBeUndefined()
  })

  it('never holds request bodies or tokens', async () => {
    const token = await h.mint.token({ scope: 'log:append' })
    await h.app.request('/v1/logs/audit/entries', {
      method: 'POST', body: '{"secret":"hunter2"}', headers: { ...bearer(token), 'Content-Type': 'application/json' },
    })
    const text = JSON.stringify(await accessRecords(h.ledger))
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain(token)
  })

  it('is read with audit:read through the ordinary routes', async () => {
    const reader = await h.mint.token({ scope: 'log:read' })
    await h.app.request('/v1/logs/audit/entries', { headers: bearer(reader) })
    const denied = await h.app.request('/v1/logs/access/entries', { headers: bearer(reader) })
    expect(denied.status).toBe(403)
    expect(denied.headers.get('www-authenticate')).toMatch(/scope="audit:read"/)
    const auditor = await h.mint.token({ scope: 'audit:read' })
    const response = await h.app.request('/v1/logs/access/entries', { headers: bearer(auditor) })
    expect(response.status).toBe(200)
    const body = await response.json() as { entries: { envelope: Record<string, unknown> }[] }
    expect(body.entries.map((entry) => entry.envelope.status)).toEqual([200, 403])
    expect((await h.app.request('/v1/logs/access/entries/0', { headers: bearer(auditor) })).status).toBe(200)
    const bundle = await h.app.request('/v1/logs/access/tile/entries/000.p/1', { headers: bearer(auditor) })
    expect(bundle.status).toBe(200)
    expect(bundle.headers.get('cache-control')).toMatch(/^private, /)
    const tile = await h.app.request('/v1/logs/access/tile/0/000.p/1', { headers: bearer(auditor) })
    expect(tile.status).toBe(200)
    expect(tile.headers.get('cache-control')).toMatch(/^private, /)
  })

  it('commits an append and its record in one write: one record each, or neither', async () => {
    // A driver that can be told to fail the write swapping two logs' heads: the append's and its record's.
    let failing = false
    const open = LevelDriver.open.bind(LevelDriver)
    vi.spyOn(LevelDriver, 'open').mockImplementation(async (...args) => {
      const driver = await open(...args)
      return new Proxy(driver, {
        get(target, property) {
          if (property === 'compareAndSwapAll') {
            return (swaps: readonly Swap[], ops: readonly WriteOp[]) =>
              (failing && swaps.length > 1 ? Promise.reject(new Error('disk full')) : target.compareAndSwapAll(swaps, ops))
          }
          const value = Reflect.get(target, property, target) as unknown
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    })
    const f = await harness()
    try {
      await f.ledger.createLog('audit')
      const appender = await f.mint.token({ scope: 'log:append' })
      const post = (body: string, key?: string) => f.app.request('/v1/logs/audit/entries', {
        method: 'POST', body,
        headers: { ...bearer(appender), 'Content-Type': 'application/json', ...(key === undefined ? {} : { 'Idempotency-Key': key }) },
      })
      // Records appended on their own go through the access log's append; the append's does not.
      const alone = vi.spyOn(f.ledger.log('access'), 'append')
      const appended = await post('{"n":1}', 'k1')
      expect(appended.status).toBe(201)
      expect(alone).not.toHaveBeenCalled()
      const replayed = await post('{"n":1}', 'k1')
      expect(replayed.headers.get('idempotent-replayed')).toBe('true')
      expect(alone).toHaveBeenCalledOnce()
      const records = await accessRecords(f.ledger)
      // One record per request: the append's came with its entry, the replay's from the middleware.
      expect(records.map((record) => [record.request_id, record.status, record.authorized_by])).toEqual([
        [appended.headers.get('x-request-id'), 201, 'log:append'], [replayed.headers.get('x-request-id'), 201, 'log:append'],
      ])
      failing = true
      const failed = await post('{"n":"lost"}')
      failing = false
      // The disk refused the write: the ledger takes no write, the failure's record included,
      // until it has recovered (reopened), and the answer says that it cannot write.
      expect(failed.status).toBe(503)
      expect(await failed.json()).toMatchObject({ code: 'STORAGE_UNWRITABLE' })
      for (const deadline = Date.now() + 20_000; !f.ledger.writeHealth.ok;) {
        if (Date.now() > deadline) throw new Error('the ledger did not recover')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      const recordsOf = async (ledger: Ledger) => (await accessRecords(ledger))
        .filter((record) => record.request_id === failed.headers.get('x-request-id')).map((record) => record.status)
      expect(await recordsOf(f.ledger)).toEqual([])
      expect([f.ledger.log('audit').size, f.ledger.log('access').size]).toEqual([1, 2])
      // Read back from disk: neither the entry nor its 201 record was written.
      await f.ledger.close()
      const reopened = await Ledger.open(f.directory)
      try {
        expect([reopened.log('audit').size, reopened.log('access').size]).toEqual([1, 2])
        expect(new TextDecoder().decode((await reopened.log('audit').entry(0)).data)).not.toContain('lost')
        expect(await recordsOf(reopened)).toEqual([])
      } finally {
        await reopened.close()
      }
    } finally {
      await f.close()
    }
  })

  it('gives an append\'s envelope and its access record the same time', async () => {
    // A clock that moves on at every reading: two readings for one request would show.
    let now = Date.now()
    const ticking = await harness({ app: { clock: () => new Date(now++) } })
    try {
      await ticking.ledger.createLog('audit')
      const token = await ticking.mint.token({ scope: 'log:append' })
      const response = await ticking.app.request('/v1/logs/audit/entries', {
        method: 'POST', body: '{"n":1}', headers: { ...bearer(token), 'Content-Type': 'application/json' },
      })
      expect(response.status).toBe(201)
      const envelope = JSON.parse(new TextDecoder().decode((await ticking.ledger.log('audit').entry(0)).data)) as { time: string }
      expect((await recordOf(ticking.ledger, response))!.time).toBe(envelope.time)
    } finally {
      await ticking.close()
    }
  })

  it('fails closed: a request whose record cannot be appended gets 503 and none of its data', async () => {
    const reader = await h.mint.token({ scope: 'log:read' })
    const appender = await h.mint.token({ scope: 'log:append' })
    const post = await h.app.request('/v1/logs/audit/entries', {
      method: 'POST', body: '{"payload":"visible"}', headers: { ...bearer(appender), 'Content-Type': 'application/json' },
    })
    expect(post.status).toBe(201)
    expect(post.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    vi.spyOn(h.ledger.log('access'), 'append').mockRejectedValue(new Error('disk full'))
    const response = await h.app.request('/v1/logs/audit/entries/0', { headers: bearer(reader) })
    expect(response.status).toBe(503)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const text = await response.text()
    expect(text).not.toContain('visible')
    expect(JSON.parse(text)).toMatchObject({ code: 'ACCESS_LOG_UNAVAILABLE', status: 503 })
    const tile = await h.app.request('/v1/logs/audit/tile/0/000.p/1', { headers: bearer(reader) })
    expect(tile.status).toBe(503)
    expect(tile.headers.get('cache-control')).toBe('no-store')
    const refused = await h.app.request('/v1/logs/audit/entries')
    expect(refused.status).toBe(503)
    // Anonymous public reads are not recorded, so they go on.
    expect((await h.app.request('/v1/logs/audit/checkpoint')).status).toBe(200)
  })

  it('fails closed for changes outside an append: no log is created and nothing is erased without a record', async () => {
    const admin = await h.mint.token({ scope: 'log:admin' })
    const appender = await h.mint.token({ scope: 'log:append' })
    const json = { ...bearer(admin), 'Content-Type': 'application/json' }
    const { object } = await (await h.app.request('/v1/logs/audit/entries', {
      method: 'POST', body: '{"email":"carol@example.com"}', headers: { ...bearer(appender), 'Content-Type': 'application/json' },
    })).json() as { object: string }
    const size = h.ledger.log('access').size
    const refusing = vi.spyOn(h.ledger.log('access'), 'append').mockRejectedValue(new Error('disk full'))
    const create = await h.app.request('/v1/logs', { method: 'POST', body: '{"name":"payments"}', headers: json })
    expect(create.status).toBe(503)
    expect(await create.json()).toMatchObject({ code: 'ACCESS_LOG_UNAVAILABLE' })
    const erase = await h.app.request(`/v1/objects/${object}/erase`, { method: 'POST', body: '{"reason":"GDPR","log":"audit"}', headers: json })
    expect(erase.status).toBe(503)
    expect(h.ledger.logs().map((log) => log.name)).not.toContain('payments')
    expect(h.ledger.log('audit').size).toBe(1)
    expect(new TextDecoder().decode(await h.ledger.objects.get(object))).toBe('{"email":"carol@example.com"}')
    refusing.mockRestore()
    expect(h.ledger.log('access').size).toBe(size)
    // With the access log back, each change lands with exactly one record of it, written first.
    const created = await h.app.request('/v1/logs', { method: 'POST', body: '{"name":"payments"}', headers: json })
    expect(created.status).toBe(201)
    const records = await accessRecords(h.ledger)
    expect(records.filter((record) => record.request_id === created.headers.get('x-request-id'))).toEqual([
      expect.objectContaining({ route: '/v1/logs', status: 201, authorized_by: 'log:admin' }),
    ])
  })
})
