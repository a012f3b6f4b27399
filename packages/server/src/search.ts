// GET /v1/logs/{log}/search: the query, its cursor, and one page of results.
import { createHash } from 'node:crypto'
import type { Entry, Log } from '@annal/store'
import { TlogError } from '@annal/tlog'
import { TERM_FILTERS, type TermFilter, fieldTerm, jsonObject, searchTerm } from './search-terms.js'
import { ApiError } from './errors.js'

export type Order = 'newest' | 'oldest'

/** A parsed search: the terms every result has, its time range, order and page. */
export interface SearchQuery {
  readonly terms: readonly Uint8Array[]
  /** Milliseconds since the epoch: `time` >= from and < to. */
  readonly from?: number
  readonly to?: number
  readonly order: Order
  readonly limit: number
  readonly withProofs: boolean
  readonly cursor?: Cursor
  /** Names the filters, so that a cursor is taken only by the search that made it. */
  readonly digest: string
}

/** Where a search goes on: the log's size at its first page, and the next index to look at. */
export interface Cursor {
  readonly end: number
  /** Newest first: look below it; oldest first: look from it. */
  readonly position: number
}

/** Candidates looked at per request at most: a query that matches little ends its page early, with a cursor. */
export const MAX_EXAMINED = 10_000
/** Entries read at once to check a time range. */
const TIME_CHUNK = 256
const STATUS = /^[1-5](?:[0-9]{2}|xx)$/
const TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})$/
const CURSOR = /^[A-Za-z0-9_-]{1,100}$/
const CURSOR_TEXT = /^v1\.(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,15})\.([0-9a-f]{16})$/
const FIELD_PARAM = /^field\.(.+)$/
const OTHER_PARAMS = new Set(['from', 'to', 'order', 'limit', 'cursor', 'with_proofs'])

/**
 * The search in a request's query parameters. Filters are AND-ed; each is given once.
 * @throws ApiError REQUEST_MALFORMED for an unknown or repeated parameter, a bad value, or a
 *   payload field the log does not index.
 */
export function parseSearch(params: Record<string, string[]>, indexedFields: readonly string[], maxLimit: number): SearchQuery {
  const one = (name: string): string | undefined => params[name]?.[0]
  const terms: Uint8Array[] = []
  const named: string[] = []
  for (const [name, values] of Object.entries(params)) {
    if (values.length !== 1) throw new ApiError('REQUEST_MALFORMED', `${name} is given more than once`)
    const value = values[0]!
    const field = FIELD_PARAM.exec(name)?.[1]
    if (field !== undefined) {
      if (!indexedFields.includes(field)) throw new ApiError('REQUEST_MALFORMED', `this log does not index payload field ${field}`)
      terms.push(fieldTerm(field, fieldValue(value)))
    } else if (name === 'status') {
      if (!STATUS.test(value)) throw new ApiError('REQUEST_MALFORMED', 'status is a status (403) or a class (4xx)')
      terms.push(value.endsWith('xx') ? searchTerm('status_class', value[0]!) : searchTerm('status', value))
    } else if ((TERM_FILTERS as readonly string[]).includes(name)) {
      terms.push(searchTerm(name as TermFilter, value))
    } else if (!OTHER_PARAMS.has(name)) {
      throw new ApiError('REQUEST_MALFORMED', `unknown parameter ${name}`)
    } else continue
    named.push(`${name}=${value}`)
  }
  const from = timeParam(one('from'), 'from')
  const to = timeParam(one('to'), 'to')
  const order = one('order') ?? 'newest'
  if (order !== 'newest' && order !== 'oldest') throw new ApiError('REQUEST_MALFORMED', 'order is newest or oldest')
  const limit = limitParam(one('limit'), maxLimit)
  const withProofs = one('with_proofs')
  if (withProofs !== undefined && withProofs !== '1' && withProofs !== '0') throw new ApiError('REQUEST_MALFORMED', 'with_proofs is 1 or 0')
  const digest = createHash('sha256').update(JSON.stringify([named.sort(), from ?? null, to ?? null, order])).digest('hex').slice(0, 16)
  const cursorText = one('cursor')
  const cursor = cursorText === undefined ? undefined : parseCursor(cursorText, digest)
  return { terms, from, to, order, limit, withProofs: withProofs === '1', cursor, digest }
}

