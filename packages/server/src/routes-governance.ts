import { randomUUID } from 'node:crypto'
import type { Hono } from 'hono'
import { routePath } from 'hono/route'
import { requestBody } from '@annal/http'
import { recordBeforeWrite } from './access-log.js'
import { type CaepRevocation, SetError, setKey, setWindow, verifySet } from './caep.js'
import { type AppContext, type AppEnv, type Services, authorize } from './context.js'
import { isoTime } from './envelope.js'
import { ApiError } from './errors.js'
import type { Change } from './governance-state.js'
import { type GovernanceActor, type RevocationJson, governanceRecord, tell } from './governance.js'
import { checkReason, checkWellFormed, jsonObject } from './routes-admin.js'
import { isAnnalScope } from './scopes.js'
import { type Principal, allowedAlgorithms } from './auth.js'
import { clip } from './access-record.js'

/** A scope in a rotation's path: an Annal scope, narrowed (if at all) to a valid log name. */
const ROTATABLE = /^(?:audit:read|log:(?:read|append|admin)(?::[a-z0-9][a-z0-9-]{0,62})?)$/
/** RFC 3339 with a zone, as `until` is given. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/
const utf8 = new TextDecoder()

/** Scope rotation and revocations (`log:admin`), and security events pushed by the issuer. */
export function governanceRoutes(app: Hono<AppEnv>, services: Services): void {
  const { governance } = services

  app.post('/v1/admin/scopes/:scope/rotate', async (c) => {
    const { principal } = authorize(c, 'log:admin')
    const scope = c.req.param('scope')
    if (!ROTATABLE.test(scope) || !isAnnalScope(scope)) throw new ApiError('REQUEST_MALFORMED', 'only Annal scopes can be rotated')
    const { reason, ...rest } = await jsonObject(c, services)
    if (Object.keys(rest).length > 0) throw new ApiError('REQUEST_MALFORMED', 'the body is {"reason": why}')
    checkReason(reason)
    const time = services.clock()
    const rotation = { scope, rotated_at: isoTime(time), reason, request_id: c.get('requestId') }
    const record = governanceRecord({ action: 'rotate-scope', scope, reason, requestId: rotation.request_id, time })
    await commit(c, services, 200, { rotation }, record)
    tell(services.onGovernanceEvent, { kind: 'scope-rotated', time, requestId: rotation.request_id, scope, reason, actor: actor(principal) })
    return c.json(rotation)
  })

  app.post('/v1/admin/revocations', async (c) => {
    const { principal } = authorize(c, 'log:admin')
    const time = services.clock()
    const revocation = parseRevocation(await jsonObject(c, services), c.get('requestId'), time)
    const record = governanceRecord({ action: 'revoke', revocation, requestId: revocation.request_id, time })
    await commit(c, services, 201, { revocations: [revocation] }, record)
    tell(services.onGovernanceEvent, { kind: 'revocation-added', time, requestId: revocation.request_id, revocation, actor: actor(principal) })
    return c.json(shown(revocation, time), 201, { Location: `/v1/admin/revocations/${revocation.id}` })
  })

  app.get('/v1/admin/revocations', (c) => {
    authorize(c, 'log:admin')
    const now = services.clock()
    return c.json({ revocations: governance.revocations().map((revocation) => shown(revocation, now)) })
  })

  app.get('/v1/admin/revocations/:id', (c) => {
    authorize(c, 'log:admin')
    return c.json(shown(found(services, c.req.param('id')), services.clock()))
  })

  app.delete('/v1/admin/revocations/:id', async (c) => {
    const { principal } = authorize(c, 'log:admin')
    const { reason, ...rest } = await jsonObject(c, services)
    if (Object.keys(rest).length > 0) throw new ApiError('REQUEST_MALFORMED', 'the body is {"reason": why}')
    checkReason(reason)
    const time = services.clock()
    const requestId = c.get('requestId')
    let lifted: RevocationJson | undefined
    await governance.change(() => {
      // Read in turn: a revocation lifted meanwhile is answered as it is, and lifted once.
      const revocation = found(services, c.req.param('id'))
      if (revocation.lifted_at !== undefined) return undefined
      lifted = { ...revocation, lifted_at: isoTime(time), lift_reason: reason, lift_request_id: requestId }
      return { revocations: [lifted] }
    }, (rows) => recordBeforeWrite(c, services, 200, {
      entries: [governanceRecord({ action: 'lift-revocation', revocation: lifted, reason, requestId, time })], rows,
    })())
    if (lifted !== undefined) tell(services.onGovernanceEvent, { kind: 'revocation-lifted', time, requestId, revocation: lifted, actor: actor(principal) })
    return c.json(shown(found(services, c.req.param('id')), time))
  })

  app.post('/v1/ssf/events', async (c) => {
    // Not a bearer-token route: the SET is signed by the issuer. Recorded whatever the outcome.
    c.set('route', routePath(c))
    c.set('protectedRoute', true)
    try {
      return await receiveSet(c, services)
    } catch (error) {
      if (!(error instanceof SetError)) throw error
      c.set('problemCode', 'SET_INVALID')
      c.set('auth', { ...c.get('auth'), reason: error.err })
      // RFC 8935 §2.3 fixes this answer's form.
      return c.json({ err: error.err, description: error.message }, 400)
    }
  })
}

