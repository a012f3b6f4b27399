import { createHash } from 'node:crypto'
import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { hexToBytes, verifyInclusion } from '@annal/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.js'
import { tokenFingerprint } from './auth.js'
import { type Harness, ISSUER, accessRecords, bearer, harness, recordOf, expectProblem } from './testing/fixture.js'

let h: Harness
let appender: string
let reader: string
let admin: string

beforeEach(async () => {
  h = await harness({ app: { limits: { bodyBytes: 4096, ndjsonLines: 5 } } })
  await h.ledger.createLog('audit')
  appender = await h.mint.token({ scope: 'log:append:audit extra:scope' })
  reader = await h.mint.token({ scope: 'log:read' })
  admin = await h.mint.token({ scope: 'log:admin' })
})
afterEach(async () => h.close())

async function post(body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}, token = appender, log = 'audit'): Promise<Response> {
  // A string body would otherwise go out as text/plain, as fetch does.
  const type: Record<string, string> = typeof body === 'string' ? { 'Content-Type': 'application/json' } : {}
  return h.app.request(`/v1/logs/${log}/entries`, { method: 'POST', body, headers: { ...bearer(token), ...type, ...headers } })
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('appending events', () => {
  it('stores the body as an object and appends a canonical envelope', async () => {
    const event = '{"action":"login","user":"alice"}'
    const response = await post(event, { 'Content-Type': 'application/json', 'User-Agent': 'test-agent' })
    expect(response.status).toBe(201)
    const result = await response.json() as Record<string, any>
    const log = h.ledger.log('audit')
    expect(result).toEqual({
      index: 0, id: result.id, object: `sha256:${sha256(event)}`, duplicate: false,
      checkpoint: { size: 1, root: log.checkpointInfo.root },
    })
    const entry = await log.entry(0)
    expect(entry.id).toBe(result.id)
    const text = new TextDecoder().decode(entry.data)
    const envelope = JSON.parse(text) as Record<string, any>
    expect(canonicalJson(envelope)).toBe(text)
    expect(envelope).toEqual({
      type: 'annal.event/v1',
      time: envelope.time,
      request_id: response.headers.get('x-request-id'),
      object: { hash: `sha256:${sha256(event)}`, size: event.length, content_type: 'application/json' },
      actor: { iss: ISSUER, sub: 'user-1', client_id: 'client-1' },
      token: { jti: envelope.token.jti, sha256: tokenFingerprint(appender) },
      scope: 'log:append:audit',
      scopes: ['log:append:audit', 'extra:scope'],
    })
    expect(envelope.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(text).not.toContain(appender)
    expect(new TextDecoder().decode(await h.ledger.objects.get(result.object))).toBe(event)
    expect(await recordOf(h.ledger, response)).toMatchObject({ status: 201, method: 'POST', authorized_by: 'log:append:audit', user_agent: 'test-agent' })
  })

  it('takes JSON by default and any other content type as opaque bytes', async () => {
    const json = await post('{"a":1}')
    expect(json.status).toBe(201)
    const binary = await post(new Uint8Array([0, 1, 2, 255]), { 'Content-Type': 'application/octet-stream' })
    expect(binary.status).toBe(201)
    const entry = await h.ledger.log('audit').entry(1)
    expect(JSON.parse(new TextDecoder().decode(entry.data)).object.content_type).toBe('application/octet-stream')
  })

  it('refuses bad bodies with problems and leaves the log unchanged', async () => {
    await expectProblem(await post(''), 400, 'ENTRY_EMPTY')
    const malformed = await expectProblem(await post('{"secret-value": '), 400, 'BODY_MALFORMED')
    expect(JSON.stringify(malformed)).not.toContain('secret-value')
    await expectProblem(await post(new Uint8Array([0xff, 0xfe]), { 'Content-Type': 'application/json' }), 400, 'BODY_MALFORMED')
    await expectProblem(await post('x'.repeat(4097), { 'Content-Type': 'text/plain' }), 413, 'BODY_TOO_LARGE')
    await expectProblem(await post('a=1', { 'Content-Type': 'application/x-www-form-urlencoded' }), 415, 'CONTENT_TYPE_UNSUPPORTED')
    await expectProblem(await post('--x', { 'Content-Type': 'multipart/form-data; boundary=x' }), 415, 'CONTENT_TYPE_UNSUPPORTED')
    await expectProblem(await post('{}', { 'Content-Type': 'not a type' }), 415, 'CONTENT_TYPE_UNSUPPORTED')
    await expectProblem(await post('{}', {}, appender, 'nope'), 403, 'INSUFFICIENT_SCOPE')
    const anyLog = await h.mint.token({ scope: 'log:append' })
    await expectProblem(await post('{}', {}, anyLog, 'nope'), 404, 'LOG_NOT_FOUND')
    await expectProblem(await post('{}', {}, reader), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await post('{}', {}, anyLog, 'access'), 403, 'LOG_RESERVED')
    expect(h.ledger.log('audit').size).toBe(0)
  })

  it('refuses a body over the limit as it streams, whatever Content-Length says', async () => {
    const chunks = [new Uint8Array(3000), new Uint8Array(3000)]
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift()
        if (next === undefined) controller.close()
        else controller.enqueue(next.fill(0x61))
      },
    })
    const response = await h.app.request('/v1/logs/audit/entries', {
      method: 'POST', body: stream, headers: { ...bearer(appender), 'Content-Type': 'text/plain' }, duplex: 'half',
    } as RequestInit)
    await expectProblem(response, 413, 'BODY_TOO_LARGE')
  })

  it('makes retries with an Idempotency-Key return the first result', async () => {
    const first = await post('{"n":1}', { 'Idempotency-Key': 'key-1' })
    const again = await post('{"n":1}', { 'Idempotency-Key': 'key-1' })
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(await first.json())
    expect(h.ledger.log('audit').size).toBe(1)
    await expectProblem(await post('{"n":2}', { 'Idempotency-Key': 'key-1' }), 422, 'IDEMPOTENCY_KEY_REUSED')
    const concurrent = await Promise.all([1, 2, 3].map(() => post('{"n":3}', { 'Idempotency-Key': 'key-2' })))
    const bodies = await Promise.all(concurrent.map((response) => response.json()))
    expect(new Set(bodies.map((body) => JSON.stringify(body))).size).toBe(1)
    expect(h.ledger.log('audit').size).toBe(2)
    const other = await h.mint.token({ scope: 'log:append', claims: { sub: 'user-2' } })
    expect((await post('{"n":1}', { 'Idempotency-Key': 'key-1' }, other)).headers.get('idempotent-replayed')).toBeNull()
    await expectProblem(await post('{}', { 'Idempotency-Key': 'ä' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post('{bad', { 'Idempotency-Key': 'key-3' }), 400, 'BODY_MALFORMED')
    expect((await post('{"fixed":true}', { 'Idempotency-Key': 'key-3' })).status).toBe(201)
  })
})

describe('NDJSON batches', () => {
  const ndjson = { 'Content-Type': 'application/x-ndjson' }

  it('appends every line and answers one result a line', async () => {
    const response = await post('{"n":1}\n{"n":2}\r\n{"n":1}\n', ndjson)
    expect(response.status).toBe(201)
    expect(response.headers.get('content-type')).toBe('application/x-ndjson')
    const text = await response.text()
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, any>)
    expect(text).toBe(lines.map((line) => `${JSON.stringify(line)}\n`).join(''))
    expect(lines.map((line) => Object.keys(line))).toEqual(Array(3).fill(['index', 'id', 'duplicate', 'object', 'checkpoint']))
    expect(lines.map((line) => line.index)).toEqual([0, 1, 2])
    expect(lines.every((line) => line.checkpoint.size === 3 && !line.duplicate)).toBe(true)
    expect(lines[0]!.object).toBe(lines[2]!.object)
    const envelope = JSON.parse(new TextDecoder().decode((await h.ledger.log('audit').entry(1)).data))
    expect(envelope).toMatchObject({ line: 2, object: { content_type: 'application/json', size: 7 } })
  })

  it('appends nothing when any line is bad, and names the line', async () => {
    const bad = await expectProblem(await post('{"n":1}\n{"n":\n{"n":3}', ndjson), 400, 'BODY_MALFORMED')
    expect(bad).toMatchObject({ line: 2, detail: 'line 2 is not valid JSON' })
    expect((await expectProblem(await post('{"n":1}\n\n{"n":3}', ndjson), 400, 'BODY_MALFORMED')).line).toBe(2)
    await expectProblem(await post('1\n2\n3\n4\n5\n6', ndjson), 413, 'BATCH_TOO_LARGE')
    await expectProblem(await post('', ndjson), 400, 'ENTRY_EMPTY')
    expect(h.ledger.log('audit').size).toBe(0)
    expect((await post('1\n2\n3\n4\n5', ndjson)).status).toBe(201)
  })
})

