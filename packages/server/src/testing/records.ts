// The envelope and the access record as plain values: what envelopeBytes and accessRecordBytes
// must write as canonical JSON, member by member, the oracle their property tests compare with.
import type { AccessRecordInput } from '../access-record.js'
import { ACCESS_RECORD_TYPE, clip } from '../access-record.js'
import { ENVELOPE_TYPE, type EnvelopeInput, type EnvelopePrincipal } from '../envelope.js'

function actor(principal: EnvelopePrincipal): Record<string, string | undefined> {
  return { iss: principal.iss, sub: principal.sub, client_id: principal.clientId }
}

function token(principal: EnvelopePrincipal): Record<string, string | undefined> {
  return { jti: principal.jti, sha256: principal.fingerprint }
}

/** An event's envelope as a value. */
export function envelopeValue(input: EnvelopeInput): Record<string, unknown> {
  return {
    type: ENVELOPE_TYPE,
    time: input.time.toISOString(),
    request_id: input.requestId,
    line: input.line,
    object: { hash: input.object, size: input.size, content_type: input.contentType },
    actor: actor(input.principal),
    token: token(input.principal),
    scope: input.scope,
    scopes: [...input.principal.scopes],
  }
}

/** An access record as a value. */
export function accessRecordValue(input: AccessRecordInput): Record<string, unknown> {
  const principal = input.principal
  return {
    type: ACCESS_RECORD_TYPE,
    time: input.time.toISOString(),
    request_id: input.requestId,
    method: input.method,
    route: input.route,
    log: clip(input.log, 128),
    object: clip(input.object, 128),
    status: input.status,
    code: input.code,
    required_scope: input.requiredScope,
    authorized_by: input.authorizedBy,
    clamped_scopes: input.clampedScopes === undefined ? undefined : [...input.clampedScopes],
    scopes: principal === undefined ? undefined : [...principal.scopes],
    actor: principal === undefined ? undefined : actor(principal),
    token: input.fingerprint === undefined ? undefined : { jti: principal?.jti, sha256: input.fingerprint },
    reason: input.reason,
    remote_address: input.remoteAddress,
    replayed: input.replayed === true ? true : undefined,
    user_agent: clip(input.userAgent, 256),
  }
}