/**
 * RFC 8935 push delivery: verifies the SET, applies its CAEP revocations and records it, once
 * per SET (a replay is answered 202 again and changes nothing).
 */
async function receiveSet(c: AppContext, services: Services): Promise<Response> {
  if (c.req.header('content-type')?.split(';', 1)[0]!.trim().toLowerCase() !== 'application/secevent+jwt') {
    throw new SetError('invalid_request', 'send the SET as application/secevent+jwt (RFC 8935 §2)')
  }
  const body = await requestBody(c, services.limits.bodyBytes, { timeoutMs: services.limits.bodyTimeoutMs })
  const auth = services.verifier.options
  const set = await verifySet(utf8.decode(body).trim(), services.verifier.keys, {
    issuer: auth.issuer, audience: auth.audience, algorithms: allowedAlgorithms(auth), ...setWindow(auth),
  }, services.clock())
  const time = services.clock()
  const requestId = c.get('requestId')
  const key = setKey(set)
  const revocations = set.revocations.map((event) => caepRevocation(event, requestId, time))
  const record = governanceRecord({
    action: 'security-event', issuer: set.iss, set: { jti: set.jti, iat: set.iat, events: set.events }, revocations, requestId, time,
  })
  const applied = await services.governance.change(() => {
    if (services.governance.received(key)) return undefined
    if (services.governance.forgotten(set.iat)) {
      throw new SetError('invalid_request', 'the SET is older than the oldest whose replay this server can tell: too many SETs came since')
    }
    return { revocations, set: { key, iat: set.iat } }
  },
    async (rows) => {
      await recordBeforeWrite(c, services, 202, { entries: [record], rows })()
      return true
    })
  if (applied === undefined) c.set('replayed', true)
  else for (const revocation of revocations) tell(services.onGovernanceEvent, { kind: 'revocation-added', time, requestId, revocation })
  return c.body(null, 202)
}

/** Commits `change` with the request's access record (as answered `status`) and `record`, in one write. */
async function commit(c: AppContext, services: Services, status: number, change: Change, record: Uint8Array): Promise<void> {
  await services.governance.change(change, (rows) => recordBeforeWrite(c, services, status, { entries: [record], rows })())
}

/**
 * A revocation as `POST /v1/admin/revocations` gives it: any of `jti`, `client_id` and `sub`
 * (at least one; a token must carry them all), optionally `until`, and `reason`.
 * @throws ApiError REQUEST_MALFORMED.
 */
function parseRevocation(body: Record<string, unknown>, requestId: string, now: Date): RevocationJson {
  const { jti, client_id: clientId, sub, until, reason, ...rest } = body
  if (Object.keys(rest).length > 0) throw new ApiError('REQUEST_MALFORMED', 'the body has jti, client_id, sub, until and reason only')
  const match = { jti, client_id: clientId, sub }
  for (const [name, value] of Object.entries(match)) {
    if (value !== undefined && (typeof value !== 'string' || value === '' || value.length > 1000)) {
      throw new ApiError('REQUEST_MALFORMED', `${name} is a non-empty string`)
    }
    if (value !== undefined) checkWellFormed(value, name)
  }
  if (jti === undefined && clientId === undefined && sub === undefined) {
    throw new ApiError('REQUEST_MALFORMED', 'a revocation names a jti, a client_id or a sub')
  }
  checkReason(reason)
  if (until !== undefined && (typeof until !== 'string' || !RFC3339.test(until) || Number.isNaN(Date.parse(until)))) {
    throw new ApiError('REQUEST_MALFORMED', 'until is an RFC 3339 time, such as 2030-01-01T00:00:00Z')
  }
  if (until !== undefined && Date.parse(until) <= now.getTime()) throw new ApiError('REQUEST_MALFORMED', 'until is in the past')
  return {
    id: randomUUID(), ...match as Pick<RevocationJson, 'jti' | 'client_id' | 'sub'>,
    ...(until === undefined ? {} : { until: new Date(Date.parse(until)).toISOString() }),
    reason, source: 'admin', created_at: isoTime(now), request_id: requestId,
  }
}

function caepRevocation(event: CaepRevocation, requestId: string, now: Date): RevocationJson {
  return {
    id: randomUUID(), ...event.match, issued_before: new Date(event.issuedBefore).toISOString(),
    reason: clip(event.reason, 1000) ?? event.event.slice(event.event.lastIndexOf('/') + 1), source: 'caep', created_at: isoTime(now), request_id: requestId,
  }
}

/** @throws ApiError REVOCATION_NOT_FOUND. */
function found(services: Services, id: string): RevocationJson {
  const revocation = services.governance.revocation(id)
  if (revocation === undefined) throw new ApiError('REVOCATION_NOT_FOUND', 'no revocation has that id')
  return revocation
}

/** A revocation as listed: with `active`, false once lifted or past `until`. */
function shown(revocation: RevocationJson, now: Date): RevocationJson & { active: boolean } {
  const lapsed = revocation.until !== undefined && Date.parse(revocation.until) <= now.getTime()
  return { ...revocation, active: revocation.lifted_at === undefined && !lapsed }
}

function actor(principal: Principal): GovernanceActor {
  return { iss: principal.iss, ...(principal.sub === undefined ? {} : { sub: principal.sub }),
    ...(principal.clientId === undefined ? {} : { clientId: principal.clientId }) }
}
