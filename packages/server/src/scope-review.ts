// Least-privilege review: per principal, what its tokens carried against what it used, kept
// as access records arrive so that a review reads one small row per principal, never the log.
import type { SeenRecord } from './alert-rules.js'

/**
 * The last time (ms since the epoch; 0 for never) a token of the principal carried a scope, a
 * request that the scope allowed succeeded, and a request needing it was refused as
 * insufficient_scope.
 */
export type ScopeTimes = [carried: number, used: number, refused: number]

/** What is kept per principal (client_id and sub). Bounded: see MAX_SCOPES and MAX_DAYS. */
export interface PrincipalAggregate {
  readonly clientId?: string
  readonly sub?: string
  readonly scopes: Map<string, ScopeTimes>
  /** The UTC day number of `days[0]`. */
  firstDay: number
  /**
   * insufficient_scope refusals per UTC day, from `firstDay` to the latest day with one (at most
   * MAX_COUNT a day). Typed, so that storing and reading it copies memory rather than loops.
   */
  days: Uint32Array
}

/** Most scopes with a time of each kind kept per principal; the least recently seen go first. */
export const MAX_SCOPES = 64
/** The longest window a review covers, in days. */
export const MAX_DAYS = 400
/** Refusal counts kept: a window of MAX_DAYS starts within a day that counts whole. */
const KEPT_DAYS = MAX_DAYS + 1
const DAY_MS = 86_400_000
/** More refusals than this in one day (about 50,000 a second) are counted as this many. */
const MAX_COUNT = 2 ** 32 - 1
const CARRIED = 0
const USED = 1
const REFUSED = 2

export function newAggregate(record: Pick<SeenRecord, 'clientId' | 'sub'>): PrincipalAggregate {
  return { ...(record.clientId === undefined ? {} : { clientId: record.clientId }), ...(record.sub === undefined ? {} : { sub: record.sub }),
    scopes: new Map(), firstDay: 0, days: new Uint32Array() }
}

/** About the bytes of memory `aggregate` takes, decoded: what the evaluator's cache counts. */
export function aggregateBytes(aggregate: PrincipalAggregate): number {
  let bytes = 256 + 2 * ((aggregate.clientId?.length ?? 0) + (aggregate.sub?.length ?? 0)) + 4 * aggregate.days.length
  // A map entry, its times (doubles: they pass 2^31) and its name.
  for (const scope of aggregate.scopes.keys()) bytes += 128 + 2 * scope.length
  return bytes
}

/** The latest time an aggregate holds, in ms: as stored (scope-review-bytes.ts), in 48 bits. */
export const MAX_TIME = 2 ** 48 - 1

/**
 * Adds `record` (a request by this principal, `scopes` present) to `aggregate`. A record dated
 * before 1970 or after MAX_TIME (a clock far off) is left out rather than stored wrong.
 */
export function addRecord(aggregate: PrincipalAggregate, record: SeenRecord): void {
  if (!(Number.isSafeInteger(record.time) && record.time >= 0 && record.time <= MAX_TIME)) return
  for (const scope of record.scopes ?? []) touch(aggregate, scope, CARRIED, record.time)
  if (record.status >= 200 && record.status < 400 && record.authorizedBy !== undefined) touch(aggregate, record.authorizedBy, USED, record.time)
  if (record.status === 403 && record.code === 'INSUFFICIENT_SCOPE') {
    if (record.requiredScope !== undefined) touch(aggregate, record.requiredScope, REFUSED, record.time)
    countRefusal(aggregate, Math.floor(record.time / DAY_MS))
  }
}

function touch(aggregate: PrincipalAggregate, scope: string, kind: number, time: number): void {
  let times = aggregate.scopes.get(scope)
  if (times === undefined) aggregate.scopes.set(scope, times = [0, 0, 0])
  const added = times[kind] === 0
  times[kind] = Math.max(times[kind]!, time)
  if (added) dropOldest(aggregate, kind)
}

/** Past MAX_SCOPES times of `kind`, forgets the oldest (and its scope, once it has no time). */
function dropOldest(aggregate: PrincipalAggregate, kind: number): void {
  let count = 0
  let oldest: [string, ScopeTimes] | undefined
  for (const entry of aggregate.scopes) {
    const time = entry[1][kind]!
    if (time === 0) continue
    count++
    if (oldest === undefined || time < oldest[1][kind]!) oldest = entry
  }
  if (count <= MAX_SCOPES) return
  const [scope, times] = oldest!
  times[kind] = 0
  if (times[CARRIED] === 0 && times[USED] === 0 && times[REFUSED] === 0) aggregate.scopes.delete(scope)
}

/** Counts a refusal on `day`; days more than KEPT_DAYS before the latest are outside every window. */
function countRefusal(aggregate: PrincipalAggregate, day: number): void {
  const { days, firstDay } = aggregate
  const latest = firstDay + days.length - 1
  if (days.length > 0 && day >= firstDay && day <= latest) {
    if (days[day - firstDay]! < MAX_COUNT) days[day - firstDay]!++
    return
  }
  // A day outside the kept ones: the days from the earliest to the latest kept, at most KEPT_DAYS.
  const from = days.length === 0 ? day : Math.max(Math.min(day, firstDay), Math.max(day, latest) - KEPT_DAYS + 1)
  if (day < from) return
  const grown = new Uint32Array(Math.max(day, latest) - from + 1)
  if (days.length > 0 && latest >= from) grown.set(days.subarray(Math.max(0, from - firstDay)), Math.max(0, firstDay - from))
  grown[day - from] = 1
  aggregate.days = grown
  aggregate.firstDay = from
}