describe('reading entries and objects', () => {
  it('lists entries with the payload inline when it is JSON', async () => {
    await post('{"n":1}')
    await post('plain', { 'Content-Type': 'text/plain' })
    await expectProblem(await h.app.request('/v1/logs/audit/entries', { headers: bearer(appender) }), 403, 'INSUFFICIENT_SCOPE')
    const list = await (await h.app.request('/v1/logs/audit/entries?start=0&limit=10', { headers: bearer(reader) })).json() as Record<string, any>
    expect(list).toMatchObject({ start: 0, size: 2 })
    expect(list.entries[0]).toMatchObject({ index: 0, payload: { n: 1 }, envelope: { type: 'annal.event/v1' } })
    expect(list.entries[1].payload).toBeUndefined()
    expect(list.entries[1].envelope.object.content_type).toBe('text/plain')
    const page = await (await h.app.request('/v1/logs/audit/entries?start=1&limit=1', { headers: bearer(reader) })).json() as Record<string, any>
    expect(page.entries.map((entry: { index: number }) => entry.index)).toEqual([1])
    const end = await (await h.app.request('/v1/logs/audit/entries?start=2', { headers: bearer(reader) })).json() as Record<string, any>
    expect(end.entries).toEqual([])
    await expectProblem(await h.app.request('/v1/logs/audit/entries?start=3', { headers: bearer(reader) }), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request('/v1/logs/audit/entries?limit=-1', { headers: bearer(reader) }), 400, 'REQUEST_MALFORMED')
  })

  it('gets one entry by index, id or abbreviated id, and lists candidates when ambiguous', async () => {
    const results = []
    for (let n = 0; n < 40; n++) results.push(await (await post(`{"n":${n}}`)).json() as { id: string; index: number })
    const get = async (ref: string): Promise<Response> => h.app.request(`/v1/logs/audit/entries/${ref}`, { headers: bearer(reader) })
    expect(await (await get('3')).json()).toMatchObject({ index: 3, id: results[3]!.id, payload: { n: 3 } })
    expect(await (await get(results[7]!.id)).json()).toMatchObject({ index: 7 })
    expect(await (await get(results[7]!.id.slice(0, 12))).json()).toMatchObject({ index: 7 })
    await expectProblem(await get('40'), 404, 'ENTRY_NOT_FOUND')
    await expectProblem(await get('ABCD'), 400, 'ID_MALFORMED')
    await expectProblem(await get('abc'), 400, 'ID_MALFORMED')
    // Envelope ids are random (they hold a request id), so add fixed leaves through the store:
    // among these 2,000 ids some two share their first 4 hex digits, always the same two.
    const fixed = await h.ledger.log('audit').append(Array.from({ length: 2000 }, (_, i) => new TextEncoder().encode(`{"seq":${i}}`)))
    const seen = new Set<string>()
    let shared: string | undefined
    for (const { id } of [...results, ...fixed.entries]) {
      // A prefix of digits only would name an index.
      if (seen.has(id.slice(0, 4)) && /[a-f]/.test(id.slice(0, 4))) shared ??= id.slice(0, 4)
      seen.add(id.slice(0, 4))
    }
    if (shared === undefined) throw new Error('no shared prefix')
    const body = await expectProblem(await get(shared), 409, 'ID_AMBIGUOUS')
    expect(body.candidates.length).toBeGreaterThanOrEqual(2)
    for (const candidate of body.candidates) expect(candidate.id.startsWith(shared)).toBe(true)
  })

  it('serves objects raw to log:read, and not to per-log readers', async () => {
    const { object } = await (await post('{"raw":true}')).json() as { object: string }
    const response = await h.app.request(`/v1/objects/${object}`, { headers: bearer(reader) })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('{"raw":true}')
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    const narrow = await h.mint.token({ scope: 'log:read:audit' })
    await expectProblem(await h.app.request(`/v1/objects/${object}`, { headers: bearer(narrow) }), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await h.app.request(`/v1/objects/sha256:${'0'.repeat(64)}`, { headers: bearer(reader) }), 404, 'OBJECT_NOT_FOUND')
    await expectProblem(await h.app.request('/v1/objects/sha256:xyz', { headers: bearer(reader) }), 400, 'ID_MALFORMED')
  })
})

