import { ApiError } from './errors.js'

/** Longest a startup fetch of the discovery document or the key set may take. */
const FETCH_TIMEOUT_MS = 10_000

/** Key types a JWS access token can be verified with (RFC 7518 §6, RFC 8037). */
const SIGNING_KEY_TYPES = new Set(['RSA', 'EC', 'OKP'])

export interface IssuerKeysOptions {
  readonly issuer: string
  /** Where the keys are; when absent, read from the issuer's OpenID Connect discovery document. */
  readonly jwksUrl?: string
  /** Algorithms a key may be for; a key whose `alg` is another is not usable. */
  readonly algorithms: readonly string[]
}

/** Where an issuer's keys were found, and how many of them can verify tokens. */
export interface IssuerKeys {
  readonly jwksUrl: string
  readonly usableKeys: number
}

/**
 * Fetches the issuer's key set once, as a server does before it listens, so that a wrong URL
 * or an empty set is said at start, not as 503s later. Without `jwksUrl`, the URL is the
 * `jwks_uri` of `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4),
 * whose `issuer` must be the configured issuer exactly (§4.3).
 * @throws ApiError AUTH_UNAVAILABLE, its message one sentence naming the URL and what went wrong.
 */
export async function fetchIssuerKeys(options: IssuerKeysOptions): Promise<IssuerKeys> {
  const jwksUrl = options.jwksUrl ?? await discoverJwksUrl(options.issuer)
  const set = await fetchJson(jwksUrl, 'the JWKS')
  const keys = isObject(set) ? set.keys : undefined
  if (!Array.isArray(keys)) throw unavailable(`the JWKS at ${jwksUrl} is not a JSON Web Key Set: it has no "keys" list`)
  const usableKeys = keys.filter((key) => usable(key, options.algorithms)).length
  if (usableKeys === 0) {
    throw unavailable(`the JWKS at ${jwksUrl} holds no usable public signing key for ${options.algorithms.join(', ')} (of ${keys.length} keys)`)
  }
  return { jwksUrl, usableKeys }
}

async function discoverJwksUrl(issuer: string): Promise<string> {
  if (!/^https?:\/\//.test(issuer)) {
    throw new TypeError(`the issuer ${issuer} is no http(s) URL to discover keys from; give the JWKS URL or file`)
  }
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`
  const metadata = await fetchJson(url, 'the OpenID configuration')
  if (!isObject(metadata)) throw unavailable(`the OpenID configuration at ${url} is not a JSON object`)
  if (metadata.issuer !== issuer) {
    throw unavailable(`the OpenID configuration at ${url} names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}; configure the issuer exactly as it names itself`)
  }
  if (typeof metadata.jwks_uri !== 'string' || !/^https?:\/\//.test(metadata.jwks_uri)) {
    throw unavailable(`the OpenID configuration at ${url} has no http(s) jwks_uri`)
  }
  return metadata.jwks_uri
}

async function fetchJson(url: string, what: string): Promise<unknown> {
  let response: Response
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
  } catch (error) {
    throw unavailable(`cannot fetch ${what} at ${url}: ${causeOf(error)}`)
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw unavailable(`cannot fetch ${what} at ${url}: it answered HTTP ${response.status}`)
  }
  try {
    return JSON.parse(await response.text())
  } catch {
    throw unavailable(`${what} at ${url} is not JSON`)
  }
}

/** A fetch failure's reason: undici hides it in `cause` (ECONNREFUSED, ENOTFOUND). */
function causeOf(error: unknown): string {
  if ((error as Error).name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

/** A public key that can verify a signature with one of `algorithms`. */
function usable(key: unknown, algorithms: readonly string[]): boolean {
  if (!isObject(key) || typeof key.kty !== 'string' || !SIGNING_KEY_TYPES.has(key.kty)) return false
  if ('d' in key || (key.use !== undefined && key.use !== 'sig')) return false
  return key.alg === undefined || algorithms.includes(key.alg as string)
}

function unavailable(message: string): ApiError {
  return new ApiError('AUTH_UNAVAILABLE', message)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