/** A payload field's value: JSON when it is a JSON scalar (`42`, `true`, `"42"`), else the text itself. */
function fieldValue(text: string): string | number | boolean | null {
  try {
    const value = JSON.parse(text) as unknown
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value as string | number | boolean | null
  } catch {
    // Not JSON: a bare string.
  }
  return text
}

function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const ms = TIME.test(value) ? Date.parse(value) : Number.NaN
  if (Number.isNaN(ms)) throw new ApiError('REQUEST_MALFORMED', `${name} is an RFC 3339 time, such as 2026-01-31T09:00:00Z`)
  return ms
}

function limitParam(value: string | undefined, max: number): number {
  if (value === undefined) return Math.min(100, max)
  if (!/^[1-9][0-9]{0,6}$/.test(value)) throw new ApiError('REQUEST_MALFORMED', 'limit is a positive integer')
  return Math.min(Number(value), max)
}

/** A cursor's text: opaque to clients, base64url of `v1.<end>.<position>.<digest>`. */
export function cursorText(cursor: Cursor, digest: string): string {
  return Buffer.from(`v1.${cursor.end}.${cursor.position}.${digest}`).toString('base64url')
}

function parseCursor(text: string, digest: string): Cursor {
  const match = CURSOR.test(text) ? CURSOR_TEXT.exec(Buffer.from(text, 'base64url').toString('latin1')) : null
  if (match === null) throw new ApiError('REQUEST_MALFORMED', 'cursor is not one this server made')
  if (match[3] !== digest) throw new ApiError('REQUEST_MALFORMED', 'cursor belongs to a search with other filters or order')
  const end = Number(match[1])
  const position = Number(match[2])
  if (position > end) throw new ApiError('REQUEST_MALFORMED', 'cursor is not one this server made')
  return { end, position }
}

/** One page of a search: its entries in order, and where the next page starts, if one may. */
export interface SearchPage {
  readonly end: number
  readonly entries: readonly Entry[]
  readonly next: Cursor | undefined
}

/**
 * A page of `query` over the entries below the size the search's first page saw, so that pages
 * neither repeat nor skip entries however much the log grows meanwhile. A page ends early, with
 * a cursor, once MAX_EXAMINED candidates have been looked at.
 * @throws TlogError SIZE_OUT_OF_RANGE for a cursor past the log's size.
 */
export async function searchPage(log: Log, query: SearchQuery): Promise<SearchPage> {
  const end = query.cursor?.end ?? log.size
  if (end > log.size) throw new TlogError('SIZE_OUT_OF_RANGE', 'cursor is past the end of the log')
  const reverse = query.order === 'newest'
  const position = query.cursor?.position ?? (reverse ? end : 0)
  const range = reverse ? { start: 0, end: position, reverse } : { start: position, end, reverse }
  const timed = query.from !== undefined || query.to !== undefined
  const candidates = log.matching(query.terms, range)
  const entries: Entry[] = []
  let examined = 0
  let last: number | undefined
  /** Candidates read but left for the next page. */
  let leftover = false
  let pending: number[] = []
  let exhausted = false
  for (;;) {
    const next = await candidates.next()
    exhausted = next.done === true
    if (!next.done) pending.push(next.value)
    examined += next.done ? 0 : 1
    const want = timed ? TIME_CHUNK : query.limit - entries.length
    if (!next.done && pending.length < want && examined < MAX_EXAMINED) continue
    const read = await entriesAt(log, pending)
    for (let i = 0; i < read.length; i++) {
      last = read[i]!.index
      if (!timed || inRange(read[i]!, query)) entries.push(read[i]!)
      if (entries.length === query.limit) {
        leftover = i < read.length - 1
        break
      }
    }
    pending = []
    if (entries.length === query.limit || examined >= MAX_EXAMINED) break
    if (next.done) return { end, entries, next: undefined }
  }
  // A full page whose candidates end with it has no next page.
  const more = leftover || (!exhausted && (entries.length < query.limit || !(await candidates.next()).done))
  await candidates.return(undefined)
  return { end, entries, next: more ? { end, position: reverse ? last! : last! + 1 } : undefined }
}

async function entriesAt(log: Log, indexes: readonly number[]): Promise<Entry[]> {
  return Promise.all(indexes.map((index) => log.entry(index)))
}

function inRange(entry: Entry, { from, to }: SearchQuery): boolean {
  const time = jsonObject(entry.data)?.time
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN
  if (Number.isNaN(ms)) return false
  return (from === undefined || ms >= from) && (to === undefined || ms < to)
}
