// OpenID CAEP events pushed by the identity provider: Security Event Tokens (RFC 8417) delivered
// by HTTP push (RFC 8935), verified with the issuer's keys and turned into revocations.
import { hash } from 'node:crypto'
import { type JWTPayload, type JWTVerifyGetKey, errors, jwtVerify } from 'jose'
import type { AuthOptions } from './auth.js'
import { ApiError } from './errors.js'

export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
export const TOKEN_CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change'

/** RFC 8935 §2.4 error codes. */
export type SetErrorCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience'

/** A refused SET, answered as RFC 8935 §2.3 says: 400 with `{"err", "description"}`. */
export class SetError extends Error {
  readonly err: SetErrorCode

  constructor(err: SetErrorCode, description: string, options?: { cause?: unknown }) {
    super(description, options)
    this.name = 'SetError'
    this.err = err
  }
}

/** Which tokens an event names: those carrying every member given. */
export interface TokenMatch {
  readonly jti?: string
  readonly client_id?: string
  readonly sub?: string
}

/** A CAEP event this server acts on: tokens of `match` issued at or before `issuedBefore` (ms) are revoked. */
export interface CaepRevocation {
  readonly event: typeof SESSION_REVOKED | typeof TOKEN_CLAIMS_CHANGE
  readonly match: TokenMatch
  readonly issuedBefore: number
  /** The event's `reason_admin`, in English when it has English. */
  readonly reason?: string
}

export interface VerifiedSet {
  readonly iss: string
  readonly jti: string
  readonly iat: number
  /** The event types the SET carries, those acted on or not. */
  readonly events: readonly string[]
  readonly revocations: readonly CaepRevocation[]
}

export interface SetOptions {
  readonly issuer: string
  readonly audience: string
  readonly algorithms: readonly string[]
  readonly clockToleranceSeconds: number
  /** SETs whose `iat` is older than this (less the tolerance) are refused. */
  readonly maxAgeSeconds: number
}

/** The acceptance window of AuthOptions, as verifySet takes it. */
export function setWindow(auth: Pick<AuthOptions, 'clockToleranceSeconds' | 'securityEventMaxAgeSeconds'>): Pick<SetOptions, 'clockToleranceSeconds' | 'maxAgeSeconds'> {
  return { clockToleranceSeconds: auth.clockToleranceSeconds ?? 30, maxAgeSeconds: auth.securityEventMaxAgeSeconds ?? 86_400 }
}

/**
 * The oldest `iat` (seconds) verifySet accepts at `now`, as jose computes it: a SET issued
 * before it is refused, so its replay id need no longer be kept.
 */
export function oldestAcceptedIat(now: Date, options: Pick<SetOptions, 'clockToleranceSeconds' | 'maxAgeSeconds'>): number {
  return Math.floor(now.getTime() / 1000) - options.clockToleranceSeconds - options.maxAgeSeconds
}

/**
 * A pushed SET verified: signed by one of the issuer's keys with an allowed algorithm, `typ`
 * secevent+jwt (RFC 8417 §2.3), `iss` the configured issuer, `aud` this server, with `jti`,
 * `iat` (within `maxAgeSeconds`, see oldestAcceptedIat) and `events`.
 * @throws SetError for a SET to refuse; ApiError AUTH_UNAVAILABLE when the keys cannot be fetched.
 */
export async function verifySet(jwt: string, keys: JWTVerifyGetKey, options: SetOptions, now: Date): Promise<VerifiedSet> {
  let payload: JWTPayload
  try {
    ({ payload } = await jwtVerify(jwt, keys, {
      issuer: options.issuer, audience: options.audience, algorithms: [...options.algorithms], typ: 'secevent+jwt',
      requiredClaims: ['jti', 'iat'], clockTolerance: options.clockToleranceSeconds, currentDate: now, maxTokenAge: options.maxAgeSeconds,
    }))
  } catch (error) {
    throw setRefusal(error)
  }
  const events = payload.events
  if (typeof payload.jti !== 'string' || !isObject(events) || Object.keys(events).length === 0) {
    throw new SetError('invalid_request', 'a SET has a jti and an events object (RFC 8417 §2.2)')
  }
  const revocations: CaepRevocation[] = []
  for (const type of [SESSION_REVOKED, TOKEN_CLAIMS_CHANGE] as const) {
    const event = events[type]
    if (event !== undefined) revocations.push(caepRevocation(type, event, payload, options.issuer))
  }
  return { iss: payload.iss!, jti: payload.jti, iat: payload.iat!, events: Object.keys(events), revocations }
}