/** One principal's review, as the API answers it. */
export interface PrincipalReview {
  readonly client_id: string | null
  readonly sub: string | null
  /** Scopes its tokens carried in the window. */
  readonly carried: string[]
  /** Scope -> last successful use in the window (ISO 8601). */
  readonly used: Record<string, string>
  /** Carried in the window, never used in it. */
  readonly unused: string[]
  /** insufficient_scope refusals in the window (counted by UTC day: the window's first day counts whole). */
  readonly refusals: number
  /** Scope -> last refusal in the window (ISO 8601). */
  readonly refused: Record<string, string>
  /** The scopes it used: a ceiling that would have refused none of its successful requests. */
  readonly suggested_ceiling: string[]
}

/**
 * The review of one principal for the window from `since`, as the JSON text of a
 * PrincipalReview; undefined when it was not seen in it. Written directly rather than through
 * JSON.stringify: a review of every principal is mostly this, and the objects it would build
 * (keyed by scope names) are slow to make and to serialize.
 */
export function reviewJson(aggregate: PrincipalAggregate, since: number): string | undefined {
  let refusals = 0
  const { days } = aggregate
  for (let i = Math.max(0, Math.floor(since / DAY_MS) - aggregate.firstDay); i < days.length; i++) refusals += days[i]!
  let carried = ''
  let unused = ''
  let used = ''
  let ceiling = ''
  let refused = ''
  for (const [scope, times] of sortedScopes(aggregate.scopes)) {
    const name = quoted(scope)
    if (times[USED] >= since) {
      used += `,${name}:"${isoTime(times[USED])}"`
      ceiling += `,${name}`
    }
    if (times[CARRIED] >= since) {
      carried += `,${name}`
      if (times[USED] < since) unused += `,${name}`
    }
    if (times[REFUSED] >= since) refused += `,${name}:"${isoTime(times[REFUSED])}"`
  }
  if (carried === '' && refusals === 0) return undefined
  return `{"client_id":${aggregate.clientId === undefined ? 'null' : JSON.stringify(aggregate.clientId)},` +
    `"sub":${aggregate.sub === undefined ? 'null' : JSON.stringify(aggregate.sub)},"carried":[${carried.slice(1)}],` +
    `"used":{${used.slice(1)}},"unused":[${unused.slice(1)}],"refusals":${refusals},"refused":{${refused.slice(1)}},` +
    `"suggested_ceiling":[${ceiling.slice(1)}]}`
}

/** Scope names as JSON strings: a few names recur in every principal's review. */
const quotedScopes = new Map<string, string>()
const QUOTED_SCOPES = 4096

function quoted(scope: string): string {
  let text = quotedScopes.get(scope)
  if (text === undefined) {
    if (quotedScopes.size >= QUOTED_SCOPES) quotedScopes.clear()
    text = JSON.stringify(scope)
    quotedScopes.set(scope, text)
  }
  return text
}

/** `YYYY-MM-DDT` of recent days, by day number: most times of a review fall on a few days. */
const dayPrefixes = new Map<number, string>()
const DAY_PREFIXES = 1024

/**
 * `new Date(ms).toISOString()`, which took half of a review's time: the date is looked up per
 * day, the time of day written by hand. Requires 0 <= ms < 2^48 (as stored).
 */
export function isoTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS)
  let prefix = dayPrefixes.get(day)
  if (prefix === undefined) {
    if (dayPrefixes.size >= DAY_PREFIXES) dayPrefixes.clear()
    const iso = new Date(day * DAY_MS).toISOString()
    prefix = iso.slice(0, iso.indexOf('T') + 1)
    dayPrefixes.set(day, prefix)
  }
  const rest = ms - day * DAY_MS
  const hours = Math.floor(rest / 3_600_000)
  const minutes = Math.floor(rest / 60_000) % 60
  const seconds = Math.floor(rest / 1000) % 60
  return `${prefix}${two(hours)}:${two(minutes)}:${two(seconds)}.${String(rest % 1000).padStart(3, '0')}Z`
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** The scopes in the order the answer lists them (UTF-16 code units): as stored, or sorted. */
function sortedScopes(scopes: Map<string, ScopeTimes>): Iterable<[string, ScopeTimes]> {
  let previous = ''
  for (const scope of scopes.keys()) {
    if (scope < previous) return [...scopes].sort(([a], [b]) => (a < b ? -1 : 1))
    previous = scope
  }
  return scopes
}

/**
 * A window's length: `<n>d`, `<n>h` or `<n>m`, at most MAX_DAYS days.
 * @returns ms, or undefined when `text` is not one.
 */
export function parseWindow(text: string): number | undefined {
  const match = /^([1-9][0-9]{0,5})([dhm])$/.exec(text)
  if (match === null) return undefined
  const ms = Number(match[1]) * { d: DAY_MS, h: 3_600_000, m: 60_000 }[match[2] as 'd' | 'h' | 'm']
  return ms <= MAX_DAYS * DAY_MS ? ms : undefined
}
