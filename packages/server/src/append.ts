// Appending events: checks, envelopes, one atomic write with the access record, and the answer.
import { createHash } from 'node:crypto'
import { BodyError } from '@annal/http'
import { StoreError, type AppendResult, type AppendedEntry, type HashedObject, type Ledger, type Log } from '@annal/store'
import type { Principal } from './auth.js'
import { isJsonType, parseJson, splitNdjson } from './body.js'
import type { Limits, Services } from './context.js'
import { eventObject } from './entry-json.js'
import { type EnvelopeInput, envelopeBytes, envelopeTemplate } from './envelope.js'
import type { IdempotencyRecord, RecordRow, StoredResponse } from './idempotency.js'
import { ACCESS_LOG, isServerLog } from './scopes.js'
import { notePayloads } from './search-terms.js'
import { ApiError } from './errors.js'

const NDJSON = 'application/x-ndjson'
const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface AppendRequest {
  readonly services: Services
  readonly log: Log
  readonly type: string
  readonly body: Uint8Array
  /** When the server took the events: the envelopes' time and the access record's. */
  readonly time: Date
  readonly requestId: string
  readonly principal: Principal
  readonly scope: string
  /** The request's access record, as answered 201: committed with the entries. */
  readonly record: Uint8Array
  /** With an Idempotency-Key: the key's row, committed with the entries. */
  readonly recordRow?: RecordRow
}

/**
 * Appends the events' envelopes and the request's access record, and stores each event as an
 * object, in one call: the ledger writes a call whole, so an NDJSON batch goes in entirely or
 * not at all, never without its record, and no envelope without its object.
 */
export async function appendEvents(request: AppendRequest): Promise<StoredResponse> {
  const { services, log, type, body } = request
  const batch = type === NDJSON
  const events = appendBodyEvents(body, type, services.limits)
  const contentType = batch ? 'application/json' : type
  const objects = services.ledger.objects.hashed(events.map((bytes) => ({ bytes, contentType })))
  const leaves = envelopes({
    contentType, time: request.time, requestId: request.requestId, principal: request.principal, scope: request.scope,
  }, objects, batch)
  notePayloads(leaves, objects)
  const rows = request.recordRow === undefined ? []
    : [request.recordRow({ log: log.info.name, first: leafId(leaves[0]!), count: leaves.length, type })]
  const result = (await services.ledger.append([
    { log: log.info.name, entries: leaves }, { log: ACCESS_LOG, entries: [request.record] },
  ], { objects, rows }))[0]!
  // Witnesses hear of the new checkpoint now rather than at the next poll; never awaited.
  services.witnessing?.kick()
  return appendResponse(result.entries, objects.map((object) => object.hash), result.checkpoint, batch)
}

/**
 * The answer to an append: for an NDJSON batch a line per event, else one result. Each result is
 * JSON.stringify({ index, id, duplicate, object, checkpoint }), written out: ids and hashes are
 * hex, so nothing in them needs escaping, and the checkpoint is shared.
 */
function appendResponse(entries: readonly AppendedEntry[], objects: readonly string[],
    checkpoint: { readonly size: number; readonly root: string }, batch: boolean): StoredResponse {
  const tail = `,"checkpoint":{"size":${checkpoint.size},"root":"${checkpoint.root}"}}`
  if (batch) return { status: 201, contentType: NDJSON, body: batchResults(entries, objects, tail) }
  const { index, id, duplicate } = entries[0]!
  return {
    status: 201, contentType: 'application/json',
    body: `{"index":${index},"id":"${id}","duplicate":${duplicate},"object":"${objects[0]!}"${tail}`,
  }
}

/**
 * The first answer to an append with an Idempotency-Key, rebuilt from its record and the log: the
 * entries it appended (a call's new entries are consecutive, and a server's envelopes are never
 * duplicates, since each names its request), their objects, and the checkpoint their batch
 * resolved with.
 * @throws StoreError CORRUPTION when the log does not hold what the record says.
 */
export async function replayAppend(ledger: Ledger, record: IdempotencyRecord): Promise<StoredResponse> {
  const log = ledger.log(record.log)
  const first = await log.resolve(record.first)
  const entries = await log.entries(first, record.count)
  if (entries.length !== record.count) throw new StoreError('CORRUPTION', 'an idempotency record names entries the log does not hold')
  const objects = entries.map((entry) => {
    const object = eventObject(JSON.parse(utf8.decode(entry.data)) as unknown)
    if (object === undefined) throw new StoreError('CORRUPTION', 'an idempotency record names an entry that is not an event')
    return object.hash
  })
  const checkpoint = await log.firstCheckpointWith(first + record.count - 1)
  return appendResponse(entries.map(({ index, id }) => ({ index, id, duplicate: false })), objects, checkpoint, record.type === NDJSON)
}

/** The RFC 6962 leaf hash of an entry, in hex: its id. */
function leafId(leaf: Uint8Array): string {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest('hex')
}

const LEAF_PREFIX = Uint8Array.of(0)

