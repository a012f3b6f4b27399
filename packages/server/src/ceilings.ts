// Per-client scope ceilings: defense in depth against an authorization server that grants a
// client more than it should. A token is clamped to its client's ceiling, never refused for it.
import type { Principal } from './auth.js'
import { isAnnalScope } from './scopes.js'

/** client_id → the most scopes its tokens may carry. */
export type ScopeCeilings = Readonly<Record<string, readonly string[]>>

/**
 * The ceilings as sets, checked.
 * @throws TypeError unless each ceiling is a list of Annal scopes (`log:read`, `log:append:payments`, ...).
 */
export function ceilingSets(ceilings: ScopeCeilings | undefined): ReadonlyMap<string, ReadonlySet<string>> {
  const sets = new Map<string, ReadonlySet<string>>()
  for (const [client, scopes] of Object.entries(ceilings ?? {})) {
    if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && isAnnalScope(scope))) {
      throw new TypeError(`the scope ceiling of ${JSON.stringify(client)} must be a list of Annal scopes`)
    }
    sets.set(client, new Set(scopes))
  }
  return sets
}

/**
 * `principal` with its Annal scopes cut to `ceiling` and the scopes cut off. A scope narrowed to
 * one log stays under a ceiling holding its unsuffixed scope: it grants less. Scopes that are not
 * Annal's grant nothing here and are left as they are.
 */
export function clamp(principal: Principal, ceiling: ReadonlySet<string>): { principal: Principal; removed: string[] } {
  const kept: string[] = []
  const removed: string[] = []
  for (const scope of principal.scopes) {
    const allowed = !isAnnalScope(scope) || ceiling.has(scope) || ceiling.has(scope.split(':', 2).join(':'))
    if (allowed) kept.push(scope)
    else removed.push(scope)
  }
  return { principal: removed.length === 0 ? principal : { ...principal, scopes: kept }, removed }
}
