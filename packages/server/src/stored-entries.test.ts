// What a client can store must be readable back: nesting, page sizes, origins, and
// Idempotency-Keys that outlive the process and are recorded as replays.
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from './app.js'
import { type Harness, ISSUER, AUDIENCE, accessRecords, bearer, harness, jwksOf, expectProblem } from './testing/fixture.js'

let h: Harness

afterEach(async () => h.close())

async function setup(limits: Record<string, number> = {}, clock?: () => Date): Promise<{ appender: string; reader: string }> {
  h = await harness({ app: { limits, ...(clock === undefined ? {} : { clock }) } })
  await h.ledger.createLog('audit')
  return { appender: await h.mint.token({ scope: 'log:append' }), reader: await h.mint.token({ scope: 'log:read' }) }
}

async function post(token: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return h.app.request('/v1/logs/audit/entries', {
    method: 'POST', body, headers: { ...bearer(token), 'Content-Type': 'application/json', ...headers },
  })
}

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`

describe('JSON nesting', () => {
  it('refuses events nested deeper than limits.jsonDepth, single or NDJSON, and appends nothing', async () => {
    const { appender } = await setup({ jsonDepth: 100, bodyBytes: 2 ** 20 })
    for (const depth of [5_000, 100_000]) {
      const single = await expectProblem(await post(appender, nested(depth)), 400, 'JSON_TOO_DEEP')
      expect(single).toMatchObject({ max_depth: 100, detail: 'the body nests arrays and objects deeper than 100 levels' })
      const batch = await expectProblem(await post(appender, `{"ok":1}\n${nested(depth)}\n`, { 'Content-Type': 'application/x-ndjson' }), 400, 'JSON_TOO_DEEP')
      expect(batch).toMatchObject({ max_depth: 100, line: 2 })
    }
    // Brackets inside strings do not count; the limit itself is accepted.
    expect((await post(appender, JSON.stringify({ text: '['.repeat(5_000) }))).status).toBe(201)
    expect((await post(appender, nested(100))).status).toBe(201)
    await expectProblem(await post(appender, nested(101)), 400, 'JSON_TOO_DEEP')
    expect(h.ledger.log('audit').size).toBe(2)
  })

  it('serves a stored entry whatever its nesting: the payload out of line, a deep leaf as base64', async () => {
    const { appender, reader } = await setup({ jsonDepth: 1_000 })
    expect((await post(appender, nested(900))).status).toBe(201)
    // An entry appended through the ledger directly, nested past anything JSON.stringify can print.
    await h.ledger.log('audit').append([new TextEncoder().encode(nested(30_000))])
    // The same ledger served with a lower limit, as after an operator lowers it.
    const strict = await createApp({
      ledger: h.ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...h.keys) }, limits: { jsonDepth: 100 },
    })
    const first = await strict.request('/v1/logs/audit/entries/0', { headers: bearer(reader) })
    expect(first.status).toBe(200)
    const view = await first.json() as Record<string, any>
    expect(view).toMatchObject({ index: 0, payload_omitted: 'too_deep', envelope: { object: { size: 1_800 } } })
    expect(view.payload).toBeUndefined()
    const object = await strict.request(`/v1/objects/${view.envelope.object.hash}`, { headers: bearer(reader) })
    expect(await object.text()).toBe(nested(900))
    const deep = await (await strict.request('/v1/logs/audit/entries/1', { headers: bearer(reader) })).json() as Record<string, any>
    expect(Buffer.from(deep.leaf_base64, 'base64').toString()).toBe(nested(30_000))
    const page = await strict.request('/v1/logs/audit/entries', { headers: bearer(reader) })
    expect(page.status).toBe(200)
    expect((await page.json() as Record<string, any>).entries.map((entry: { index: number }) => entry.index)).toEqual([0, 1])
  })
})

describe('pages of entries', () => {
  it('stop at limits.pageBytes, say where to continue, and never inline a payload larger than a page', async () => {
    const { appender, reader } = await setup({ pageBytes: 64 * 1024, bodyBytes: 128 * 1024 })
    const payloads = Array.from({ length: 7 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(30 * 1024) }))
    for (const payload of payloads) expect((await post(appender, payload)).status).toBe(201)
    const huge = JSON.stringify({ pad: 'y'.repeat(100 * 1024) })
    expect((await post(appender, huge)).status).toBe(201)
    const seen: number[] = []
    let path = '/v1/logs/audit/entries?limit=1000'
    for (;;) {
      const response = await h.app.request(path, { headers: bearer(reader) })
      expect(response.status).toBe(200)
      const text = await response.text()
      expect(text.length).toBeLessThanOrEqual(64 * 1024 + 4096)
      const page = JSON.parse(text) as { start: number; size: number; next: number; entries: Record<string, any>[] }
      expect(page.next).toBe(page.start + page.entries.length)
      for (const entry of page.entries) {
        seen.push(entry.index)
        if (entry.index < payloads.length) expect(JSON.stringify(entry.payload)).toBe(payloads[entry.index])
        else expect(entry).toMatchObject({ payload_omitted: 'too_large', envelope: { object: { size: huge.length } } })
      }
      const link = response.headers.get('link')
      if (page.next === page.size) {
        expect(link).toBeNull()
        break
      }
      expect(link).toBe(`</v1/logs/audit/entries?start=${page.next}&limit=1000>; rel="next"`)
      path = /^<([^>]+)>/.exec(link!)![1]!
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

describe('origins', () => {
  it('are unique in a ledger, C2SP key names, and short', async () => {
    await setup({ bodyBytes: 2 ** 20 })
    const admin = await h.mint.token({ scope: 'log:admin:pay log:admin:other' })
    const create = (body: unknown) => h.app.request('/v1/logs', {
      method: 'POST', body: JSON.stringify(body), headers: { ...bearer(admin), 'Content-Type': 'application/json' },
    })
    await expectProblem(await create({ name: 'pay', origin: 'annal.test/audit' }), 409, 'ORIGIN_EXISTS')
    await expectProblem(await create({ name: 'pay', origin: `annal.test/${'x'.repeat(900_000)}` }), 400, 'ORIGIN_INVALID')
    await expectProblem(await create({ name: 'pay', origin: 'annal.test/a b' }), 400, 'ORIGIN_INVALID')
    expect((await create({ name: 'pay', origin: 'annal.test/pay' })).status).toBe(201)
    await expectProblem(await create({ name: 'other', origin: 'annal.test/pay' }), 409, 'ORIGIN_EXISTS')
    expect(h.ledger.logs().map((log) => log.name).sort()).toEqual(['access', 'alerts', 'audit', 'pay'])
  })
})

describe('Idempotency-Keys', () => {
  it('replay the first answer byte for byte after the ledger is closed and opened again', async () => {
    const { appender } = await setup()
    const ndjson = { 'Content-Type': 'application/x-ndjson' }
    const single = await post(appender, '{"n":1}', { 'Idempotency-Key': 'single' })
    const batch = await post(appender, '{"n":2}\n{"n":3}\n', { ...ndjson, 'Idempotency-Key': 'batch' })
    // Entries after them, so that the replayed checkpoints are not simply the latest.
    expect((await post(appender, '{"n":4}')).status).toBe(201)
    const answers = [await single.text(), await batch.text()]
    await h.ledger.close()
    const { Ledger } = await import('@annal/store')
    const ledger = await Ledger.open(h.directory, { originPrefix: 'annal.test' })
    const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...h.keys) } })
    h = { ...h, ledger, app }
    const token = await h.mint.token({ scope: 'log:append' })
    const again = [await post(token, '{"n":1}', { 'Idempotency-Key': 'single' }),
      await post(token, '{"n":2}\n{"n":3}\n', { ...ndjson, 'Idempotency-Key': 'batch' })]
    for (const [i, response] of again.entries()) {
      expect(response.status).toBe(201)
      expect(response.headers.get('idempotent-replayed')).toBe('true')
      expect(await response.text()).toBe(answers[i])
    }
    expect(again[1]!.headers.get('content-type')).toBe('application/x-ndjson')
    expect(ledger.log('audit').size).toBe(4)
    await expectProblem(await post(token, '{"n":9}', { 'Idempotency-Key': 'single' }), 422, 'IDEMPOTENCY_KEY_REUSED')
  })

  it('are recorded as replays in the access log, so that appends can be counted from it', async () => {
    const { appender } = await setup()
    for (let i = 0; i < 3; i++) expect((await post(appender, '{"n":1}', { 'Idempotency-Key': 'k' })).status).toBe(201)
    await Promise.all([1, 2, 3].map(() => post(appender, '{"n":2}', { 'Idempotency-Key': 'concurrent' })))
    const appends = (await accessRecords(h.ledger)).filter((record) => record.route === '/v1/logs/:log/entries')
    expect(appends.map((record) => [record.status, record.replayed ?? false]).sort()).toEqual([
      [201, false], [201, false], [201, true], [201, true], [201, true], [201, true],
    ])
    expect(appends.filter((record) => record.replayed !== true)).toHaveLength(h.ledger.log('audit').size)
  })

  it('are forgotten after limits.idempotencyTtlMs, and the oldest first beyond limits.idempotencyBytes', async () => {
    let now = Date.parse('2026-12-01T00:00:00Z')
    const { appender } = await setup({ idempotencyTtlMs: 60_000, idempotencyBytes: 2_000 }, () => new Date(now))
    const table = h.ledger.table('idempotency')
    const rows = async () => {
      let count = 0
      let bytes = 0
      for await (const [key, value] of table.rows()) {
        count++
        bytes += key.length + value.length
      }
      return { count, bytes }
    }
    expect((await post(appender, '{"n":0}', { 'Idempotency-Key': 'k0' })).status).toBe(201)
    now += 61_000
    // Past its time: the same key appends again.
    const late = await post(appender, '{"n":0}', { 'Idempotency-Key': 'k0' })
    expect(late.headers.get('idempotent-replayed')).toBeNull()
    expect(h.ledger.log('audit').size).toBe(2)
    for (let i = 1; i <= 20; i++) expect((await post(appender, `{"n":${i}}`, { 'Idempotency-Key': `k${i}` })).status).toBe(201)
    const kept = await rows()
    expect(kept.bytes).toBeLessThanOrEqual(2_000)
    expect(kept.count).toBeGreaterThan(3)
    expect(kept.count).toBeLessThan(20)
    // The newest is still replayed; the oldest is gone.
    expect((await post(appender, '{"n":20}', { 'Idempotency-Key': 'k20' })).headers.get('idempotent-replayed')).toBe('true')
    expect((await post(appender, '{"n":1}', { 'Idempotency-Key': 'k1' })).headers.get('idempotent-replayed')).toBeNull()
  })
})