describe('administration', () => {
  const json = { 'Content-Type': 'application/json' }

  it('creates logs with log:admin or log:admin:<name>', async () => {
    const create = async (body: unknown, token: string): Promise<Response> =>
      h.app.request('/v1/logs', { method: 'POST', body: JSON.stringify(body), headers: { ...json, ...bearer(token) } })
    const response = await create({ name: 'payments' }, admin)
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({ name: 'payments', origin: 'annal.test/payments', size: 0 })
    expect(response.headers.get('location')).toBe('/v1/logs/payments')
    const narrow = await h.mint.token({ scope: 'log:admin:orders' })
    expect((await create({ name: 'orders', origin: 'example.com/orders' }, narrow)).status).toBe(201)
    await expectProblem(await create({ name: 'other' }, narrow), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await create({ name: 'payments' }, admin), 409, 'LOG_EXISTS')
    await expectProblem(await create({ name: 'access' }, admin), 409, 'LOG_EXISTS')
    await expectProblem(await create({ name: 'Bad Name' }, admin), 400, 'LOG_NAME_INVALID')
    await expectProblem(await create({ name: 5 }, admin), 400, 'REQUEST_MALFORMED')
    await expectProblem(await create([], admin), 400, 'BODY_MALFORMED')
    await expectProblem(await h.app.request('/v1/logs', { method: 'POST', body: '{"name":"x"}', headers: bearer(admin) }), 415, 'CONTENT_TYPE_UNSUPPORTED')
    await expectProblem(await create({ name: 'x' }, appender), 403, 'INSUFFICIENT_SCOPE')
    expect(h.ledger.logs().map((log) => log.name).sort()).toEqual(['access', 'alerts', 'audit', 'orders', 'payments'])
  })

  it('erases an object with a reason; proofs keep verifying and the payload is gone', async () => {
    const { object, index, id } = await (await post('{"pii":"alice@example.com"}')).json() as { object: string; index: number; id: string }
    const erase = async (body: unknown, token = admin): Promise<Response> =>
      h.app.request(`/v1/objects/${object}/erase`, { method: 'POST', body: JSON.stringify(body), headers: { ...json, ...bearer(token) } })
    await expectProblem(await erase({}), 400, 'REQUEST_MALFORMED')
    await expectProblem(await erase({ reason: '  ' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await erase({ reason: 'gdpr' }, await h.mint.token({ scope: 'log:admin:audit' })), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await erase({ reason: 'gdpr', log: 'nope' }), 404, 'LOG_NOT_FOUND')
    const response = await erase({ reason: 'GDPR art. 17 request 42' })
    expect(response.status).toBe(200)
    const erased = await response.json() as Record<string, any>
    expect(erased).toMatchObject({ hash: object, erasure: { reason: 'GDPR art. 17 request 42', log: 'access' } })
    await expectProblem(await h.app.request(`/v1/objects/${object}`, { headers: bearer(reader) }), 410, 'OBJECT_ERASED')
    const entry = await (await h.app.request(`/v1/logs/audit/entries/${index}`, { headers: bearer(reader) })).json() as Record<string, any>
    expect(entry.payload).toBeUndefined()
    expect(entry.payload_erased).toBe(true)
    expect(JSON.stringify(entry)).not.toContain('alice@example.com')
    // The entry, which commits to the erased object, still proves its place in the signed tree.
    const note = await (await h.app.request('/v1/logs/audit/checkpoint')).text()
    const { verifier_key: key } = await (await h.app.request('/v1/logs/audit')).json() as { verifier_key: string }
    const checkpoint = openCheckpoint(note, [parseVerifierKey(key)])
    const proof = await (await h.app.request(`/v1/logs/audit/proof/inclusion?index=${index}`)).json() as { proof: string[] }
    verifyInclusion(index, checkpoint.size, hexToBytes(id), proof.proof.map(hexToBytes), checkpoint.rootHash)
    // Who erased what, and why: the request's one access record names the object, and the
    // erasure record (here in the access log, the default) names the request.
    const records = await accessRecords(h.ledger)
    const requestId = response.headers.get('x-request-id')
    expect(records.filter((record) => record.type === 'annal.access/v1' && record.request_id === requestId)).toEqual([
      expect.objectContaining({ route: '/v1/objects/:hash/erase', object, status: 200, authorized_by: 'log:admin' }),
    ])
    expect(records.find((record) => record.type === 'annal.erasure/v1')).toMatchObject({
      object, reason: 'GDPR art. 17 request 42', request_id: requestId, erased_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(records.filter((record) => record.route === '/v1/objects/:hash/erase').map((record) => record.status))
      .toEqual([400, 400, 403, 404, 200])
    // Erasing again changes nothing and says so.
    expect((await erase({ reason: 'again' })).status).toBe(200)
    expect((await accessRecords(h.ledger)).filter((record) => record.type === 'annal.erasure/v1')).toHaveLength(1)
    await expectProblem(await post('{"pii":"alice@example.com"}'), 410, 'OBJECT_ERASED')
  })
})
