import type { Hono } from 'hono'
import { BodyError, requestBody } from '@annal/http'
import { mediaType, parseJson } from './body.js'
import { recordBeforeWrite } from './access-log.js'
import { type AppContext, type AppEnv, type Services, authenticated, authorize } from './context.js'
import { ACCESS_LOG } from './scopes.js'
import { logJson } from './routes-public.js'
import { parsePolicy, witnessingRecord } from './witness-policy.js'
import { indexLedger, indexedFieldsRecord, parseIndexedFields } from './search-fields.js'
import { ApiError } from './errors.js'
import { isWellFormed } from './canonical-json.js'

/** Creating logs, choosing their witnesses and indexed fields, reindexing them and erasing objects (`log:admin`). */
export function adminRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger } = services

  app.post('/v1/logs', async (c) => {
    authenticated(c)
    const body = await jsonObject(c, services)
    const { name, origin, witnessing } = body
    if (typeof name !== 'string') throw new ApiError('REQUEST_MALFORMED', 'name is a string')
    if (origin !== undefined && typeof origin !== 'string') throw new ApiError('REQUEST_MALFORMED', 'origin is a string')
    authorize(c, 'log:admin', name)
    const indexed = parseIndexedFields(body.indexed_fields)
    const searchFields = await indexLedger(ledger)
    const policy = witnessing === undefined ? null : parsePolicy(witnessing, services.witnessing?.names ?? [], services.defaultK)
    // Without a policy, a row is written only to replace one left by an earlier log of this
    // name whose creation failed after its record was written.
    const stale = services.policies.get(name) !== undefined
    // As for the policy: a row only for fields, or to replace one left by a failed creation.
    const fieldsRows = indexed.length > 0 || searchFields.of(name).length > 0 ? [searchFields.row(name, indexed)] : []
    const info = await services.policies.change(name, policy, (row) => ledger.createLog(name, {
      ...(origin === undefined ? {} : { origin }),
      beforeWrite: async () => {
        await recordBeforeWrite(c, services, 201, policy === null ? (stale || fieldsRows.length > 0 ? { rows: [...(stale ? [row] : []), ...fieldsRows] } : {}) : {
          entries: [witnessingRecord({ log: name, policy, requestId: c.get('requestId'), time: services.clock() })], rows: [row, ...fieldsRows],
        })()
        // Written before the log exists, so its first entry is indexed by them.
        searchFields.adopt(name, indexed)
      },
    }))
    services.witnessing?.kick()
    return c.json(await logJson(services, ledger.log(info.name)), 201, { Location: `/v1/logs/${info.name}` })
  })

  app.put('/v1/logs/:log/witnessing', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:admin', name)
    const body = await jsonObject(c, services)
    const { witnessing, reason, ...rest } = body
    if (!('witnessing' in body) || Object.keys(rest).length > 0) {
      throw new ApiError('REQUEST_MALFORMED', 'the body is {"witnessing": a policy or null, "reason": why}')
    }
    checkReason(reason)
    const log = ledger.log(name)
    const policy = parsePolicy(witnessing, services.witnessing?.names ?? [], services.defaultK)
    const record = witnessingRecord({ log: name, policy, reason, requestId: c.get('requestId'), time: services.clock() })
    await services.policies.change(name, policy, (row) => recordBeforeWrite(c, services, 200, { entries: [record], rows: [row] })())
    services.witnessing?.kick()
    return c.json(await logJson(services, log))
  })

  app.patch('/v1/logs/:log', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:admin', name)
    const body = await jsonObject(c, services)
    const { indexed_fields: value, reason, ...rest } = body
    if (!('indexed_fields' in body) || Object.keys(rest).length > 0) {
      throw new ApiError('REQUEST_MALFORMED', 'the body is {"indexed_fields": [names], "reason": why}')
    }
    checkReason(reason)
    const fields = parseIndexedFields(value)
    ledger.log(name)
    const searchFields = await indexLedger(ledger)
    const added = await searchFields.change(ledger, name, fields, async (row, indexedFrom) => {
      const record = indexedFieldsRecord({ log: name, fields, indexedFrom, reason, requestId: c.get('requestId'), time: services.clock() })
      await recordBeforeWrite(c, services, 200, { entries: [record], rows: [row] })()
      return Object.keys(indexedFrom).length
    })
    // The fields added are in the entries appended from now on; a reindex puts them in the older ones.
    if (added > 0) services.reindexing.start(name)
    return c.json(await services.reindexing.status(name))
  })

  app.get('/v1/admin/logs/:log/reindex', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:admin', name)
    return c.json(await services.reindexing.status(name))
  })

  app.post('/v1/admin/logs/:log/reindex', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:admin', name)
    ledger.log(name)
    services.reindexing.start(name)
    return c.json(await services.reindexing.status(name), 202)
  })

  app.post('/v1/objects/:hash/erase', async (c) => {
    c.set('object', c.req.param('hash'))
    authorize(c, 'log:admin')
    const body = await jsonObject(c, services)
    const { reason, log = ACCESS_LOG } = body
    checkReason(reason)
    if (typeof log !== 'string') throw new ApiError('REQUEST_MALFORMED', 'log is a string')
    ledger.log(log)
    const info = await ledger.eraseObject(c.req.param('hash'), {
      reason, log, requestId: c.get('requestId'), beforeWrite: recordBeforeWrite(c, services, 200),
    })
    const erasure = info.erasure!
    return c.json({
      hash: info.hash, size: info.size, stored_at: info.storedAt,
      erasure: { erased_at: erasure.erasedAt, reason: erasure.reason, log: erasure.log, index: erasure.index },
    })
  })
}

/** @throws ApiError REQUEST_MALFORMED unless `reason` is a non-blank string of at most 1000 characters. */
export function checkReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000) {
    throw new ApiError('REQUEST_MALFORMED', 'reason is a non-empty string of at most 1000 characters')
  }
  checkWellFormed(reason, 'reason')
}

/**
 * Records are canonical JSON, which has no lone surrogates: a string from a request that goes
 * into one is refused here, naming its field, rather than failing the write.
 * @throws ApiError REQUEST_MALFORMED.
 */
export function checkWellFormed(text: string, field: string): void {
  if (!isWellFormed(text)) throw new ApiError('REQUEST_MALFORMED', `${field} has a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape); send well-formed text`)
}

/**
 * A JSON object request body.
 * @throws CONTENT_TYPE_UNSUPPORTED unless JSON; BODY_TOO_LARGE; BODY_MALFORMED; BODY_TIMEOUT.
 */
export async function jsonObject(c: AppContext, services: Services): Promise<Record<string, unknown>> {
  if (mediaType(c.req.header('content-type'), '') !== 'application/json') {
    throw new ApiError('CONTENT_TYPE_UNSUPPORTED', 'send application/json')
  }
  const value = parseJson(await requestBody(c, services.limits.bodyBytes, { timeoutMs: services.limits.bodyTimeoutMs }))
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BodyError('BODY_MALFORMED', 'the body is not a JSON object')
  return value as Record<string, unknown>
}
