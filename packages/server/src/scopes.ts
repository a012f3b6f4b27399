import type { ScopeClaim } from './token-profile.js'

/** The scopes Annal knows. Each but `audit:read` may be narrowed to one log: `log:append:payments`. */
export const SCOPES = ['log:read', 'log:append', 'log:admin', 'audit:read'] as const
export type Scope = (typeof SCOPES)[number]

/** The name of the built-in access log, read with `audit:read` and written by the server only. */
export const ACCESS_LOG = 'access'

/** The name of the built-in log of alerts (see alerts.ts), read with `audit:read` and written by the server only. */
export const ALERTS_LOG = 'alerts'

/** True for the logs the server writes and `audit:read` reads: `access` and `alerts`. */
export function isServerLog(log: string | undefined): boolean {
  return log === ACCESS_LOG || log === ALERTS_LOG
}

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
 * Scopes from an access token's claims: the first claim of `sources` that is present, read in
 * its form (RFC 9068 §2.2.3 names `scope`, a space-delimited string). No claim means no scopes.
 * @returns undefined when that claim is not in its form.
 */
export function scopesFromClaims(claims: Record<string, unknown>, sources: readonly ScopeClaim[]): string[] | undefined {
  const source = sources.find(({ claim }) => claims[claim] !== undefined)
  if (source === undefined) return []
  const value = claims[source.claim]
  if (source.form === 'string') return typeof value === 'string' ? [...new Set(value.split(' ').filter(Boolean))] : undefined
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '' && !item.includes(' '))
    ? [...new Set(value as string[])] : undefined
}

/** True when `scope` is one of Annal's, alone or narrowed to a log: `log:read`, `log:append:payments`. */
export function isAnnalScope(scope: string): boolean {
  if ((SCOPES as readonly string[]).includes(scope)) return true
  const narrowed = /^(log:read|log:append|log:admin):(.+)$/.exec(scope)
  return narrowed !== null && !narrowed[2]!.includes(':')
}

function isAudit(base: Scope, log: string | undefined): boolean {
  return base === 'audit:read' || (base === 'log:read' && isServerLog(log))
}
