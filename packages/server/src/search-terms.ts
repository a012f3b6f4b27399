// The search terms of the server's entries: what GET /v1/logs/{log}/search filters on.
import { createHash } from 'node:crypto'
import { type EntryIndex, type EntryIndexer, type HashedObject, type Ledger, MAX_TERM_BYTES, isStoreError } from '@annal/store'
import { canonicalJson } from './canonical-json.js'
import { eventObject } from './entry-json.js'

/** The filters an index answers, each a member of the records (access, alerts) or envelopes. */
export const TERM_FILTERS = [
  'sub', 'client_id', 'jti', 'required_scope', 'granted_scope', 'route', 'action', 'status', 'remote_address',
] as const
export type TermFilter = (typeof TERM_FILTERS)[number] | 'status_class' | 'field'

// One byte per filter, so that a term names its filter; the high bit marks a hashed value.
const CODES: Record<TermFilter, number> = {
  sub: 0x73, client_id: 0x63, jti: 0x6a, required_scope: 0x72, granted_scope: 0x67, route: 0x75, action: 0x61,
  status: 0x74, status_class: 0x6b, remote_address: 0x69, field: 0x70,
}
const HASHED = 0x80
/** Bytes of SHA-256 kept for a value too long to be its own term: a collision is out of reach. */
const HASHED_BYTES = 16
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The term of `filter` = `value`: the filter's byte and the value's UTF-8, or for a value too
 * long for a small row, the filter's byte (marked) and the first bytes of the value's SHA-256.
 */
export function searchTerm(filter: TermFilter, value: string): Uint8Array {
  const bytes = utf8.encode(value)
  if (1 + bytes.length <= MAX_TERM_BYTES) {
    const term = new Uint8Array(1 + bytes.length)
    term[0] = CODES[filter]
    term.set(bytes, 1)
    return term
  }
  const digest = createHash('sha256').update(bytes).digest().subarray(0, HASHED_BYTES)
  const term = new Uint8Array(1 + HASHED_BYTES)
  term[0] = CODES[filter] | HASHED
  term.set(digest, 1)
  return term
}

/** The term of payload field `name` = `value` (a JSON scalar), as canonical JSON. */
export function fieldTerm(name: string, value: string | number | boolean | null): Uint8Array {
  return searchTerm('field', `${name}\0${canonicalJson(value)}`)
}

/** What the terms of a log's entries depend on beyond their bytes. */
export interface TermSources {
  /** The top-level payload fields log `log` indexes; none for most logs. */
  fieldsOf(log: string): readonly string[]
  /** An event's payload, by its object hash (`sha256:<hex>`); undefined when erased or absent. */
  payload(hash: string): Promise<Uint8Array | undefined>
}

// Payloads of events being appended, by their envelope: the objects are written in the same
// batch as the envelopes, so the indexer cannot read them from the ledger yet.
const appending = new WeakMap<Uint8Array, Uint8Array>()

/** Hands the indexer the payloads of envelopes about to be appended (`leaves[i]` names `objects[i]`). */
export function notePayloads(leaves: readonly Uint8Array[], objects: readonly HashedObject[]): void {
  leaves.forEach((leaf, i) => appending.set(leaf, objects[i]!.bytes))
}

/** The indexer of a ledger served by this API: see `entryIndex`. */
export function searchIndexer(sources: TermSources): EntryIndexer {
  return (log, entry) => entryIndex(sources, log, entry)
}

/** The payload reader of `ledger`: erased and missing objects have none. */
export function ledgerPayloads(ledger: Ledger): (hash: string) => Promise<Uint8Array | undefined> {
  return async (hash) => {
    try {
      return await ledger.objects.get(hash)
    } catch (error) {
      if (isStoreError(error, 'OBJECT_ERASED') || isStoreError(error, 'OBJECT_NOT_FOUND')) return undefined
      throw error
    }
  }
}

/**
 * What an entry is found by. Its terms: for any JSON object leaf (access records, alerts, event
 * envelopes) the members the filters name, and for an event of a log that indexes payload
 * fields, those of its payload's top-level members that are JSON scalars. Its time: see
 * recordTime. Anything else has neither. Synchronous unless a payload must be read from the
 * ledger (a reindex, or a search of entries the index does not cover).
 */
export function entryIndex(sources: TermSources, log: string, entry: Uint8Array): EntryIndex | Promise<EntryIndex> {
  const record = jsonObject(entry)
  if (record === undefined) return NOTHING
  const terms = recordTerms(record)
  const time = recordTime(record)
  const fields = sources.fieldsOf(log)
  const object = fields.length === 0 ? undefined : eventObject(record)
  if (object === undefined) return { terms, time }
  const noted = appending.get(entry)
  if (noted !== undefined) return { terms: [...terms, ...payloadTerms(fields, noted)], time }
  return sources.payload(object.hash).then((payload) => ({ terms: payload === undefined ? terms : [...terms, ...payloadTerms(fields, payload)], time }))
}

const NOTHING: EntryIndex = { terms: [] }

/**
 * The time of a record or envelope, in milliseconds since the epoch: its `time` member, as
 * Date.parse reads it; undefined when it has none that parses. The time index holds it, and a
 * search's `from` and `to` are compared with it.
 */
export function recordTime(record: Record<string, unknown>): number | undefined {
  const { time } = record
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN
  return Number.isNaN(ms) ? undefined : ms
}

function recordTerms(record: Record<string, unknown>): Uint8Array[] {
  const terms: Uint8Array[] = []
  const add = (filter: TermFilter, value: unknown) => {
    if (typeof value === 'string') terms.push(searchTerm(filter, value))
  }
  const actor = objectOf(record.actor)
  add('sub', actor?.sub)
  add('client_id', actor?.client_id)
  add('jti', objectOf(record.token)?.jti)
  add('required_scope', record.required_scope)
  if (Array.isArray(record.scopes)) for (const scope of record.scopes) add('granted_scope', scope)
  add('route', record.route)
  add('action', record.action)
  add('remote_address', record.remote_address)
  const { status } = record
  if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599) {
    add('status', String(status))
    add('status_class', String(Math.floor(status / 100)))
  }
  return terms
}

function payloadTerms(fields: readonly string[], payload: Uint8Array): Uint8Array[] {
  const object = jsonObject(payload)
  if (object === undefined) return []
  return fields.flatMap((name) => {
    const value = Object.hasOwn(object, name) ? object[name] : undefined
    const scalar = value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number'
    return scalar ? [fieldTerm(name, value)] : []
  })
}

/** The JSON object in `bytes`, or undefined for anything else. */
export function jsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  // Only `{` can start an object; checked first, so other leaves cost no parse.
  if (bytes[0] !== 0x7b) return undefined
  try {
    return objectOf(JSON.parse(utf8Decoder.decode(bytes)))
  } catch {
    return undefined
  }
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}
