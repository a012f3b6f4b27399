import { getConnInfo } from '@hono/node-server/conninfo'
import { isStorageError } from '@annal/storage'
import type { TableRow } from '@annal/store'
import type { MiddlewareHandler } from 'hono'
import type { AppContext, AppEnv, Services } from './context.js'
import { accessRecordBytes } from './access-record.js'
import { problemFor, problemResponse } from './problem.js'
import { ACCESS_LOG } from './scopes.js'
import { ApiError } from './errors.js'
import { tell } from './governance.js'

/**
 * Records every request that carried credentials or reached a protected route in the `access`
 * log, after the route ran and before the response leaves, unless the route committed the
 * record with its own writes (appends do). Fails closed: when the record cannot be appended,
 * the response is dropped and 503 goes out instead: STORAGE_UNWRITABLE while the ledger cannot
 * write, else ACCESS_LOG_UNAVAILABLE.
 */
export function accessLog(services: Services): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next()
    const auth = c.get('auth')
    if (!auth.credentials && c.get('protectedRoute') !== true) return
    // An append's route commits its record with the entries (see accessRecord).
    if (c.get('recordedStatus') !== c.res.status) {
      try {
        await appendRecord(c, services, c.res.status, c.get('problemCode'))
      } catch (error) {
        const body = problemFor(error)
        c.set('problemCode', body.code)
        // Setting c.res would merge the dropped response's headers in; clear it first.
        c.res = undefined as unknown as Response
        c.res = problemResponse(c, body)
      }
    }
    tellTokenEvents(c, services)
  }
}

/** Tells the governance listener of a clamped token, or a refusal for a revocation or a rotation. */
function tellTokenEvents(c: AppContext, services: Services): void {
  const { principal, fingerprint, revocation, rotated, clamped } = c.get('auth')
  if (services.onGovernanceEvent === undefined || principal === undefined || fingerprint === undefined) return
  const base = {
    time: services.clock(), requestId: c.get('requestId'),
    token: { clientId: principal.clientId, sub: principal.sub, jti: principal.jti, fingerprint },
  }
  if (clamped !== undefined) tell(services.onGovernanceEvent, { ...base, kind: 'scopes-clamped', removed: clamped })
  if (revocation !== undefined) tell(services.onGovernanceEvent, { ...base, kind: 'revoked-token-used', revocation })
  if (rotated !== undefined) tell(services.onGovernanceEvent, { ...base, kind: 'rotated-scope-used', scope: rotated })
}

/**
 * For a change made outside an append (creating a log, erasing an object), handed to it as
 * its beforeWrite: commits the request's access record, as answered `status`, once the change
 * has passed its checks and before it writes anything. Fail closed means no change whose record
 * could not be kept; should the change fail after all, the middleware records the answer
 * actually given as well.
 * @throws StorageError STORAGE_UNWRITABLE, ApiError ACCESS_LOG_UNAVAILABLE when the record cannot be appended.
 */
export function recordBeforeWrite(c: AppContext, services: Services, status: number, change: ChangeRecords = {}): () => Promise<void> {
  return async () => {
    await appendRecord(c, services, status, undefined, change)
    c.set('recordedStatus', status)
  }
}

/** What a change commits with its access record, in the same atomic write. */
export interface ChangeRecords {
  /** Further access-log leaves, after the access record (say, what the change was and why). */
  readonly entries?: readonly Uint8Array[]
  readonly rows?: readonly TableRow[]
}

/**
 * Appends the request's access record, as answered `status`, on its own.
 * @throws StorageError STORAGE_UNWRITABLE when the ledger cannot write now (the access log is in
 *   it: the answer says the ledger cannot write, which is what an operator must fix); ApiError
 *   ACCESS_LOG_UNAVAILABLE when the record cannot be appended for another reason.
 */
async function appendRecord(c: AppContext, services: Services, status: number, code?: string,
    change: ChangeRecords = {}): Promise<void> {
  try {
    const entries = [accessRecord(c, services, status, code), ...change.entries ?? []]
    if (change.rows === undefined) await services.ledger.log(ACCESS_LOG).append(entries)
    else await services.ledger.append([{ log: ACCESS_LOG, entries }], { rows: change.rows })
  } catch (error) {
    if (isStorageError(error, 'STORAGE_UNWRITABLE')) throw error
    throw new ApiError('ACCESS_LOG_UNAVAILABLE', 'the request could not be recorded', { cause: error })
  }
}

/**
 * The access record of the request in `c`, answered with `status`. A route that writes its
 * effects through Ledger.append can commit this record in the same write, marking the status
 * it recorded with `c.set('recordedStatus', ...)`: then the effect and its record land together
 * or not at all, and the middleware adds a record only if the answer turns out otherwise.
 * `time`: the route's own time for what it records, so both say the same instant.
 */
export function accessRecord(c: AppContext, services: Services, status: number, code?: string,
    time: Date = services.clock()): Uint8Array {
  const auth = c.get('auth')
  return accessRecordBytes({
    time,
    requestId: c.get('requestId'),
    method: c.req.method,
    route: c.get('route'),
    log: c.get('log'),
    object: c.get('object'),
    status,
    code,
    requiredScope: c.get('requiredScope'),
    authorizedBy: c.get('authorizedBy'),
    clampedScopes: auth.clamped,
    principal: auth.principal,
    fingerprint: auth.fingerprint,
    reason: auth.reason,
    remoteAddress: remoteAddress(c),
    replayed: c.get('replayed'),
    userAgent: c.req.header('user-agent'),
  })
}

function remoteAddress(c: AppContext): string | undefined {
  try {
    return getConnInfo(c).remote.address
  } catch {
    return undefined // app.request() in tests has no socket
  }
}
