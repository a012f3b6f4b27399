// A principal's review, from its aggregate stored and read back, equals a brute-force count of
// its records: random records in any order over more days than a window can cover, random
// windows up to the longest; and stored aggregates that are cut or changed are refused.
import fc from 'fast-check'
import { expect, it } from 'vitest'
import type { SeenRecord } from './alert-rules.js'
import { MAX_DAYS, addRecord, isoTime, newAggregate, reviewJson } from './scope-review.js'
import { decodeAggregate, encodeAggregate } from './scope-review-bytes.js'

const DAY = 86_400_000
const NOW = Date.parse('2026-06-30T15:20:00.123Z')
// Names the answer must escape, and non-ASCII ones, beside Annal's.
const SCOPES = ['log:read', 'log:append', 'log:admin', 'audit:read', 'log:read:ünïcode', 'odd "scope"\\\n']

const record = fc.record({
  // Today, any day, and around the first day of the longest window, which counts whole.
  ago: fc.oneof(fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 0, max: (MAX_DAYS + 60) * DAY }),
    fc.integer({ min: (MAX_DAYS - 1) * DAY, max: (MAX_DAYS + 2) * DAY })),
  scopes: fc.subarray(SCOPES, { minLength: 1 }),
  wanted: fc.constantFrom(...SCOPES),
  failed: fc.boolean(),
})

type Generated = { ago: number; scopes: string[]; wanted: string; failed: boolean }

function seen(generated: Generated, index: number): SeenRecord {
  const granted = generated.scopes.includes(generated.wanted)
  return {
    index, time: NOW - generated.ago, clientId: 'client-é "1"', sub: 'user-1', scopes: generated.scopes, requiredScope: generated.wanted, replayed: false,
    ...(!granted ? { status: 403, code: 'INSUFFICIENT_SCOPE' } : generated.failed ? { status: 500 } : { status: 200, authorizedBy: generated.wanted }),
  }
}

function bruteForce(records: readonly SeenRecord[], since: number): Record<string, unknown> | undefined {
  const recent = records.filter((r) => r.time >= since)
  const last = (pick: (r: SeenRecord) => string | undefined) => {
    const times: Record<string, number> = {}
    for (const r of recent) if (pick(r) !== undefined) times[pick(r)!] = Math.max(times[pick(r)!] ?? 0, r.time)
    return Object.fromEntries(Object.keys(times).sort().map((s) => [s, new Date(times[s]!).toISOString()]))
  }
  const carried = [...new Set(recent.flatMap((r) => r.scopes!))].sort()
  const used = last((r) => (r.status < 400 ? r.authorizedBy : undefined))
  const refusals = records.filter((r) => r.status === 403 && r.time >= Math.floor(since / DAY) * DAY).length
  if (carried.length === 0 && refusals === 0) return undefined
  return {
    client_id: 'client-é "1"', sub: 'user-1', carried, used, unused: carried.filter((s) => !(s in used)), refusals,
    refused: last((r) => (r.status === 403 ? r.requiredScope : undefined)), suggested_ceiling: Object.keys(used),
  }
}

it('reviews a stored aggregate as a brute-force count of its records, for any order and window', () => {
  fc.assert(fc.property(fc.array(record, { maxLength: 60 }), fc.oneof(fc.integer({ min: 1, max: MAX_DAYS * DAY }), fc.constant(MAX_DAYS * DAY)), (generated, window) => {
    const records = generated.map(seen)
    const aggregate = newAggregate(records[0] ?? { clientId: 'client-é "1"', sub: 'user-1' })
    for (const r of records) addRecord(aggregate, r)
    const stored = decodeAggregate(encodeAggregate(aggregate))
    expect(stored).toEqual(aggregate)
    const json = reviewJson(stored, NOW - window)
    expect(json === undefined ? undefined : JSON.parse(json)).toEqual(bruteForce(records, NOW - window))
  }), { numRuns: 300 })
})

it('writes times as toISOString does', () => {
  fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: NOW - 2 * DAY, max: NOW + 2 * DAY })),
    (ms) => {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    }), { numRuns: 2000 })
  for (const ms of [0, 86_399_999, 253_402_300_799_999, 253_402_300_800_000, 2 ** 48 - 1]) expect(isoTime(ms)).toBe(new Date(ms).toISOString())
})

it('refuses stored aggregates that are cut short, run long or of another version', () => {
  const aggregate = newAggregate({ clientId: 'c', sub: 's' })
  for (const [i, generated] of [{ ago: 0, scopes: ['log:read'], wanted: 'log:admin', failed: false }].entries()) addRecord(aggregate, seen(generated, i))
  const bytes = encodeAggregate(aggregate)
  for (let length = 0; length < bytes.length; length++) expect(() => decodeAggregate(bytes.subarray(0, length))).toThrow(RangeError)
  expect(() => decodeAggregate(Uint8Array.of(...bytes, 0))).toThrow(RangeError)
  expect(() => decodeAggregate(Uint8Array.of(2, ...bytes.subarray(1)))).toThrow(RangeError)
  expect(() => encodeAggregate({ ...aggregate, firstDay: -1 })).toThrow(RangeError)
})
