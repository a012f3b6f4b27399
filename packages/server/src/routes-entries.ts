import { createHash } from 'node:crypto'
import type { AppendedEntry, Entry, HashedObject, Ledger, Log } from '@annal/store'
import type { Principal } from './auth.js'
import { TlogError, isTlogError } from '@annal/tlog'
import type { Hono } from 'hono'
import { requestBody } from '@annal/http'
import { isJsonType, mediaType, nestedDeeperThan, parseJson, splitNdjson } from './body.js'
import { type AppEnv, MAX_JSON_DEPTH, type Services, authenticated, authorize } from './context.js'
import { ENVELOPE_TYPE, type EnvelopeInput, envelopeBytes, envelopeTemplate } from './envelope.js'
import type { IdempotencyRecord, RecordRow, StoredResponse } from './idempotency.js'
import { countParam, entryRef } from './params.js'
import { ProblemError } from './problem.js'
import { accessRecord } from './access-log.js'
import { ACCESS_LOG } from './scopes.js'

const NDJSON = 'application/x-ndjson'
const REFUSED_TYPES = /^(?:multipart\/|application\/x-www-form-urlencoded$)/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Appending events and reading entries and objects. */
export function entryRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger, limits } = services

  app.post('/v1/logs/:log/entries', async (c) => {
    const name = c.req.param('log')
    if (name === ACCESS_LOG) {
      authenticated(c, name)
      throw new TlogError('LOG_RESERVED', 'the access log is written by the server only')
    }
    const { principal, scope } = authorize(c, 'log:append', name)
    const log = ledger.log(name)
    const type = mediaType(c.req.header('content-type'), 'application/json')
    if (REFUSED_TYPES.test(type)) throw new TlogError('CONTENT_TYPE_UNSUPPORTED', 'send the event as its own content type, not a form')
    const body = await requestBody(c, limits.bodyBytes, { timeoutMs: limits.bodyTimeoutMs })
    const append = async (recordRow?: RecordRow): Promise<StoredResponse> => {
      const time = services.clock()
      const response = await appendEvents({
        services, log, type, body, time, requestId: c.get('requestId'), principal, scope, recordRow,
        record: accessRecord(c, services, 201, undefined, time),
      })
      c.set('recordedStatus', 201)
      return response
    }
    const key = c.req.header('idempotency-key')
    let response: StoredResponse
    if (key === undefined) {
      response = await append()
    } else {
      const once = await services.idempotency.once(`${principal.iss}\n${principal.sub ?? ''}\n${name}`, key,
        digest(type, body), append, (record) => replayAppend(ledger, record))
      response = once.response
      if (once.replayed) c.set('replayed', true)
    }
    return c.body(response.body, response.status, {
      'Content-Type': response.contentType, ...(c.get('replayed') === true ? { 'Idempotent-Replayed': 'true' } : {}),
    })
  })

  app.get('/v1/logs/:log/entries', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const start = countParam(c.req.query('start'), 'start', 0)
    const limit = Math.min(countParam(c.req.query('limit'), 'limit', 100), limits.listEntries)
    const size = log.size
    if (start > size) throw new TlogError('SIZE_OUT_OF_RANGE', 'start is past the end of the log')
    const entries = pageOf(await log.entries(start, limit), limits.pageBytes)
    const next = start + entries.length
    const link: Record<string, string> = next < size
      ? { Link: `</v1/logs/${encodeURIComponent(name)}/entries?start=${next}&limit=${limit}>; rel="next"` } : {}
    const inline = { bytes: limits.pageBytes, depth: limits.jsonDepth }
    return c.body(jsonStream(`{"start":${start},"size":${size},"next":${next},"entries":[`,
      entries.map((entry) => () => entryJson(ledger, entry, inline)), ']}'), 200, { 'Content-Type': 'application/json', ...link })
  })

  app.get('/v1/logs/:log/entries/:ref', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const ref = entryRef(c.req.param('ref'))
    let entry: Entry
    try {
      entry = await log.entry(ref)
    } catch (error) {
      if (!isTlogError(error, 'ID_AMBIGUOUS') || typeof ref !== 'string') throw error
      const candidates = await log.candidates(ref)
      throw new ProblemError('ID_AMBIGUOUS', 'the abbreviated id matches more than one entry', { candidates }, { cause: error })
    }
    const json = await entryJson(ledger, entry, { bytes: limits.pageBytes, depth: limits.jsonDepth })
    return c.body(json, 200, { 'Content-Type': 'application/json' })
  })

  app.get('/v1/objects/:hash', async (c) => {
    const hash = c.req.param('hash')
    c.set('object', hash)
    authorize(c, 'log:read')
    const { bytes, info } = await ledger.objects.read(hash)
    // Served as stored, but never sniffed or rendered: the bytes are whatever a client appended.
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': info.contentType ?? 'application/octet-stream', 'Cache-Control': 'private, no-cache',
      'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; sandbox",
    })
  })
}

