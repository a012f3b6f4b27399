import { type JWTPayload, type ProtectedHeaderParameters, compactVerify, decodeJwt, decodeProtectedHeader, errors } from 'jose'
import { type AuthOptions, allowedAlgorithms, checkAuthOptions, keyResolver, profileOf, tokenFingerprint } from './auth.js'
import { isAnnalScope, scopesFromClaims } from './scopes.js'
import { type ScopeClaim, type TokenProfile, clientOf, typeAccepted, typesText } from './token-profile.js'

/** One check a token passes or fails, said in a sentence that never quotes the token. */
export interface TokenRule {
  readonly rule: string
  readonly passed: boolean
  readonly detail: string
}

export interface TokenExplanation {
  /** SHA-256 of the token, lowercase hex: how the access log names it. */
  readonly fingerprint: string
  /** Every rule passed: the server accepts the token, and it grants at least one of Annal's scopes. */
  readonly passed: boolean
  readonly rules: readonly TokenRule[]
}

/** Longest claim value quoted in a sentence. */
const QUOTED_LENGTH = 80

/**
 * Checks `token` against `options` rule by rule, as TokenVerifier does, and says why each
 * passes or fails: the signature and its key, alg, typ, iss, aud, exp, nbf and iat with the
 * allowed clock skew, the profile's required claims, the client, cnf and the scopes granted.
 * Claims are read before the signature is known good, so that a bad token is still explained.
 * Key sets are fetched from `jwksUrl` when given. The token's text appears nowhere in the result.
 * @throws TypeError or RangeError for settings that cannot work, as TokenVerifier does.
 */
export async function explainToken(options: AuthOptions, token: string, clock: () => Date = () => new Date()):
    Promise<TokenExplanation> {
  checkAuthOptions(options)
  const fingerprint = tokenFingerprint(token)
  const decoded = decode(token)
  const rules: TokenRule[] = []
  if ('error' in decoded) {
    rules.push(fail('format', `not a signed JWT in compact form: ${decoded.error}`))
  } else {
    rules.push(pass('format', 'a signed JWT in compact form'))
    rules.push(...await signatureRules(options, token, decoded.header))
    rules.push(...claimRules(options, profileOf(options), decoded.header, decoded.claims, clock()))
  }
  return { fingerprint, passed: rules.every((rule) => rule.passed), rules }
}

function pass(rule: string, detail: string): TokenRule {
  return { rule, passed: true, detail }
}

function fail(rule: string, detail: string): TokenRule {
  return { rule, passed: false, detail }
}

function decode(token: string): { header: ProtectedHeaderParameters; claims: JWTPayload } | { error: string } {
  if (token.split('.').length !== 3) return { error: 'it does not have three dot-separated parts' }
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) }
  } catch {
    return { error: 'its header or claims are not base64url-encoded JSON objects' }
  }
}

/** Shown in a sentence: JSON, cut short when long. */
function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > QUOTED_LENGTH ? `${text.slice(0, QUOTED_LENGTH)}…` : text
}

async function signatureRules(options: AuthOptions, token: string, header: ProtectedHeaderParameters): Promise<TokenRule[]> {
  const allowed = allowedAlgorithms(options)
  if (typeof header.alg !== 'string' || !allowed.includes(header.alg)) {
    return [
      fail('alg', `alg ${quoted(header.alg)} is not allowed; allowed: ${allowed.join(', ')}`),
      fail('signature', 'not checked: the algorithm is not allowed'),
    ]
  }
  const rules = [pass('alg', `alg ${header.alg} is allowed`)]
  const kid = header.kid === undefined ? 'no kid' : `kid ${quoted(header.kid)}`
  try {
    await compactVerify(token, keyResolver(options), { algorithms: [header.alg] })
    return [...rules, pass('signature', `signed by the trusted key with ${kid}`)]
  } catch (error) {
    if (error instanceof errors.JWKSNoMatchingKey) return [...rules, fail('signature', `no trusted key has ${kid} and suits ${header.alg}`)]
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return [...rules, fail('signature', `the signature does not verify with the trusted key for ${kid}`)]
    }
    if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid)) {
      return [...rules, fail('signature', `the signature cannot be checked: ${error.message}`)]
    }
    return [...rules, fail('signature', `the trusted keys cannot be fetched: ${(error as Error).message}`)]
  }
}