/**
 * An NDJSON batch's results, a line each, written straight into bytes: every character is ASCII,
 * and a thousand strings joined, measured for Content-Length and encoded again for the socket
 * cost three times as much.
 */
function batchResults(entries: readonly AppendedEntry[], objects: readonly string[], tail: string): Uint8Array<ArrayBuffer> {
  const lineEnd = `"${tail}\n`
  const indexes = entries.map(({ index }) => String(index))
  let size = 0
  for (let i = 0; i < entries.length; i++) {
    size += RESULT_NAMES + indexes[i]!.length + entries[i]!.id.length + (entries[i]!.duplicate ? 4 : 5) +
      objects[i]!.length + lineEnd.length
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (let i = 0; i < entries.length; i++) {
    at = putAscii(bytes, at, '{"index":')
    at = putAscii(bytes, at, indexes[i]!)
    at = putAscii(bytes, at, ',"id":"')
    at = putAscii(bytes, at, entries[i]!.id)
    at = putAscii(bytes, at, entries[i]!.duplicate ? '","duplicate":true' : '","duplicate":false')
    at = putAscii(bytes, at, ',"object":"')
    at = putAscii(bytes, at, objects[i]!)
    at = putAscii(bytes, at, lineEnd)
  }
  return bytes
}

/** The fixed characters of a result line before its line end, but for `true` or `false`. */
const RESULT_NAMES = '{"index":,"id":"","duplicate":,"object":"'.length

function putAscii(bytes: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i)
  return at + text.length
}

/**
 * The envelopes of a request's stored events; a template pays off from an NDJSON batch's second
 * line. `firstLine` is the line number of a batch's first event.
 */
function envelopes(common: Omit<EnvelopeInput, 'object' | 'size' | 'line'>, objects: readonly HashedObject[],
    batch: boolean, firstLine = 1): Uint8Array[] {
  if (!batch) return [envelopeBytes({ ...common, object: objects[0]!.hash, size: objects[0]!.bytes.length })]
  return envelopeTemplate(common)(objects.map((object, i) => ({ object: object.hash, size: object.bytes.length, line: firstLine + i })))
}

/**
 * The events of an append's body, checked as POST /v1/logs/{log}/entries checks them: for
 * `application/x-ndjson` each line, else the body as one event (JSON when its type says so).
 * @throws BodyError BODY_TOO_LARGE over `limits.bodyBytes`; as splitNdjson and checkEvent.
 */
export function appendBodyEvents(body: Uint8Array, type: string, limits: Limits): Uint8Array[] {
  if (body.length > limits.bodyBytes) throw new BodyError('BODY_TOO_LARGE', `bodies are limited to ${limits.bodyBytes} bytes`)
  return type === NDJSON ? splitNdjson(body, limits.ndjsonLines, limits.jsonDepth) : [checkEvent(body, type, limits.jsonDepth)]
}

/** An append made on the ledger itself rather than through the HTTP API. */
export interface LocalAppend {
  readonly log: string
  /** As the API's Content-Type: `application/x-ndjson` for a batch. */
  readonly type: string
  /** From appendBodyEvents. */
  readonly events: readonly Uint8Array[]
  /** Who appended; it has no token, so its envelopes' `token` is `{}`. */
  readonly actor: { readonly iss: string; readonly sub?: string; readonly clientId?: string }
  readonly time: Date
  /** Names the append in its envelopes, as a request id does. */
  readonly requestId: string
  /** The line number of a batch's first event, for a batch that is part of a larger file. Default 1. */
  readonly firstLine?: number
}

/** The scope a local append's envelopes carry: it was allowed by holding the ledger, not by a token. */
export const LOCAL_SCOPE = 'local'

/**
 * Appends events as the API would, with the same envelopes and objects in one atomic call, but
 * without an access record: no request was made.
 * @throws ApiError LOG_RESERVED for the access and alerts logs; StoreError LOG_NOT_FOUND.
 */
export async function appendLocalEvents(ledger: Ledger, append: LocalAppend): Promise<AppendResult> {
  if (isServerLog(append.log)) throw new ApiError('LOG_RESERVED', `the ${append.log} log is written by the server only`)
  ledger.log(append.log)
  const batch = append.type === NDJSON
  const contentType = batch ? 'application/json' : append.type
  const objects = ledger.objects.hashed(append.events.map((bytes) => ({ bytes, contentType })))
  const principal = { ...append.actor, scopes: [] }
  const leaves = envelopes({ contentType, time: append.time, requestId: append.requestId, principal, scope: LOCAL_SCOPE },
    objects, batch, append.firstLine)
  notePayloads(leaves, objects)
  return (await ledger.append([{ log: append.log, entries: leaves }], { objects }))[0]!
}

/** A single event: not empty, and valid JSON nested at most `maxDepth` deep when it says it is JSON. */
function checkEvent(body: Uint8Array, type: string, maxDepth: number): Uint8Array {
  if (body.length === 0) throw new StoreError('ENTRY_EMPTY', 'the body is empty')
  if (isJsonType(type)) parseJson(body, 'the body', maxDepth)
  return body
}
