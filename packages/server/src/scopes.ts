/** The scopes Annal knows. Each but `audit:read` may be narrowed to one log: `log:append:payments`. */
export const SCOPES = ['log:read', 'log:append', 'log:admin', 'audit:read'] as const
export type Scope = (typeof SCOPES)[number]

/** The name of the built-in access log, read with `audit:read` and written by the server only. */
export const ACCESS_LOG = 'access'

/**
 * The scope a route on `log` needs: `base`, or `audit:read` to read the access log.
 * Returns the narrowest spelling that suffices (`log:append:payments`), as 403 challenges name it.
 */
export function neededScope(base: Scope, log: string | undefined): string {
  if (isAudit(base, log)) return 'audit:read'
  return log === undefined ? base : `${base}:${log}`
}

/**
 * The granted scope that allows `base` on `log`, compared as exact tokens, or undefined.
 * The per-log scope is preferred when both are granted. Nothing implies anything else:
 * `log:admin` does not grant `log:read`, and unknown scopes are ignored, never widened.
 */
export function authorizingScope(granted: ReadonlySet<string>, base: Scope, log: string | undefined): string | undefined {
  if (isAudit(base, log)) return granted.has('audit:read') ? 'audit:read' : undefined
  if (log !== undefined && granted.has(`${base}:${log}`)) return `${base}:${log}`
  return granted.has(base) ? base : undefined
}

/**
 * Scopes from an access token's claims (RFC 9068 §2.2.3): the space-delimited `scope`
 * string, or else an `scp` array of strings. No claim means no scopes.
 * @returns undefined when a claim is present but malformed.
 */
export function scopesFromClaims(claims: Record<string, unknown>): string[] | undefined {
  const { scope, scp } = claims
  if (scope !== undefined) return typeof scope === 'string' ? [...new Set(scope.split(' ').filter(Boolean))] : undefined
  if (scp !== undefined) {
    return Array.isArray(scp) && scp.every((item) => typeof item === 'string' && item !== '' && !item.includes(' '))
      ? [...new Set(scp as string[])] : undefined
  }
  return []
}

function isAudit(base: Scope, log: string | undefined): boolean {
  return base === 'audit:read' || (base === 'log:read' && log === ACCESS_LOG)
}
