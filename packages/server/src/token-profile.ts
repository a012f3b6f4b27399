/** A claim that grants scopes, and how it spells them. */
export interface ScopeClaim {
  readonly claim: string
  /** `string`: space-delimited (RFC 8693 §4.2); `array`: a JSON array of strings. */
  readonly form: 'string' | 'array'
}

/**
 * What an authorization server puts in its JWT access tokens, beyond what every token must
 * carry (a signature by a trusted key with an allowed algorithm, `iss`, `aud` and `exp`).
 */
export interface TokenProfile {
  /**
   * Header `typ` values accepted, compared as media types (RFC 7515 §4.1.9: case-insensitive,
   * `application/` optional); `null` accepts a token without `typ`.
   */
  readonly types: readonly (string | null)[]
  /** Claims that name the client, in order: the first present one is the client. One must be present. */
  readonly clientClaims: readonly string[]
  /** Claims every token must carry besides iss, aud, exp and the client. */
  readonly requiredClaims: readonly string[]
  /**
   * Where granted scopes come from: the first of these claims present, in its form (a claim in
   * another form refuses the token). Later claims are read only when earlier ones are absent.
   */
  readonly scopeClaims: readonly ScopeClaim[]
}

export const TOKEN_PROFILE_NAMES = ['rfc9068', 'keycloak', 'auth0', 'okta', 'entra'] as const
export type TokenProfileName = (typeof TOKEN_PROFILE_NAMES)[number]

const SCOPE: ScopeClaim = { claim: 'scope', form: 'string' }

/**
 * The profiles of common providers, each from its published token format. Each also takes
 * `at+jwt`, the type RFC 9068 gives access tokens, for a provider switched to that profile.
 */
export const TOKEN_PROFILES: Readonly<Record<TokenProfileName, TokenProfile>> = {
  // RFC 9068 §2.1 (typ at+jwt), §2.2 (iss exp aud sub client_id iat jti required), §2.2.3 (scope).
  // An scp array is read too, as before presets existed.
  rfc9068: {
    types: ['at+jwt'], clientClaims: ['client_id'], requiredClaims: ['sub', 'iat', 'jti'],
    scopeClaims: [SCOPE, { claim: 'scp', form: 'array' }],
  },
  // Keycloak signs access tokens with header {alg, typ: "JWT", kid} and claims exp iat jti iss
  // sub typ=Bearer azp scope (a string); client_id only in service-account tokens. Its aud names
  // this server only with an audience mapper. Keycloak server admin guide, "OIDC token and SAML
  // assertion mappings" and "Service accounts"; https://phasetwo.io/tutorials/getting-started/your-first-token/
  keycloak: {
    types: ['JWT', 'at+jwt'], clientClaims: ['azp', 'client_id'], requiredClaims: ['sub', 'iat', 'jti'], scopeClaims: [SCOPE],
  },
  // The Auth0 token profile: typ JWT, claims iss sub aud azp exp iat scope, no jti; RBAC adds a
  // permissions array. Its RFC 9068 profile names the client in client_id and adds jti.
  // https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
  auth0: {
    types: ['JWT', 'at+jwt'], clientClaims: ['azp', 'client_id'], requiredClaims: ['sub', 'iat'],
    scopeClaims: [SCOPE, { claim: 'permissions', form: 'array' }],
  },
  // Okta custom authorization servers: header {kid, alg: RS256} without typ; claims ver jti iss
  // aud iat exp cid uid scp (an array) sub. Okta's OpenID Connect & OAuth 2.0 API reference,
  // "Access token" (https://developer.okta.com/docs/reference/api/oidc/), and a decoded token in
  // https://groups.google.com/g/rabbitmq-users/c/O3GdCKf8soM
  okta: {
    types: [null, 'at+jwt'], clientClaims: ['cid'], requiredClaims: ['sub', 'iat', 'jti'],
    scopeClaims: [{ claim: 'scp', form: 'array' }],
  },
  // Microsoft Entra ID: header typ "always JWT"; the client in azp (v2.0 tokens) or appid (v1.0);
  // delegated permissions in scp (a space-separated string), application permissions in roles
  // (an array); no jti (uti is opaque). https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
  entra: {
    types: ['JWT', 'at+jwt'], clientClaims: ['azp', 'appid'], requiredClaims: ['sub', 'iat'],
    scopeClaims: [{ claim: 'scp', form: 'string' }, { claim: 'roles', form: 'array' }],
  },
}

/** The named profile. @throws RangeError naming the valid names. */
export function tokenProfile(name: string): TokenProfile {
  if (!(TOKEN_PROFILE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown token profile ${JSON.stringify(name)}; use one of ${TOKEN_PROFILE_NAMES.join(', ')}`)
  }
  return TOKEN_PROFILES[name as TokenProfileName]
}

/** RFC 7515 §4.1.9: compared without case, `application/` implied when there is no slash. */
function mediaType(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.includes('/') ? lower : `application/${lower}`
}

/** True when `profile` accepts a header `typ` of `typ` (undefined when there is none). */
export function typeAccepted(profile: TokenProfile, typ: unknown): boolean {
  if (typ === undefined) return profile.types.includes(null)
  return typeof typ === 'string' && profile.types.some((type) => type !== null && mediaType(type) === mediaType(typ))
}

/** How a profile's types read in a sentence: `at+jwt, JWT or none`. */
export function typesText(profile: TokenProfile): string {
  return profile.types.map((type) => type ?? 'none').join(', ')
}

/** The client a token names: the claim and its value, or why there is none. */
export function clientOf(profile: TokenProfile, claims: Record<string, unknown>):
    { readonly claim: string; readonly client: string } | { readonly reason: string } {
  const claim = profile.clientClaims.find((name) => claims[name] !== undefined)
  if (claim === undefined) return { reason: `claim_${profile.clientClaims.join('_or_')}_missing` }
  const client = claims[claim]
  return typeof client === 'string' && client !== '' ? { claim, client } : { reason: `${claim}_malformed` }
}

/** Checks a custom profile's shape. @throws TypeError or RangeError for a bad one. */
export function checkTokenProfile(profile: TokenProfile): void {
  const names = (list: unknown): boolean => Array.isArray(list) && list.every((name) => typeof name === 'string' && name !== '')
  if (!Array.isArray(profile.types) || profile.types.length === 0
      || !profile.types.every((type) => type === null || (typeof type === 'string' && type !== ''))) {
    throw new TypeError('a token profile accepts at least one typ: strings, or null for none')
  }
  if (!names(profile.clientClaims) || profile.clientClaims.length === 0) throw new TypeError('a token profile names at least one client claim')
  if (!names(profile.requiredClaims)) throw new TypeError('a token profile\'s required claims are claim names')
  if (!Array.isArray(profile.scopeClaims)
      || !profile.scopeClaims.every((source) => names([source.claim]) && ['string', 'array'].includes(source.form))) {
    throw new TypeError('a token profile\'s scope claims are {claim, form: "string" | "array"}')
  }
}
