import { afterEach, beforeEach, expect, it } from 'vitest'
import { appAlerts } from './app.js'
import { type HistoryRecord, writeHistory } from './testing/history.js'
import { type Harness, bearer, expectProblem, harness } from './testing/fixture.js'

const DAY = 86_400_000
const END = Date.parse('2026-06-30T15:20:00.000Z')
let h: Harness

beforeEach(async () => {
  h = await harness({ app: { clock: () => new Date(END), alerts: { pollIntervalMs: 10 } } })
})

afterEach(async () => {
  await h.close()
})

/** The review computed from every record, as the aggregates should answer it. */
function bruteForce(records: readonly HistoryRecord[], since: number): Record<string, unknown>[] {
  const firstDay = Math.floor(since / DAY) * DAY
  const by = new Map<string, HistoryRecord[]>()
  for (const record of records) by.set(`${record.clientId}\n${record.sub}`, [...by.get(`${record.clientId}\n${record.sub}`) ?? [], record])
  const last = (list: HistoryRecord[], scope: (r: HistoryRecord) => string | undefined) => {
    const times: Record<string, number> = {}
    for (const r of list) if (scope(r) !== undefined) times[scope(r)!] = Math.max(times[scope(r)!] ?? 0, r.time)
    return Object.fromEntries(Object.keys(times).sort().map((s) => [s, new Date(times[s]!).toISOString()]))
  }
  return [...by.keys()].sort().flatMap((key) => {
    const all = by.get(key)!
    const recent = all.filter((r) => r.time >= since)
    const carried = [...new Set(recent.flatMap((r) => r.scopes))].sort()
    const used = last(recent, (r) => (r.status < 400 ? r.authorizedBy : undefined))
    const refusals = all.filter((r) => r.status === 403 && r.time >= firstDay).length
    if (carried.length === 0 && refusals === 0) return []
    return [{
      client_id: all[0]!.clientId, sub: all[0]!.sub, carried, used, unused: carried.filter((s) => !(s in used)), refusals,
      refused: last(recent, (r) => (r.status === 403 ? r.requiredScope : undefined)), suggested_ceiling: Object.keys(used),
    }]
  })
}

it('answers the figures a brute-force count of the history gives, per window', async () => {
  const records = await writeHistory(h.ledger, { records: 4_000, clients: 6, subs: 3, days: 60, end: END, seed: 7 }, true)
  await appAlerts(h.app).caughtUp()
  const auditor = bearer(await h.mint.token({ scope: 'audit:read', claims: { client_id: 'auditor' } }))
  for (const [window, ms] of [['30d', 30 * DAY], ['45h', 45 * 3_600_000], ['90d', 90 * DAY]] as const) {
    const response = await h.app.request(`/v1/admin/scope-review?since=${window}`, { headers: auditor })
    expect(response.status).toBe(200)
    const body = await response.json() as { since: string; principals: { client_id: string }[] }
    expect(body.since).toBe(new Date(END - ms).toISOString())
    // The auditor's own requests are in the review too.
    expect(body.principals.filter((p) => p.client_id !== 'auditor')).toEqual(bruteForce(records, END - ms))
  }
  await expectProblem(await h.app.request('/v1/admin/scope-review?since=30', { headers: auditor }), 400, 'REQUEST_MALFORMED')
  await expectProblem(await h.app.request('/v1/admin/scope-review', { headers: bearer(await h.mint.token({ scope: 'log:admin' })) }),
    403, 'INSUFFICIENT_SCOPE')
})

it('lists principals past one page of them, added over several batches and restarts', async () => {
  const auditor = bearer(await h.mint.token({ scope: 'audit:read', claims: { client_id: 'auditor' } }))
  const review = async () => {
    const response = await h.app.request('/v1/admin/scope-review?since=30d', { headers: auditor })
    expect(response.status).toBe(200)
    return ((await response.json()) as { principals: { client_id: string }[] }).principals.filter((p) => p.client_id !== 'auditor')
  }
  // 1,000 principals, then 100 more (past the first page of 1,024), then 50 more after a restart.
  const records = await writeHistory(h.ledger, { records: 6_000, clients: 20, subs: 50, days: 20, end: END, seed: 1 }, true)
  await appAlerts(h.app).caughtUp()
  records.push(...await writeHistory(h.ledger, { records: 1_500, clients: 22, subs: 50, days: 10, end: END, seed: 2 }, true))
  await appAlerts(h.app).caughtUp()
  const first = await review()
  expect(first.length).toBeGreaterThan(1_024)
  expect(first).toEqual(bruteForce(records, END - 30 * DAY))
  const { Alerts } = await import('./alerts.js')
  await appAlerts(h.app).close()
  const reopened = await Alerts.open(h.ledger, () => new Date(END))
  records.push(...await writeHistory(h.ledger, { records: 600, clients: 23, subs: 50, days: 5, end: END, seed: 3 }, true))
  await reopened.caughtUp()
  const texts = (await reopened.review(END - 30 * DAY)).principals
  await reopened.close()
  const found = texts.map((text) => JSON.parse(text) as { client_id: string }).filter((p) => p.client_id !== 'auditor')
  expect(found.length).toBeGreaterThan(1_100)
  expect(found).toEqual(bruteForce(records, END - 30 * DAY))
})

it('keeps its aggregates across a restart without reading the access log again', async () => {
  await writeHistory(h.ledger, { records: 500, clients: 2, subs: 2, days: 10, end: END }, true)
  await appAlerts(h.app).caughtUp()
  const alerts = appAlerts(h.app)
  const before = await alerts.review(END - 30 * DAY)
  expect(before.principals.length).toBe(4)
  expect(before.evaluated).toBe(alerts.evaluated)
  await alerts.close()
  const { Alerts } = await import('./alerts.js')
  const reopened = await Alerts.open(h.ledger, () => new Date(END))
  expect(reopened.evaluated).toBe(alerts.evaluated)
  expect(await reopened.review(END - 30 * DAY)).toEqual(before)
  await reopened.close()
})