/** The key a SET is remembered by, against replay: SHA-256 of its iss and jti. */
export function setKey(set: Pick<VerifiedSet, 'iss' | 'jti'>): string {
  return hash('sha256', `${set.iss}\n${set.jti}`, 'hex')
}

function caepRevocation(type: CaepRevocation['event'], event: unknown, payload: JWTPayload, issuer: string): CaepRevocation {
  if (!isObject(event)) throw new SetError('invalid_request', `the ${eventName(type)} event is not an object`)
  if (type === TOKEN_CLAIMS_CHANGE && !isObject(event.claims)) {
    throw new SetError('invalid_request', 'a token-claims-change event has a claims object')
  }
  const at = event.event_timestamp ?? payload.iat
  if (typeof at !== 'number' || !Number.isFinite(at)) throw new SetError('invalid_request', 'event_timestamp is a number of seconds')
  // CAEP 1.0 puts the subject in the SET's sub_id (SSF 1.0 §4.1); earlier drafts in the event.
  const match = tokenMatch(event.subject ?? payload.sub_id, issuer)
  const admin = isObject(event.reason_admin) ? event.reason_admin : {}
  const reason = typeof admin.en === 'string' ? admin.en : Object.values(admin).find((text) => typeof text === 'string')
  return { event: type, match, issuedBefore: at * 1000, ...(typeof reason === 'string' ? { reason } : {}) }
}

/**
 * The tokens a subject identifier (RFC 9493; `jwt_id` from SSF 1.0) names: `iss_sub` a user,
 * `jwt_id` one token, `opaque` a client (by client_id); `complex` the tokens matching all of its
 * `user` (iss_sub) and `application` (opaque) members. Other members of a complex subject
 * (session, device, tenant) cannot be told from a token, so they are left out: the revocation
 * covers more tokens, never fewer.
 * @throws SetError invalid_request for a subject that names no token this server can match.
 */
export function tokenMatch(subject: unknown, issuer: string): TokenMatch {
  if (!isObject(subject) || typeof subject.format !== 'string') throw new SetError('invalid_request', 'the event has no subject (sub_id)')
  if (subject.format !== 'complex') return simpleMatch(subject, issuer)
  const { user, application } = subject
  const match = {
    ...(user === undefined ? {} : simpleMatch(user, issuer, 'iss_sub')),
    ...(application === undefined ? {} : simpleMatch(application, issuer, 'opaque')),
  }
  if (Object.keys(match).length === 0) throw new SetError('invalid_request', 'a complex subject needs a user or an application member')
  return match
}

function simpleMatch(subject: unknown, issuer: string, only?: string): TokenMatch {
  const format = isObject(subject) ? subject.format : undefined
  if (!isObject(subject) || (only !== undefined && format !== only)) {
    throw new SetError('invalid_request', `the subject member must have the ${only} format`)
  }
  if ((format === 'iss_sub' || format === 'jwt_id') && subject.iss !== issuer) {
    throw new SetError('invalid_request', 'the subject names another issuer\'s tokens')
  }
  if (format === 'iss_sub' && typeof subject.sub === 'string') return { sub: subject.sub }
  if (format === 'jwt_id' && typeof subject.jti === 'string') return { jti: subject.jti }
  if (format === 'opaque' && typeof subject.id === 'string') return { client_id: subject.id }
  throw new SetError('invalid_request', `subjects of the ${String(format)} format are not supported: use iss_sub, jwt_id, opaque or complex`)
}

/** Maps a jose failure to RFC 8935's codes; failures to get keys are ours, not the transmitter's. */
function setRefusal(error: unknown): SetError | ApiError {
  if (!(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid
      || error.code === 'ERR_JOSE_GENERIC') {
    return new ApiError('AUTH_UNAVAILABLE', 'token keys are unavailable', { cause: error })
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'iss') {
    return new SetError('invalid_issuer', 'the SET is not from the configured issuer', { cause: error })
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') {
    return new SetError('invalid_audience', 'the SET is not addressed to this server', { cause: error })
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey
      || error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new SetError('invalid_key', 'the SET is not signed by a key of the issuer', { cause: error })
  }
  const claim = error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired
    ? `: its ${error.claim} claim is not acceptable` : ''
  return new SetError('invalid_request', `the body is not a valid SET${claim}`, { cause: error })
}

function eventName(type: string): string {
  return type.slice(type.lastIndexOf('/') + 1)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
