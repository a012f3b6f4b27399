import { describe, expect, it } from 'vitest'
import { RuleState, type SeenRecord, alertRules, isAdminChange, isAppend } from './alert-rules.js'

let index = 0
function record(time: number, fields: Partial<SeenRecord> = {}): SeenRecord {
  return { index: index++, time, status: 200, replayed: false, clientId: 'c1', sub: 'u1', scopes: ['log:read'], ...fields }
}
const refused = { status: 403, code: 'INSUFFICIENT_SCOPE', requiredScope: 'log:admin' }
const invalid = { status: 401, code: 'TOKEN_INVALID', remoteAddress: '10.0.0.9', scopes: undefined, clientId: undefined, sub: undefined }

describe('burst rules', () => {
  const rules = alertRules({ insufficientScope: { count: 3, windowMs: 1_000 }, invalidToken: { count: 4, windowMs: 1_000 } })

  it('raise insufficient_scope at the count within the window, not below it nor spread wider', () => {
    const state = new RuleState(rules)
    expect(state.observe(record(0, refused))).toEqual([])
    expect(state.observe(record(500, refused))).toEqual([])
    // Another principal's refusal counts for that one only.
    expect(state.observe(record(600, { ...refused, clientId: 'c2' }))).toEqual([])
    const [alert] = state.observe(record(999, refused))
    expect(alert).toMatchObject({ rule: 'insufficient_scope', subject: { client_id: 'c1', sub: 'u1' }, time: 999 })
    expect((alert!.details.access_index as number[]).length).toBe(3)
    // The count starts again; three spread over more than the window raise nothing.
    const spread = new RuleState(rules)
    for (const time of [0, 600, 1_200, 1_800]) expect(spread.observe(record(time, refused))).toEqual([])
  })

  it('raise invalid_token per remote address', () => {
    const state = new RuleState(rules)
    for (const time of [0, 1, 2]) expect(state.observe(record(time, invalid))).toEqual([])
    expect(state.observe(record(3, { ...invalid, remoteAddress: '10.0.0.8' }))).toEqual([])
    expect(state.observe(record(4, invalid))).toMatchObject([{ rule: 'invalid_token', subject: { remote_address: '10.0.0.9' } }])
  })
})

describe('rate rule', () => {
  const rules = alertRules({ rate: { bucketMs: 1_000, factor: 3, minCount: 5, warmupBuckets: 3, smoothing: 0.5 } })

  function feed(state: RuleState, bucket: number, count: number): string[] {
    const raised: string[] = []
    for (let i = 0; i < count; i++) raised.push(...state.observe(record(bucket * 1_000 + i)).map((alert) => alert.rule))
    return raised
  }

  it('raises once a bucket is over factor times the baseline, after the warm-up, once per bucket', () => {
    const state = new RuleState(rules)
    for (const bucket of [0, 1, 2]) expect(feed(state, bucket, 2)).toEqual([])
    // Baseline 2: six is not over three times it, seven is.
    expect(feed(state, 3, 6)).toEqual([])
    const next = new RuleState(rules)
    for (const bucket of [0, 1, 2]) feed(next, bucket, 2)
    expect(feed(next, 3, 10)).toEqual(['rate'])
  })

  it('waits for the warm-up and the minimum count', () => {
    const early = new RuleState(rules)
    feed(early, 0, 1)
    expect(feed(early, 1, 50)).toEqual([])
    const quiet = new RuleState(alertRules({ rate: { bucketMs: 1_000, factor: 3, minCount: 20, warmupBuckets: 3, smoothing: 0.5 } }))
    for (const bucket of [0, 1, 2]) feed(quiet, bucket, 1)
    expect(feed(quiet, 3, 19)).toEqual([])
  })
})

