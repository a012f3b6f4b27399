import { AuthError, tokenFingerprint } from './auth.js'
import { ApiError } from './errors.js'

export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string; readonly fingerprint: string }
  /** Authorization with another scheme (Basic, DPoP): we take bearer tokens only, so no token. */
  | { readonly kind: 'other' }
  | { readonly kind: 'error'; readonly error: ApiError; readonly reason: string; readonly fingerprint?: string }

/** RFC 6750 §2.1 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

/**
 * The credentials of a request: an `Authorization: Bearer` token only. A token in the query
 * string (RFC 6750 §2.3) is refused, and so is a malformed bearer header.
 */
export function credentials(request: Request): Credentials {
  // Most requests have no query at all, and parsing the URL costs more than the rest of this.
  const query = request.url.includes('?') ? new URL(request.url).searchParams.get('access_token') : null
  if (query !== null) {
    return {
      kind: 'error', reason: 'token_in_query', fingerprint: query === '' ? undefined : tokenFingerprint(query),
      error: new ApiError('TOKEN_REQUEST_MALFORMED', 'send the access token in the Authorization header, not the URL'),
    }
  }
  const header = request.headers.get('authorization')
  if (header === null) return { kind: 'none' }
  if (!/^bearer(?: |$)/i.test(header)) return { kind: 'other' }
  const match = BEARER.exec(header)
  if (match === null) {
    return { kind: 'error', reason: 'bearer_malformed', error: new ApiError('TOKEN_REQUEST_MALFORMED', 'the Authorization header is malformed') }
  }
  return { kind: 'bearer', token: match[1]!, fingerprint: tokenFingerprint(match[1]!) }
}

/**
 * The RFC 6750 §3 WWW-Authenticate header for an error, if it calls for one. Descriptions are
 * fixed texts (a rotation's names the rotated scope): they never say which check a token failed.
 */
export function challenge(metadataUrl: string, error: unknown, neededScope: string | undefined): Record<string, string> {
  if (!(error instanceof ApiError)) return {}
  const base = `Bearer realm="annal", resource_metadata="${metadataUrl}"`
  switch (error.code) {
    case 'TOKEN_MISSING':
      return { 'WWW-Authenticate': base }
    case 'TOKEN_INVALID':
      return { 'WWW-Authenticate': `${base}, error="invalid_token", error_description="${error.message}"` }
    case 'TOKEN_REQUEST_MALFORMED':
      return { 'WWW-Authenticate': `${base}, error="invalid_request", error_description="${error.message}"` }
    case 'INSUFFICIENT_SCOPE': {
      // A rotated scope is said: the client has it, and needs a newer token, not another scope.
      const rotated = error instanceof AuthError && error.reason === 'scope_rotated' ? `, error_description="${error.message}"` : ''
      return { 'WWW-Authenticate': `${base}, error="insufficient_scope", scope="${neededScope ?? ''}"${rotated}` }
    }
    default:
      return {}
  }
}
