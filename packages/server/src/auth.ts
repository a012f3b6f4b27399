import { hash } from 'node:crypto'
import {
  type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, createLocalJWKSet,
  createRemoteJWKSet, errors, jwtVerify,
} from 'jose'
import { LRUCache } from 'lru-cache'
import { ApiError, type ApiErrorCode } from './errors.js'
import { scopesFromClaims } from './scopes.js'
import { type TokenProfile, type TokenProfileName, checkTokenProfile, clientOf, tokenProfile, typeAccepted } from './token-profile.js'

/** Asymmetric JWS algorithms a deployment may allow (RFC 8725 §3.1). HS256 is added only with a secret. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const

export interface AuthOptions {
  /** The `iss` every token must carry, exactly. */
  readonly issuer: string
  /** This server's resource identifier (RFC 8707, RFC 9728), an http(s) URL: every token's `aud` must hold it. */
  readonly audience: string
  /** Trusted keys, given directly. */
  readonly jwks?: JSONWebKeySet
  /** Trusted keys, fetched (and cached, refetched on an unknown `kid`) from this URL. */
  readonly jwksUrl?: string | URL
  /** Allowed algorithms, from ASYMMETRIC_ALGORITHMS. Default RS256, PS256, ES256, EdDSA, Ed25519. */
  readonly algorithms?: readonly string[]
  /** A shared secret: enables HS256, verified with this secret only. At least 32 bytes. */
  readonly hmacSecret?: Uint8Array
  /** Allowed clock skew for exp, nbf and iat, in seconds. Default 30. */
  readonly clockToleranceSeconds?: number
  /**
   * What the tokens carry: a preset's name (see TOKEN_PROFILES and docs/operations.md) or a
   * profile of its own. Default `rfc9068`: `typ` at+jwt, and sub, client_id, iat and jti required.
   */
  readonly tokenProfile?: TokenProfileName | TokenProfile
  /** Verified tokens remembered, keyed by their SHA-256; at least 1 (a max age of 0 turns the cache off). Default 10,000. */
  readonly tokenCacheSize?: number
  /** Longest a verified token is remembered, in ms (never past its exp). Default 300,000. */
  readonly tokenCacheMaxAgeMs?: number
  /** How long fetched keys are trusted before a refetch, in ms. Default 600,000. */
  readonly jwksCacheMaxAgeMs?: number
  /** Least time between two fetches (an unknown `kid` triggers one), in ms. Default 30,000. */
  readonly jwksCooldownMs?: number
  /** Authorization servers listed in the RFC 9728 metadata. Default [issuer]. */
  readonly authorizationServers?: readonly string[]
  /**
   * The oldest a pushed Security Event Token may be (from its `iat`), in seconds: older ones are
   * refused, so that the ids kept against their replay can be let go past it. Default 86,400.
   */
  readonly securityEventMaxAgeSeconds?: number
}

/** Who a verified token speaks for. Never holds the token itself. */
export interface Principal {
  readonly iss: string
  readonly sub?: string
  /** The client the token names, from the profile's first client claim present. */
  readonly clientId?: string
  readonly jti?: string
  /** Granted scopes, in the token's order, without repeats. */
  readonly scopes: readonly string[]
  /** SHA-256 of the token, lowercase hex. */
  readonly fingerprint: string
  /** The token's exp, in ms since the epoch. */
  readonly expiresAt: number
  /** The token's iat, in ms since the epoch, if it has one. */
  readonly issuedAt?: number
}

/** Most bytes of principals the verified-token cache holds. */
const TOKEN_CACHE_BYTES = 16 * 2 ** 20

/** About what a cached principal takes: its strings, two bytes a character, and their keys. */
function principalBytes(principal: Principal): number {
  let characters = principal.iss.length + (principal.sub?.length ?? 0) + (principal.clientId?.length ?? 0) +
    (principal.jti?.length ?? 0) + principal.fingerprint.length
  for (const scope of principal.scopes) characters += scope.length
  return 2 * characters + 64 * (principal.scopes.length + 8)
}