it('holds its state within stateBytes, dropping the least recently seen', () => {
  const state = new RuleState(alertRules({ stateBytes: 20_000 }))
  for (let i = 0; i < 10_000; i++) state.observe(record(i, { ...refused, clientId: `client-${i}` }))
  expect(state.bytes).toBeLessThanOrEqual(20_000)
  expect(state.bytes).toBeGreaterThan(10_000)
})

it('restores from its snapshot to the same state, under rules that may have changed', () => {
  const rules = alertRules({
    insufficientScope: { count: 3, windowMs: 1_000 }, invalidToken: { count: 2, windowMs: 1_000 },
    rate: { bucketMs: 1_000, factor: 3, minCount: 5, warmupBuckets: 3, smoothing: 0.5 },
  })
  const state = new RuleState(rules)
  for (let i = 0; i < 50; i++) state.observe(record(i, { ...refused, clientId: `client-${i}` }))
  for (const bucket of [0, 1, 2]) for (let i = 0; i < 2; i++) state.observe(record(bucket * 1_000 + i, { clientId: 'steady' }))
  state.observe(record(2_500, refused))
  state.observe(record(2_600, refused))
  state.observe(record(2_700, invalid))
  // Small parts: the tracks are split over several.
  const parts = state.snapshot(500)
  expect(parts.length).toBeGreaterThan(2)
  const restored = RuleState.restore(rules, parts)
  expect(restored.bytes).toBe(state.bytes)
  expect(restored.snapshot(500)).toEqual(parts)
  expect(restored.observe(record(2_800, refused))).toMatchObject([{ rule: 'insufficient_scope', subject: { client_id: 'c1' } }])
  expect(restored.observe(record(2_900, invalid))).toMatchObject([{ rule: 'invalid_token' }])
  const burst = []
  for (let i = 0; i < 10; i++) burst.push(...restored.observe(record(3_000 + i, { clientId: 'steady' })))
  expect(burst).toMatchObject([{ rule: 'rate', subject: { client_id: 'steady' }, details: { baseline: 2 } }])
  expect(new RuleState(rules).snapshot(500)).toEqual(['[]'])
  // Less room than the saved state took: the least recently seen tracks are dropped first.
  const smaller = RuleState.restore(alertRules({ ...rules, stateBytes: 2_000 }), parts)
  expect(smaller.bytes).toBeLessThanOrEqual(2_000)
  expect(smaller.observe(record(2_800, refused))).toMatchObject([{ rule: 'insufficient_scope' }])
})

it('tells administrative changes and first appends from other requests', () => {
  expect(isAdminChange(record(0, { method: 'POST', route: '/v1/logs', status: 201 }))).toBe(true)
  expect(isAdminChange(record(0, { method: 'PUT', route: '/v1/logs/:log/witnessing', status: 200 }))).toBe(true)
  expect(isAdminChange(record(0, { method: 'PATCH', route: '/v1/logs/:log', status: 200 }))).toBe(true)
  expect(isAdminChange(record(0, { method: 'POST', route: '/v1/admin/logs/:log/reindex', status: 202 }))).toBe(true)
  expect(isAdminChange(record(0, { method: 'POST', route: '/v1/admin/scopes/:scope/rotate', status: 200 }))).toBe(true)
  expect(isAdminChange(record(0, { method: 'GET', route: '/v1/admin/scope-review', status: 200 }))).toBe(false)
  expect(isAdminChange(record(0, { method: 'POST', route: '/v1/logs', status: 403 }))).toBe(false)
  expect(isAppend(record(0, { method: 'POST', route: '/v1/logs/:log/entries', status: 201, log: 'a' }))).toBe(true)
  expect(isAppend(record(0, { method: 'POST', route: '/v1/logs/:log/entries', status: 201, log: 'a', replayed: true }))).toBe(false)
})

it('refuses bad thresholds', () => {
  expect(() => alertRules({ insufficientScope: { count: 0 } })).toThrow(RangeError)
  expect(() => alertRules({ rate: { factor: 1 } })).toThrow(RangeError)
})
