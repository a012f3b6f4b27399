import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { appendBodyEvents, appendLocalEvents } from './append.js'
import { canonicalJson } from './canonical-json.js'
import { DEFAULT_LIMITS } from './context.js'
import { type Harness, bearer, harness } from './testing/fixture.js'

const LIMITS = { ...DEFAULT_LIMITS, bodyBytes: 4096, ndjsonLines: 5, jsonDepth: 3 }
const utf8 = new TextEncoder()

let h: Harness
let appender: string

beforeEach(async () => {
  h = await harness({ app: { limits: LIMITS } })
  await h.ledger.createLog('audit')
  appender = await h.mint.token({ scope: 'log:append' })
})
afterEach(async () => h.close())

/** The problem code the append route answers for `body`, or 'APPENDED'. */
async function routeAnswer(body: string, type: string): Promise<string> {
  const response = await h.app.request('/v1/logs/audit/entries', {
    method: 'POST', body, headers: { ...bearer(appender), 'Content-Type': type },
  })
  return response.status === 201 ? 'APPENDED' : (await response.json() as { code: string }).code
}

function checkAnswer(body: string, type: string): string {
  try {
    appendBodyEvents(utf8.encode(body), type, LIMITS)
    return 'APPENDED'
  } catch (error) {
    return (error as { code: string }).code
  }
}

describe('appendBodyEvents', () => {
  it('accepts and refuses exactly what the append route does', async () => {
    const cases: [string, string][] = [
      ['{"a":1}', 'application/json'], ['', 'application/json'], ['{"a":', 'application/json'],
      ['[[[[1]]]]', 'application/json'], ['x'.repeat(5000), 'application/json'], ['not json', 'text/plain'],
      ['{"a":1}\n{"b":2}\n', 'application/x-ndjson'], ['{"a":1}\r\n{"b":2}', 'application/x-ndjson'],
      ['', 'application/x-ndjson'], ['{"a":1}\n\n{"b":2}', 'application/x-ndjson'], ['{"a":1}\n{', 'application/x-ndjson'],
      ['{}\n'.repeat(6), 'application/x-ndjson'], ['[[[[1]]]]\n', 'application/x-ndjson'],
    ]
    for (const [body, type] of cases) expect(checkAnswer(body, type), JSON.stringify(body)).toBe(await routeAnswer(body, type))
  })

  it('names the bad line of a batch', () => {
    expect(() => appendBodyEvents(utf8.encode('{}\n{'), 'application/x-ndjson', LIMITS)).toThrow(/line 2 is not valid JSON/)
  })
})

describe('appendLocalEvents', () => {
  const actor = { iss: 'urn:annal:local', sub: 'alice', clientId: 'annal-cli' }
  const time = new Date('2026-01-02T03:04:05.678Z')

  it('appends the envelopes the API would, with no token, and no access record', async () => {
    const accessSize = h.ledger.log('access').size
    const events = appendBodyEvents(utf8.encode('{"a":1}\n{"b":2}'), 'application/x-ndjson', LIMITS)
    const { entries, checkpoint } = await appendLocalEvents(h.ledger, {
      log: 'audit', type: 'application/x-ndjson', events, actor, time, requestId: 'r-1', firstLine: 11,
    })
    expect(entries.map((entry) => entry.index)).toEqual([0, 1])
    expect(checkpoint.size).toBe(2)
    const stored = await h.ledger.log('audit').entry(1)
    const text = new TextDecoder().decode(stored.data)
    const envelope = JSON.parse(text) as Record<string, any>
    expect(canonicalJson(envelope)).toBe(text)
    expect(envelope).toEqual({
      type: 'annal.event/v1', time: time.toISOString(), request_id: 'r-1', line: 12,
      object: { hash: envelope.object.hash, size: 7, content_type: 'application/json' },
      actor: { iss: 'urn:annal:local', sub: 'alice', client_id: 'annal-cli' }, token: {}, scope: 'local', scopes: [],
    })
    expect(new TextDecoder().decode(await h.ledger.objects.get(envelope.object.hash))).toBe('{"b":2}')
    expect(h.ledger.log('access').size).toBe(accessSize)
  })

  it('leaves out the line of a single event', async () => {
    const events = appendBodyEvents(utf8.encode('{"a":1}'), 'application/json', LIMITS)
    await appendLocalEvents(h.ledger, { log: 'audit', type: 'application/json', events, actor, time, requestId: 'r-2' })
    expect(JSON.parse(new TextDecoder().decode((await h.ledger.log('audit').entry(0)).data))).not.toHaveProperty('line')
  })

  it('refuses the access log and unknown logs, appending nothing', async () => {
    const events = [utf8.encode('{}')]
    const append = (log: string) => appendLocalEvents(h.ledger, { log, type: 'application/json', events, actor, time, requestId: 'r' })
    await expect(append('access')).rejects.toMatchObject({ code: 'LOG_RESERVED' })
    await expect(append('nope')).rejects.toMatchObject({ code: 'LOG_NOT_FOUND' })
    expect(h.ledger.log('audit').size).toBe(0)
  })
})
