// GET /v1/logs/{log}/search: the query, its cursor, and one page of results.
import { createHash } from 'node:crypto'
import type { Entry, EntryIndex, Log } from '@annal/store'
import { TILE_WIDTH, TlogError } from '@annal/tlog'
import { TERM_FILTERS, type TermFilter, fieldTerm, jsonObject, recordTime, searchTerm } from './search-terms.js'
import { ApiError } from './errors.js'

export type Order = 'newest' | 'oldest'

/** A term of a search, and the payload field it is of, if it is of one. */
export interface QueryTerm {
  readonly term: Uint8Array
  readonly field?: string
}

/** A parsed search: the terms every result has, its time range, order and page. */
export interface SearchQuery {
  readonly terms: readonly QueryTerm[]
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
/** Candidates read at once when some may not match: a time range, or filters the index does not cover. */
const CHUNK = 256
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
  const terms: QueryTerm[] = []
  const named: string[] = []
  for (const [name, values] of Object.entries(params)) {
    if (values.length !== 1) throw new ApiError('REQUEST_MALFORMED', `${name} is given more than once`)
    const value = values[0]!
    const field = FIELD_PARAM.exec(name)?.[1]
    if (field !== undefined) {
      if (!indexedFields.includes(field)) throw new ApiError('REQUEST_MALFORMED', `this log does not index payload field ${field}`)
      terms.push({ term: fieldTerm(field, fieldValue(value)), field })
    } else if (name === 'status') {
      if (!STATUS.test(value)) throw new ApiError('REQUEST_MALFORMED', 'status is a status (403) or a class (4xx)')
      terms.push({ term: value.endsWith('xx') ? searchTerm('status_class', value[0]!) : searchTerm('status', value) })
    } else if ((TERM_FILTERS as readonly string[]).includes(name)) {
      terms.push({ term: searchTerm(name as TermFilter, value) })
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
 * What a search needs to know of the log's index: where it covers what. Below where it covers a
 * filter, a search reads the entries and checks the filter on each: slower, never partial.
 */
export interface SearchIndex {
  /** Every entry from this index on has its terms and time in the index (IndexState.from). */
  readonly from: number
  /** For each of the query's terms, in order: the index from which the index holds it; at least `from`. */
  readonly termsFrom: readonly number[]
  /** An entry's terms and time as the indexer finds them, to check the entries the index does not cover. */
  readonly indexOf: (entry: Uint8Array) => EntryIndex | Promise<EntryIndex>
}

/** The index below which some filter of `query` is not in the index, and is checked entry by entry. */
export function unindexedBelow(query: SearchQuery, index: SearchIndex): number {
  const timed = query.from !== undefined || query.to !== undefined
  return Math.max(timed ? index.from : 0, ...index.termsFrom)
}

/** A candidate, and the terms to check on its entry because the index does not cover them there. */
interface Candidate {
  readonly index: number
  readonly check: readonly Uint8Array[]
}

/**
 * A page of `query` over the entries below the size the search's first page saw, so that pages
 * neither repeat nor skip entries however much the log grows meanwhile. Where `index` covers the
 * filters, it gives the candidates; below, every entry is one, checked. A page ends early, with
 * a cursor, once MAX_EXAMINED candidates have been looked at.
 * @throws TlogError SIZE_OUT_OF_RANGE for a cursor past the log's size.
 */
export async function searchPage(log: Log, query: SearchQuery, index: SearchIndex): Promise<SearchPage> {
  const end = query.cursor?.end ?? log.size
  if (end > log.size) throw new TlogError('SIZE_OUT_OF_RANGE', 'cursor is past the end of the log')
  const reverse = query.order === 'newest'
  const position = query.cursor?.position ?? (reverse ? end : 0)
  const [low, high] = reverse ? [0, position] : [position, end]
  const timed = query.from !== undefined || query.to !== undefined
  // Every candidate matches when the index covers the whole range and no time is checked: read only as many as the page takes.
  const exact = !timed && unindexedBelow(query, index) <= low
  const candidates = candidatesOf(log, query, index, low, high, reverse)
  const entries: Entry[] = []
  let examined = 0
  let last: number | undefined
  let more = false
  try {
    for (;;) {
      const batch = await take(candidates, Math.min(exact ? query.limit - entries.length : CHUNK, MAX_EXAMINED - examined))
      examined += batch.length
      const read = await readEntries(log, batch.map((candidate) => candidate.index))
      const matched = await Promise.all(read.map((entry, i) => matches(entry, batch[i]!.check, query, index)))
      for (let i = 0; i < read.length; i++) {
        last = read[i]!.index
        if (matched[i]) entries.push(read[i]!)
        if (entries.length === query.limit) {
          more = i < read.length - 1
          break
        }
      }
      if (batch.length === 0 || entries.length === query.limit || examined >= MAX_EXAMINED) break
    }
    // A full page, or one cut short, whose candidates end with it has no next page.
    if (!more && last !== undefined && (entries.length === query.limit || examined >= MAX_EXAMINED)) more = !(await candidates.next()).done
  } finally {
    await candidates.return(undefined)
  }
  return { end, entries, next: more ? { end, position: reverse ? last! : last! + 1 } : undefined }
}

/**
 * The candidates of `query` in [low, high), in order: a segment at a time between the indexes
 * where the index begins to cover a filter, each from the index's rows of the filters it covers
 * there (and its time index, where it covers times), checking the others on each entry.
 */
async function* candidatesOf(log: Log, query: SearchQuery, index: SearchIndex, low: number, high: number,
    reverse: boolean): AsyncGenerator<Candidate, void, undefined> {
  const window = { from: query.from, to: query.to }
  const bounds = [...new Set([low, high, index.from, ...index.termsFrom])].filter((b) => b >= low && b <= high).sort((a, b) => a - b)
  const segments = bounds.slice(1).map((b, i) => [bounds[i]!, b] as const)
  if (reverse) segments.reverse()
  for (const [start, end] of segments) {
    const covered = query.terms.filter((_, t) => index.termsFrom[t]! <= start).map((term) => term.term)
    const check = query.terms.filter((_, t) => index.termsFrom[t]! > start).map((term) => term.term)
    for await (const candidate of log.matching(covered, { start, end, reverse }, index.from <= start ? window : {})) {
      yield { index: candidate, check }
    }
  }
}

async function take<T>(from: AsyncGenerator<T>, count: number): Promise<T[]> {
  const out: T[] = []
  while (out.length < count) {
    const next = await from.next()
    if (next.done === true) break
    out.push(next.value)
  }
  return out
}

/** The entries at `indexes`, each bundle read once. */
async function readEntries(log: Log, indexes: readonly number[]): Promise<Entry[]> {
  const byBundle = new Map<number, number[]>()
  for (const index of indexes) {
    const bundle = Math.floor(index / TILE_WIDTH)
    const list = byBundle.get(bundle)
    if (list === undefined) byBundle.set(bundle, [index])
    else list.push(index)
  }
  const read = new Map<number, Entry>()
  await Promise.all([...byBundle.values()].map(async (list) => {
    const first = Math.min(...list)
    if (list.length === 1) read.set(first, await log.entry(first))
    else for (const entry of await log.entries(first, Math.max(...list) - first + 1)) read.set(entry.index, entry)
  }))
  return indexes.map((index) => read.get(index)!)
}

/** Whether `entry` is in the query's time range and has the terms `check` that its candidate was not found by. */
async function matches(entry: Entry, check: readonly Uint8Array[], query: SearchQuery, index: SearchIndex): Promise<boolean> {
  if ((query.from !== undefined || query.to !== undefined) && !inRange(entry, query)) return false
  if (check.length === 0) return true
  const { terms } = await index.indexOf(entry.data)
  const has = new Set(terms.map(termText))
  return check.every((term) => has.has(termText(term)))
}

const termText = (term: Uint8Array) => String.fromCharCode(...term)

function inRange(entry: Entry, { from, to }: SearchQuery): boolean {
  const record = jsonObject(entry.data)
  const ms = record === undefined ? undefined : recordTime(record)
  if (ms === undefined) return false
  return (from === undefined || ms >= from) && (to === undefined || ms < to)
}
