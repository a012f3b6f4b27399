import { createHash } from 'node:crypto'
import { type Ledger, StoreError, isStoreError, type Log } from '@annal/store'
import { TlogError } from '@annal/tlog'
import type { Hono } from 'hono'
import { requestBody } from '@annal/http'
import { appendEvents, replayAppend } from './append.js'
import { mediaType } from './body.js'
import { type AppEnv, type Services, authenticated, authorize } from './context.js'
import { entryJson, jsonStream, pageOf, parseEntry } from './entry-json.js'
import type { RecordRow, StoredResponse } from './idempotency.js'
import { countParam, entryRef } from './params.js'
import { ProblemError } from './problem.js'
import { accessRecord } from './access-log.js'
import { isServerLog } from './scopes.js'
import { ApiError } from './errors.js'

const REFUSED_TYPES = /^(?:multipart\/|application\/x-www-form-urlencoded$)/

/** Appending events and reading entries and objects. */
export function entryRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger, limits } = services

  app.post('/v1/logs/:log/entries', async (c) => {
    const name = c.req.param('log')
    if (isServerLog(name)) {
      authenticated(c, name)
      throw new ApiError('LOG_RESERVED', `the ${name} log is written by the server only`)
    }
    const { principal, scope } = authorize(c, 'log:append', name)
    const log = ledger.log(name)
    const type = mediaType(c.req.header('content-type'), 'application/json')
    if (REFUSED_TYPES.test(type)) throw new ApiError('CONTENT_TYPE_UNSUPPORTED', 'send the event as its own content type, not a form')
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
    const entries = pageOf((await log.entries(start, limit)).map(parseEntry), limits.pageBytes)
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
    const entry = await log.entry(await entryIndex(ledger, log, c.req.param('ref')))
    const json = await entryJson(ledger, parseEntry(entry), { bytes: limits.pageBytes, depth: limits.jsonDepth })
    return c.body(json, 200, { 'Content-Type': 'application/json' })
  })

  // A C2SP tlog-proof of the entry in the checkpoint GET checkpoint serves, so that it verifies
  // offline under the same policy: for a witnessed log, with the witnesses' cosignatures.
  app.get('/v1/logs/:log/entries/:ref/proof', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const index = await entryIndex(ledger, log, c.req.param('ref'))
    const { note } = await checkpointWith(services, log, index)
    return c.body(await log.tlogProof(index, note), 200, {
      'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'private, no-cache',
      'Content-Disposition': `attachment; filename="${name}-${index}.tlog-proof"`,
    })
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

/**
 * The index an entry reference from a path names. An abbreviated id that matches more than one
 * entry is answered with the candidates. On a shared database, an entry this server does not
 * know yet may have been appended through another: it catches up once before saying not found.
 * @throws as Log.resolve; ProblemError ID_AMBIGUOUS with `candidates`.
 */
async function entryIndex(ledger: Ledger, log: Log, param: string): Promise<number> {
  const ref = entryRef(param)
  try {
    return await resolveEntry(log, ref)
  } catch (error) {
    if (!ledger.shared || !isStoreError(error, 'ENTRY_NOT_FOUND')) throw error
    await ledger.catchUp()
    return resolveEntry(log, ref)
  }
}

async function resolveEntry(log: Log, ref: number | string): Promise<number> {
  // An index past the end names an entry that is not there yet, as an unknown id does: 404.
  if (typeof ref === 'number' && ref >= log.size) {
    throw new StoreError('ENTRY_NOT_FOUND', log.size === 0 ? 'the log has no entries yet' : `the last entry is ${log.size - 1}`)
  }
  try {
    return await log.resolve(ref)
  } catch (error) {
    if (!isStoreError(error, 'ID_AMBIGUOUS') || typeof ref !== 'string') throw error
    const candidates = await log.candidates(ref)
    throw new ProblemError('ID_AMBIGUOUS', 'the abbreviated id matches more than one entry', { candidates }, { cause: error })
  }
}

/**
 * The checkpoint GET /v1/logs/{log}/checkpoint serves, which must hold entry `index`: the log's
 * latest, or for a witnessed log the newest that meets the witness policy, with its cosignatures.
 * @throws ProblemError POLICY_UNMET when no checkpoint of a witnessed log that meets the policy holds the entry.
 */
async function checkpointWith(services: Services, log: Log, index: number): Promise<{ size: number; note: string }> {
  const { witnessing } = services
  const policy = witnessing?.policy(log.info.name)
  if (policy === undefined) return log.checkpointInfo
  const served = await witnessing!.served(log, false)
  if (index < served.size) return served
  const { k, witnesses: { length: n } } = policy
  throw new ProblemError('POLICY_UNMET', `entry ${index} is in no checkpoint with ${k} of ${n} witness cosignatures yet`,
    { policy: { k, n }, latest_size: served.latestSize })
}

function digest(type: string, body: Uint8Array): string {
  return createHash('sha256').update(type).update('\n').update(body).digest('hex')
}