/** A refused token. `reason` is for the access log; the client sees only the code's description. */
export class AuthError extends ApiError {
  readonly reason: string

  constructor(code: ApiErrorCode, message: string, reason: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.reason = reason
  }
}

const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519']

/** The algorithms `options` allows: its list or the default, and HS256 with a secret. */
export function allowedAlgorithms(options: AuthOptions): string[] {
  return [...(options.algorithms ?? DEFAULT_ALGORITHMS), ...(options.hmacSecret ? ['HS256'] : [])]
}

/** The profile `options` names or gives; rfc9068 when none. */
export function profileOf(options: AuthOptions): TokenProfile {
  const profile = options.tokenProfile ?? 'rfc9068'
  return typeof profile === 'string' ? tokenProfile(profile) : profile
}

/** SHA-256 of a token, lowercase hex: how logs and caches refer to it. */
export function tokenFingerprint(token: string): string {
  return hash('sha256', token, 'hex')
}

/** Verifies bearer JWT access tokens (RFC 9068, RFC 8725) and remembers the good ones. */
export class TokenVerifier {
  readonly options: AuthOptions
  readonly #clock: () => Date
  readonly #getKey: JWTVerifyGetKey
  readonly #verifyOptions: JWTVerifyOptions
  readonly #profile: TokenProfile
  readonly #cache: LRUCache<string, { readonly principal: Principal; readonly until: number }>
  readonly #cacheMaxAgeMs: number

  constructor(options: AuthOptions, clock: () => Date) {
    checkAuthOptions(options)
    this.options = options
    this.#clock = clock
    this.#profile = profileOf(options)
    this.#getKey = keyResolver(options)
    this.#verifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: allowedAlgorithms(options),
      clockTolerance: options.clockToleranceSeconds ?? 30,
      requiredClaims: ['exp', ...this.#profile.requiredClaims],
    }
    // Bounded in bytes too: a token's scopes are as long as its issuer makes them.
    this.#cache = new LRUCache({
      max: options.tokenCacheSize ?? 10_000, maxSize: TOKEN_CACHE_BYTES, sizeCalculation: ({ principal }) => principalBytes(principal),
    })
    this.#cacheMaxAgeMs = options.tokenCacheMaxAgeMs ?? 300_000
  }

  /** The issuer's keys, as tokens are verified with them (pushed security events are signed with them too). */
  get keys(): JWTVerifyGetKey {
    return this.#getKey
  }

  /**
   * The principal of a valid token. `fingerprint` is tokenFingerprint(token), for a caller that
   * has it already (hashing a token costs as much as the cache lookup it keys).
   * @throws AuthError TOKEN_INVALID (401) for any bad token; AUTH_UNAVAILABLE (503) when keys cannot be fetched.
   */
  async verify(token: string, fingerprint = tokenFingerprint(token)): Promise<Principal> {
    const now = this.#clock().getTime()
    const cached = this.#cache.get(fingerprint)
    if (cached !== undefined && now < cached.until) return cached.principal
    if (cached !== undefined) this.#cache.delete(fingerprint)
    const principal = await this.#verify(token, fingerprint)
    this.#cache.set(fingerprint, { principal, until: Math.min(principal.expiresAt, now + this.#cacheMaxAgeMs) })
    return principal
  }

  async #verify(token: string, fingerprint: string): Promise<Principal> {
    let payload: JWTPayload
    let typ: string | undefined
    try {
      const result = await jwtVerify(token, this.#getKey, { ...this.#verifyOptions, currentDate: this.#clock() })
      payload = result.payload
      typ = result.protectedHeader.typ
    } catch (error) {
      throw refusal(error)
    }
    if (!typeAccepted(this.#profile, typ)) throw invalid('claim_typ_check_failed')
    // RFC 9449 §7.1: a sender-constrained token presented as a bearer token is refused.
    if (payload.cnf !== undefined) throw invalid('cnf_bound_token_as_bearer')
    const client = clientOf(this.#profile, payload)
    if ('reason' in client) throw invalid(client.reason)
    const scopes = scopesFromClaims(payload, this.#profile.scopeClaims)
    if (scopes === undefined) throw invalid('scope_claim_malformed')
    for (const claim of ['sub', 'jti'] as const) {
      if (payload[claim] !== undefined && typeof payload[claim] !== 'string') throw invalid(`${claim}_malformed`)
    }
    return {
      iss: payload.iss!,
      ...(payload.sub === undefined ? {} : { sub: payload.sub }),
      clientId: client.client,
      ...(payload.jti === undefined ? {} : { jti: payload.jti }),
      scopes,
      fingerprint,
      expiresAt: payload.exp! * 1000,
      ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat * 1000 } : {}),
    }
  }
}

function invalid(reason: string, cause?: unknown): AuthError {
  const message = reason === 'expired' ? 'the access token expired' : 'the access token is invalid'
  return new AuthError('TOKEN_INVALID', message, reason, { cause })
}

/** Maps a jose failure to a refusal; failures to get keys are ours, not the client's. */
function refusal(error: unknown): AuthError {
  if (error instanceof errors.JWTExpired) return invalid('expired', error)
  if (error instanceof errors.JWTClaimValidationFailed) return invalid(`claim_${error.claim}_${error.reason}`, error)
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)
    || error.code === 'ERR_JOSE_GENERIC') {
    return new AuthError('AUTH_UNAVAILABLE', 'token keys are unavailable', 'keys_unavailable', { cause: error })
  }
  return invalid(error.code.replace(/^ERR_/, '').toLowerCase(), error)
}

