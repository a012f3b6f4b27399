// Least-privilege review: per principal, what its tokens carried against what it used, kept
// as access records arrive so that a review reads one small row per principal, never the log.
import type { SeenRecord } from './alert-rules.js'

/** What is kept per principal (client_id and sub). Bounded: see MAX_SCOPES and MAX_DAYS. */
export interface PrincipalAggregate {
  readonly clientId?: string
  readonly sub?: string
  /** Scope -> last time (ms) a token of this principal carried it. */
  readonly carried: Record<string, number>
  /** Scope -> last time a request it allowed succeeded. */
  readonly used: Record<string, number>
  /** Scope -> last time a request needing it was refused as insufficient_scope. */
  readonly refused: Record<string, number>
  /** UTC day number -> insufficient_scope refusals that day. */
  readonly refusalDays: Record<string, number>
}

/** Most scopes kept per map of a principal; the least recently seen go first. */
export const MAX_SCOPES = 64
/** Days of refusal counts kept per principal: the longest window a review can cover. */
export const MAX_DAYS = 400
const DAY_MS = 86_400_000

export function newAggregate(record: Pick<SeenRecord, 'clientId' | 'sub'>): PrincipalAggregate {
  return { ...(record.clientId === undefined ? {} : { clientId: record.clientId }), ...(record.sub === undefined ? {} : { sub: record.sub }),
    carried: {}, used: {}, refused: {}, refusalDays: {} }
}

/** Adds `record` (a request by this principal, `scopes` present) to `aggregate`. */
export function addRecord(aggregate: PrincipalAggregate, record: SeenRecord): void {
  for (const scope of record.scopes ?? []) touch(aggregate.carried, scope, record.time)
  if (record.status >= 200 && record.status < 400 && record.authorizedBy !== undefined) touch(aggregate.used, record.authorizedBy, record.time)
  if (record.status === 403 && record.code === 'INSUFFICIENT_SCOPE') {
    if (record.requiredScope !== undefined) touch(aggregate.refused, record.requiredScope, record.time)
    const day = Math.floor(record.time / DAY_MS)
    const count = aggregate.refusalDays[day]
    aggregate.refusalDays[day] = (count ?? 0) + 1
    if (count !== undefined) return
    for (const kept of Object.keys(aggregate.refusalDays)) {
      if (Number(kept) <= day - MAX_DAYS) delete aggregate.refusalDays[kept]
    }
  }
}

function touch(map: Record<string, number>, scope: string, time: number): void {
  map[scope] = Math.max(map[scope] ?? 0, time)
  const scopes = Object.keys(map)
  if (scopes.length <= MAX_SCOPES) return
  const oldest = scopes.reduce((a, b) => (map[a]! <= map[b]! ? a : b))
  delete map[oldest]
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

/** The review of one principal for the window from `since`; undefined when it was not seen in it. */
export function reviewOf(aggregate: PrincipalAggregate, since: number): PrincipalReview | undefined {
  const carried = inWindow(aggregate.carried, since)
  const used = inWindow(aggregate.used, since)
  const refused = inWindow(aggregate.refused, since)
  const firstDay = Math.floor(since / DAY_MS)
  let refusals = 0
  for (const [day, count] of Object.entries(aggregate.refusalDays)) if (Number(day) >= firstDay) refusals += count
  if (carried.length === 0 && refusals === 0) return undefined
  const usedScopes = new Set(used.map(([scope]) => scope))
  return {
    client_id: aggregate.clientId ?? null,
    sub: aggregate.sub ?? null,
    carried: carried.map(([scope]) => scope),
    used: Object.fromEntries(used.map(([scope, time]) => [scope, new Date(time).toISOString()])),
    unused: carried.map(([scope]) => scope).filter((scope) => !usedScopes.has(scope)),
    refusals,
    refused: Object.fromEntries(refused.map(([scope, time]) => [scope, new Date(time).toISOString()])),
    suggested_ceiling: [...usedScopes].sort(),
  }
}

function inWindow(map: Record<string, number>, since: number): [string, number][] {
  return Object.entries(map).filter(([, time]) => time >= since).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
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
