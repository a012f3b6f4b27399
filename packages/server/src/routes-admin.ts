import type { Hono } from 'hono'
import { BodyError, requestBody } from '@annal/http'
import { mediaType, parseJson } from './body.js'
import { recordBeforeWrite } from './access-log.js'
import { type AppContext, type AppEnv, type Services, authenticated, authorize } from './context.js'
import { ACCESS_LOG } from './scopes.js'
import { ApiError } from './errors.js'

/** Creating logs and erasing objects (`log:admin`). */
export function adminRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger } = services

  app.post('/v1/logs', async (c) => {
    authenticated(c)
    const body = await jsonObject(c, services)
    const { name, origin } = body
    if (typeof name !== 'string') throw new ApiError('REQUEST_MALFORMED', 'name is a string')
    if (origin !== undefined && typeof origin !== 'string') throw new ApiError('REQUEST_MALFORMED', 'origin is a string')
    authorize(c, 'log:admin', name)
    const info = await ledger.createLog(name, {
      ...(origin === undefined ? {} : { origin }), beforeWrite: recordBeforeWrite(c, services, 201),
    })
    return c.json({ name: info.name, origin: info.origin, verifier_key: info.verifierKey, size: 0 }, 201, {
      Location: `/v1/logs/${info.name}`,
    })
  })

  app.post('/v1/objects/:hash/erase', async (c) => {
    c.set('object', c.req.param('hash'))
    authorize(c, 'log:admin')
    const body = await jsonObject(c, services)
    const { reason, log = ACCESS_LOG } = body
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000) {
      throw new ApiError('REQUEST_MALFORMED', 'reason is a non-empty string of at most 1000 characters')
    }
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

/**
 * A JSON object request body.
 * @throws CONTENT_TYPE_UNSUPPORTED unless JSON; BODY_TOO_LARGE; BODY_MALFORMED; BODY_TIMEOUT.
 */
async function jsonObject(c: AppContext, services: Services): Promise<Record<string, unknown>> {
  if (mediaType(c.req.header('content-type'), '') !== 'application/json') {
    throw new ApiError('CONTENT_TYPE_UNSUPPORTED', 'send application/json')
  }
  const value = parseJson(await requestBody(c, services.limits.bodyBytes, { timeoutMs: services.limits.bodyTimeoutMs }))
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BodyError('BODY_MALFORMED', 'the body is not a JSON object')
  return value as Record<string, unknown>
}