/** The keys a token may be signed with, as `options` give them. */
export function keyResolver(options: AuthOptions): JWTVerifyGetKey {
  const jwks = options.jwks !== undefined ? createLocalJWKSet(options.jwks)
    : options.jwksUrl !== undefined ? createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000, cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000, timeoutDuration: 5_000,
    })
      : undefined
  const secret = options.hmacSecret
  return async (header, token) => {
    if (header.alg === 'HS256') {
      if (secret === undefined) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed')
      return secret
    }
    if (jwks === undefined) throw new errors.JWKSNoMatchingKey()
    return jwks(header, token)
  }
}

/** @throws TypeError or RangeError for settings that cannot work. */
export function checkAuthOptions(options: AuthOptions): void {
  if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('auth needs an issuer')
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new TypeError('auth needs an audience: this server\'s http(s) resource identifier')
  }
  if (!/^https?:\/\//.test(options.audience)) {
    throw new TypeError(`auth.audience ${JSON.stringify(options.audience)} must be an http(s) URL: the resource identifier of RFC 8707 and RFC 9728`)
  }
  if (options.jwks !== undefined && options.jwksUrl !== undefined) throw new TypeError('give jwks or jwksUrl, not both')
  const setMaxAge = options.securityEventMaxAgeSeconds
  if (setMaxAge !== undefined && !(Number.isSafeInteger(setMaxAge) && setMaxAge >= 1)) {
    throw new RangeError('securityEventMaxAgeSeconds is a positive integer')
  }
  const cacheSize = options.tokenCacheSize
  if (cacheSize !== undefined && !(Number.isSafeInteger(cacheSize) && cacheSize >= 1)) {
    throw new RangeError('tokenCacheSize is a positive integer (tokenCacheMaxAgeMs: 0 turns the cache off)')
  }
  if (options.jwks === undefined && options.jwksUrl === undefined && options.hmacSecret === undefined) {
    throw new TypeError('auth needs jwks, jwksUrl or hmacSecret')
  }
  for (const alg of options.algorithms ?? []) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) throw new RangeError(`algorithm ${alg} is not allowed`)
  }
  if (options.hmacSecret !== undefined && options.hmacSecret.length < 32) throw new RangeError('an HS256 secret has at least 32 bytes')
  checkTokenProfile(profileOf(options))
}