function claimRules(options: AuthOptions, profile: TokenProfile, header: ProtectedHeaderParameters, claims: JWTPayload,
    now: Date): TokenRule[] {
  const skew = options.clockToleranceSeconds ?? 30
  const seconds = Math.floor(now.getTime() / 1000)
  const typ = header.typ === undefined ? 'no typ' : `typ ${quoted(header.typ)}`
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  return [
    typeAccepted(profile, header.typ) ? pass('typ', `${typ} is accepted`) : fail('typ', `${typ} is not accepted; accepted: ${typesText(profile)}`),
    claims.iss === options.issuer ? pass('iss', `iss is the configured issuer ${quoted(options.issuer)}`)
      : fail('iss', claims.iss === undefined ? 'iss is missing' : `iss ${quoted(claims.iss)} is not the configured issuer ${quoted(options.issuer)}`),
    audiences.includes(options.audience) ? pass('aud', `aud holds this server's resource identifier ${quoted(options.audience)}`)
      : fail('aud', claims.aud === undefined ? 'aud is missing' : `aud ${quoted(claims.aud)} does not hold this server's resource identifier ${quoted(options.audience)}`),
    timeRule('exp', claims.exp, true, (exp) => exp > seconds - skew,
      (exp) => exp > seconds ? `expires in ${exp - seconds} s` : `expired ${seconds - exp} s ago`, skew),
    timeRule('nbf', claims.nbf, false, (nbf) => nbf <= seconds + skew,
      (nbf) => nbf <= seconds ? `valid since ${seconds - nbf} s ago` : `valid only in ${nbf - seconds} s`, skew),
    timeRule('iat', claims.iat, profile.requiredClaims.includes('iat'), () => true,
      (iat) => iat <= seconds ? `issued ${seconds - iat} s ago` : `issued ${iat - seconds} s in the future`, skew),
    requiredRule(profile, claims),
    clientRule(profile, claims),
    claims.cnf === undefined ? pass('bearer', 'not bound to a key (no cnf): usable as a bearer token')
      : fail('bearer', 'bound to a key (cnf): a sender-constrained token is refused as a bearer token (RFC 9449 §7.1)'),
    scopeRule(profile, claims),
  ]
}

function timeRule(name: 'exp' | 'nbf' | 'iat', value: unknown, required: boolean, good: (time: number) => boolean,
    say: (time: number) => string, skew: number): TokenRule {
  if (value === undefined) return required ? fail(name, `${name} is missing`) : pass(name, `no ${name}`)
  if (typeof value !== 'number' || !Number.isFinite(value)) return fail(name, `${name} ${quoted(value)} is not a number of seconds`)
  return good(value) ? pass(name, `${say(value)} (${skew} s of clock skew allowed)`)
    : fail(name, `${say(value)}, beyond the ${skew} s of clock skew allowed`)
}

function requiredRule(profile: TokenProfile, claims: JWTPayload): TokenRule {
  const names = profile.requiredClaims.filter((name) => !['iss', 'aud', 'exp'].includes(name))
  const missing = names.filter((name) => claims[name] === undefined)
  if (missing.length > 0) return fail('claims', `lacks ${missing.join(', ')}, which the token profile requires`)
  const malformed = (['sub', 'jti'] as const).filter((name) => claims[name] !== undefined && typeof claims[name] !== 'string')
  if (malformed.length > 0) return fail('claims', `${malformed.join(' and ')} must be a string`)
  return pass('claims', names.length === 0 ? 'the token profile requires no more claims' : `carries ${names.join(', ')}, as the token profile requires`)
}

function clientRule(profile: TokenProfile, claims: JWTPayload): TokenRule {
  const client = clientOf(profile, claims)
  if ('client' in client) return pass('client', `names the client ${quoted(client.client)} in ${client.claim}`)
  const present = profile.clientClaims.find((name) => claims[name] !== undefined)
  return present === undefined ? fail('client', `names no client: it has none of ${profile.clientClaims.join(', ')}`)
    : fail('client', `${present} ${quoted(claims[present])} is not a client identifier (a non-empty string)`)
}

function scopeRule(profile: TokenProfile, claims: JWTPayload): TokenRule {
  const spelled = (form: ScopeClaim['form']) => form === 'string' ? 'a space-delimited string' : 'an array of strings'
  const source = profile.scopeClaims.find(({ claim }) => claims[claim] !== undefined)
  if (source === undefined) {
    return fail('scopes', `grants no scopes: it has none of ${profile.scopeClaims.map(({ claim, form }) => `${claim} (${spelled(form)})`).join(', ')}`)
  }
  const scopes = scopesFromClaims(claims, profile.scopeClaims)
  if (scopes === undefined) return fail('scopes', `${source.claim} is not ${spelled(source.form)}`)
  const annal = scopes.filter(isAnnalScope)
  return annal.length === 0 ? fail('scopes', `grants none of Annal's scopes (its ${source.claim}: ${quoted(scopes.join(' '))}); every route would answer 403`)
    : pass('scopes', `grants ${annal.join(' ')} (from ${source.claim})`)
}
