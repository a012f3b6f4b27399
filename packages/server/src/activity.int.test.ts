import { afterEach, describe, expect, it } from 'vitest'
import { appAlerts } from './app.js'
import { type LiveHarness, bearer, expectProblem, liveHarness } from './testing/fixture.js'

let h: LiveHarness

afterEach(async () => {
  await h?.close()
})

async function append(token: string, events: readonly unknown[]): Promise<void> {
  for (const event of events) {
    const response = await fetch(h.url('/v1/logs/audit/entries'), {
      method: 'POST', body: JSON.stringify(event), headers: { ...bearer(token), 'content-type': 'application/json' },
    })
    expect(response.status).toBe(201)
  }
}

/** The activity buckets counted from the first `size` access records and every alert, one by one. */
async function bruteForce(size: number): Promise<Record<string, unknown>[]> {
  const parsed = async (name: string, count: number) =>
    (await h.ledger.log(name).entries(0, count)).map((entry) => JSON.parse(new TextDecoder().decode(entry.data)) as Record<string, any>)
  const expected = new Map<string, Record<string, number>>()
  const bucket = (time: string) => {
    const start = new Date(Date.parse(time) - (Date.parse(time) % 60_000)).toISOString()
    if (!expected.has(start)) expected.set(start, { requests: 0, appends: 0, refusals: 0, alerts: 0 })
    return expected.get(start)!
  }
  for (const record of (await parsed('access', size)).filter((r) => r.type === 'annal.access/v1')) {
    const counts = bucket(record.time)
    counts.requests!++
    if (record.method === 'POST' && record.route === '/v1/logs/:log/entries' && record.status === 201) counts.appends!++
    if (record.status === 401 || record.status === 403) counts.refusals!++
  }
  for (const alert of await parsed('alerts', h.ledger.log('alerts').size)) bucket(alert.time).alerts!++
  return [...expected].map(([start, counts]) => ({ start, ...counts }))
}

describe('GET /v1/admin/activity', () => {
  it('counts requests, appends, refusals and alerts per bucket as the access log holds them', async () => {
    let now = Date.parse('2030-01-01T10:00:30Z')
    h = await liveHarness({ app: { clock: () => new Date(now), alerts: { pollIntervalMs: 10, rules: { insufficientScope: { count: 2 } } } } })
    const admin = await h.mint.token({ scope: 'log:admin log:append', expiresIn: 86_400 })
    const reader = await h.mint.token({ scope: 'log:read', expiresIn: 86_400 })
    const create = await fetch(h.url('/v1/logs'), {
      method: 'POST', body: JSON.stringify({ name: 'audit' }), headers: { ...bearer(admin), 'content-type': 'application/json' },
    })
    expect(create.status).toBe(201)
    await append(admin, [{ n: 0 }, { n: 1 }])
    now += 60_000
    for (let i = 0; i < 3; i++) expect((await fetch(h.url('/v1/logs/audit/entries'), { method: 'POST', body: '{}', headers: bearer(reader) })).status).toBe(403)
    expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: { authorization: 'Bearer nonsense' } })).status).toBe(401)
    await append(admin, [{ n: 2 }])
    await appAlerts(h.app).caughtUp()
    const counted = h.ledger.log('access').size

    const response = await fetch(h.url('/v1/admin/activity?since=1h'), { headers: bearer(h.auditor) })
    expect(response.status).toBe(200)
    const body = await response.json() as { bucket_ms: number; buckets: Record<string, unknown>[]; evaluated: number }
    expect(body.bucket_ms).toBe(60_000)
    expect(body.evaluated).toBe(counted)
    expect(body.buckets).toEqual(await bruteForce(counted))
    expect(body.buckets).toHaveLength(2)
    expect(body.buckets[1]).toMatchObject({ appends: 1, refusals: 4, alerts: 1 })

    // Kept across a restart; the records read after it are counted once.
    await h.restart()
    await appAlerts(h.app).caughtUp()
    const later = h.ledger.log('access').size
    const after = await (await fetch(h.url('/v1/admin/activity?since=1h'), { headers: bearer(h.auditor) })).json() as typeof body
    expect(after.buckets).toEqual(await bruteForce(later))
    expect(after.buckets[1]!.requests).toBe((body.buckets[1]!.requests as number) + 1)
    await expectProblem(await fetch(h.url('/v1/admin/activity?since=1y'), { headers: bearer(h.auditor) }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await fetch(h.url('/v1/admin/activity'), { headers: bearer(reader) }), 403, 'INSUFFICIENT_SCOPE')
  })
})
