import { createHash } from 'node:crypto'
import type { AppendedEntry, Entry, HashedObject, Ledger, Log } from '@annal/store'
import type { Principal } from './auth.js'
import { TlogError, isTlogError } from '@annal/tlog'
import type { Hono } from 'hono'
import { requestBody } from '@annal/http'
import { isJsonType, mediaType, parseJson, splitNdjson } from './body.js'
import { type AppEnv, type Services, authenticated, authorize } from './context.js'
import { ENVELOPE_TYPE, type EnvelopeInput, envelopeBytes, envelopeTemplate } from './envelope.js'
import type { StoredResponse } from './idempotency.js'
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
    const append = async (): Promise<StoredResponse> => {
      const time = services.clock()
      const response = await appendEvents({
        services, log, type, body, time, requestId: c.get('requestId'), principal, scope,
        record: accessRecord(c, services, 201, undefined, time),
      })
      c.set('recordedStatus', 201)
      return response
    }
    const key = c.req.header('idempotency-key')
    const { response, replayed } = key === undefined ? { response: await append(), replayed: false }
      : await services.idempotency.once(`${principal.iss}\n${principal.sub ?? ''}\n${name}`, key, digest(type, body), append)
    return c.body(response.body, response.status, {
      'Content-Type': response.contentType, ...(replayed ? { 'Idempotent-Replayed': 'true' } : {}),
    })
  })

  app.get('/v1/logs/:log/entries', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const start = countParam(c.req.query('start'), 'start', 0)
    const limit = Math.min(countParam(c.req.query('limit'), 'limit', 100), limits.listEntries)
    if (start > log.size) throw new TlogError('SIZE_OUT_OF_RANGE', 'start is past the end of the log')
    const entries = await log.entries(start, limit)
    return c.json({ start, size: log.size, entries: await Promise.all(entries.map((entry) => entryView(ledger, entry))) })
  })

  app.get('/v1/logs/:log/entries/:ref', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const ref = entryRef(c.req.param('ref'))
    try {
      return c.json(await entryView(ledger, await log.entry(ref)))
    } catch (error) {
      if (!isTlogError(error, 'ID_AMBIGUOUS') || typeof ref !== 'string') throw error
      const candidates = await log.candidates(ref)
      throw new ProblemError('ID_AMBIGUOUS', 'the abbreviated id matches more than one entry', { candidates }, { cause: error })
    }
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
}

/**
 * Appends the events' envelopes and the request's access record, and stores each event as an
 * object, in one call: the ledger writes a call whole, so an NDJSON batch goes in entirely or
 * not at all, never without its record, and no envelope without its object.
 */
async function appendEvents(request: AppendRequest): Promise<StoredResponse> {
  const { services, log, type, body } = request
  const batch = type === NDJSON
  const events = batch ? splitNdjson(body, services.limits.ndjsonLines) : [checkEvent(body, type)]
  const contentType = batch ? 'application/json' : type
  const objects = services.ledger.objects.hashed(events.map((bytes) => ({ bytes, contentType })))
  const leaves = envelopes({
    contentType, time: request.time, requestId: request.requestId, principal: request.principal, scope: request.scope,
  }, objects, batch)
  const result = (await services.ledger.append([
    { log: log.info.name, entries: leaves }, { log: ACCESS_LOG, entries: [request.record] },
  ], { objects }))[0]!
  // Witnesses hear of the new checkpoint now rather than at the next poll; never awaited.
  services.cosigner?.kick()
  // Each result is JSON.stringify({ index, id, duplicate, object, checkpoint }), written out:
  // ids and hashes are hex, so nothing in them needs escaping, and the checkpoint is shared.
  const tail = `,"checkpoint":{"size":${result.checkpoint.size},"root":"${result.checkpoint.root}"}}`
  if (batch) return { status: 201, contentType: NDJSON, body: batchResults(result.entries, objects, tail) }
  const { index, id, duplicate } = result.entries[0]!
  return {
    status: 201, contentType: 'application/json',
    body: `{"index":${index},"id":"${id}","duplicate":${duplicate},"object":"${objects[0]!.hash}"${tail}`,
  }
}

/**
 * An NDJSON batch's results, a line each, written straight into bytes: every character is ASCII.
 * A thousand lines built as strings, joined, measured for Content-Length and encoded for the
 * socket took 2.1-2.5 ms on the VM of docs/benchmarks.md, against 0.7 ms this way.
 */
function batchResults(entries: readonly AppendedEntry[], objects: readonly HashedObject[], tail: string): Uint8Array<ArrayBuffer> {
  const lineEnd = `"${tail}\n`
  const indexes = entries.map(({ index }) => String(index))
  let size = 0
  for (let i = 0; i < entries.length; i++) {
    size += RESULT_NAMES + indexes[i]!.length + entries[i]!.id.length + (entries[i]!.duplicate ? 4 : 5) +
      objects[i]!.hash.length + lineEnd.length
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
    at = putAscii(bytes, at, objects[i]!.hash)
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

/** A single event: not empty, and valid JSON when it says it is JSON. */
function checkEvent(body: Uint8Array, type: string): Uint8Array {
  if (body.length === 0) throw new TlogError('ENTRY_EMPTY', 'the body is empty')
  if (isJsonType(type)) parseJson(body)
  return body
}

function digest(type: string, body: Uint8Array): string {
  return createHash('sha256').update(type).update('\n').update(body).digest('hex')
}

/** An entry as served: index, id, the envelope, and the event inline when it is JSON and not erased. */
export async function entryView(ledger: Ledger, entry: Entry): Promise<Record<string, unknown>> {
  let envelope: unknown
  try {
    envelope = JSON.parse(utf8.decode(entry.data)) as unknown
  } catch {
    return { index: entry.index, id: entry.id, leaf_base64: Buffer.from(entry.data).toString('base64') }
  }
  const view: Record<string, unknown> = { index: entry.index, id: entry.id, envelope }
  const object = eventObject(envelope)
  if (object === undefined || !isJsonType(object.contentType)) return view
  try {
    view.payload = parseJson(await ledger.objects.get(object.hash))
  } catch (error) {
    if (isTlogError(error, 'OBJECT_ERASED')) view.payload_erased = true
    else if (!isTlogError(error, 'OBJECT_NOT_FOUND') && !isTlogError(error, 'BODY_MALFORMED')) throw error
  }
  return view
}

function eventObject(envelope: unknown): { hash: string; contentType: string } | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined
  const { type, object } = envelope as { type?: unknown; object?: { hash?: unknown; content_type?: unknown } }
  if (type !== ENVELOPE_TYPE || typeof object?.hash !== 'string' || typeof object.content_type !== 'string') return undefined
  return { hash: object.hash, contentType: object.content_type }
}