interface AppendRequest {
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
async function appendEvents(request: AppendRequest): Promise<StoredResponse> {
  const { services, log, type, body } = request
  const batch = type === NDJSON
  const { jsonDepth, ndjsonLines } = services.limits
  const events = batch ? splitNdjson(body, ndjsonLines, jsonDepth) : [checkEvent(body, type, jsonDepth)]
  const contentType = batch ? 'application/json' : type
  const objects = services.ledger.objects.hashed(events.map((bytes) => ({ bytes, contentType })))
  const leaves = envelopes({
    contentType, time: request.time, requestId: request.requestId, principal: request.principal, scope: request.scope,
  }, objects, batch)
  const rows = request.recordRow === undefined ? []
    : [request.recordRow({ log: log.info.name, first: leafId(leaves[0]!), count: leaves.length, type })]
  const result = (await services.ledger.append([
    { log: log.info.name, entries: leaves }, { log: ACCESS_LOG, entries: [request.record] },
  ], { objects, rows }))[0]!
  // Witnesses hear of the new checkpoint now rather than at the next poll; never awaited.
  services.cosigner?.kick()
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
 * @throws TlogError CORRUPTION when the log does not hold what the record says.
 */
async function replayAppend(ledger: Ledger, record: IdempotencyRecord): Promise<StoredResponse> {
  const log = ledger.log(record.log)
  const first = await log.resolve(record.first)
  const entries = await log.entries(first, record.count)
  if (entries.length !== record.count) throw new TlogError('CORRUPTION', 'an idempotency record names entries the log does not hold')
  const objects = entries.map((entry) => {
    const object = eventObject(JSON.parse(utf8.decode(entry.data)) as unknown)
    if (object === undefined) throw new TlogError('CORRUPTION', 'an idempotency record names an entry that is not an event')
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

/** The envelopes of a request's stored events; a template pays off from an NDJSON batch's second line. */
function envelopes(common: Omit<EnvelopeInput, 'object' | 'size' | 'line'>, objects: readonly HashedObject[],
    batch: boolean): Uint8Array[] {
  if (!batch) return [envelopeBytes({ ...common, object: objects[0]!.hash, size: objects[0]!.bytes.length })]
  return envelopeTemplate(common)(objects.map((object, i) => ({ object: object.hash, size: object.bytes.length, line: i + 1 })))
}

/** A single event: not empty, and valid JSON nested at most `maxDepth` deep when it says it is JSON. */
function checkEvent(body: Uint8Array, type: string, maxDepth: number): Uint8Array {
  if (body.length === 0) throw new TlogError('ENTRY_EMPTY', 'the body is empty')
  if (isJsonType(type)) parseJson(body, 'the body', maxDepth)
  return body
}

function digest(type: string, body: Uint8Array): string {
  return createHash('sha256').update(type).update('\n').update(body).digest('hex')
}

/** Why an entry's JSON payload is served without being inline. */
export type PayloadOmitted = 'too_large' | 'too_deep'

/**
 * An entry as served, as JSON text: index, id, the parsed envelope, and the event inline as
 * `payload` when it is JSON, not erased, at most `inline.bytes` long and nested at most
 * `inline.depth` deep. Otherwise `payload_erased` or `payload_omitted` says why it is not, and
 * the envelope's object hash names it for GET /v1/objects/{hash}. A leaf that is not JSON, or
 * nested deeper than the server can print, is served as `leaf_base64`: nothing stored can make
 * this fail.
 */
export async function entryJson(ledger: Ledger, entry: Entry, inline: { readonly bytes: number; readonly depth: number }): Promise<string> {
  const envelope = printableJson(entry.data)
  if (envelope === undefined) {
    return JSON.stringify({ index: entry.index, id: entry.id, leaf_base64: Buffer.from(entry.data).toString('base64') })
  }
  const view: Record<string, unknown> = { index: entry.index, id: entry.id, envelope }
  const object = eventObject(envelope)
  if (object === undefined || !isJsonType(object.contentType)) return JSON.stringify(view)
  if (object.size > inline.bytes) {
    view.payload_omitted = 'too_large' satisfies PayloadOmitted
    return JSON.stringify(view)
  }
  let bytes: Uint8Array
  try {
    bytes = await ledger.objects.get(object.hash)
  } catch (error) {
    if (isTlogError(error, 'OBJECT_ERASED')) view.payload_erased = true
    else if (!isTlogError(error, 'OBJECT_NOT_FOUND')) throw error
    return JSON.stringify(view)
  }
  if (nestedDeeperThan(bytes, inline.depth)) view.payload_omitted = 'too_deep' satisfies PayloadOmitted
  else view.payload = printableJson(bytes)
  return JSON.stringify(view)
}

/** The JSON value in `bytes` if they are UTF-8 JSON that JSON.stringify can print back, else undefined. */
function printableJson(bytes: Uint8Array): unknown {
  if (nestedDeeperThan(bytes, MAX_JSON_DEPTH)) return undefined
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown
  } catch {
    return undefined
  }
}

/**
 * The leading entries of a list page that fit in `maxBytes` with their inline payloads (at least
 * one), judged from the envelopes' object sizes before any payload is read.
 */
function pageOf(entries: readonly Entry[], maxBytes: number): Entry[] {
  let bytes = 0
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const object = eventObject(printableJson(entry.data))
    const payload = object !== undefined && isJsonType(object.contentType) && object.size <= maxBytes ? object.size : 0
    bytes += entry.data.length + payload
    if (bytes > maxBytes && i > 0) return entries.slice(0, i)
  }
  return [...entries]
}

/**
 * A JSON document streamed in parts: `head`, each item's text (made when the socket wants it,
 * so that one page holds one payload in memory at a time) separated by commas, then `tail`.
 */
function jsonStream(head: string, items: readonly (() => Promise<string>)[], tail: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let next = 0
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(head))
    },
    async pull(controller) {
      if (next === items.length) {
        controller.enqueue(encoder.encode(tail))
        controller.close()
        return
      }
      const text = await items[next]!()
      controller.enqueue(encoder.encode(next === 0 ? text : `,${text}`))
      next++
    },
  }, { highWaterMark: 1 })
}

function eventObject(envelope: unknown): { hash: string; size: number; contentType: string } | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined
  const { type, object } = envelope as { type?: unknown; object?: { hash?: unknown; size?: unknown; content_type?: unknown } }
  if (type !== ENVELOPE_TYPE || typeof object?.hash !== 'string' || typeof object.content_type !== 'string' ||
    typeof object.size !== 'number') return undefined
  return { hash: object.hash, size: object.size, contentType: object.content_type }
}

