import type { Witnessing } from './witnessing.js'
import type { PublishingStatus } from './publishing.js'
import type { Alerts } from './alerts.js'
import type { EventStreams } from './event-streams.js'
import type { WitnessPolicies } from './witness-policy.js'
import type { Ledger } from '@annal/store'
import type { Context } from 'hono'
import { routePath } from 'hono/route'
import { AuthError, type Principal, type TokenVerifier } from './auth.js'
import type { GovernanceState } from './governance-state.js'
import type { GovernanceListener } from './governance.js'
import type { IdempotencyStore } from './idempotency.js'
import type { Reindexing } from './reindexing.js'
import { type Scope, authorizingScope, isServerLog, neededScope } from './scopes.js'
import { ApiError } from './errors.js'

export interface Limits {
  /** Largest request body, in bytes. Default 1 MiB. */
  readonly bodyBytes: number
  /**
   * Longest a request body may take to arrive, in ms: slower is 408 BODY_TIMEOUT. Default
   * 20,000, under serve's whole-request timeout (30,000), which would answer a bare 408.
   */
  readonly bodyTimeoutMs: number
  /** Most events in one NDJSON append. Default 10,000. */
  readonly ndjsonLines: number
  /** Most entries one list request returns. Default 1,000. */
  readonly listEntries: number
  /**
   * Most bytes of entries and inline payloads in one page of entries (the first entry of a page
   * is always served); a payload larger than this is never inline. Default 2 MiB.
   */
  readonly pageBytes: number
  /**
   * Deepest nesting of arrays and objects in a JSON event; deeper is 400 JSON_TOO_DEEP. A stored
   * payload deeper than this is served without being inline. Default 100, at most 1,000.
   */
  readonly jsonDepth: number
  /** Bytes of idempotency records kept; the oldest go first beyond it. Default 16 MiB. */
  readonly idempotencyBytes: number
  /** How long an idempotency key is remembered, in ms. Default 24 hours. */
  readonly idempotencyTtlMs: number
  /** Server-sent event streams (alerts, log tails) open at once; more are 503 STREAMS_EXHAUSTED. Default 100. */
  readonly streams: number
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 2 ** 20, bodyTimeoutMs: 20_000, ndjsonLines: 10_000, listEntries: 1_000, pageBytes: 2 * 2 ** 20, jsonDepth: 100,
  idempotencyBytes: 16 * 2 ** 20, idempotencyTtlMs: 24 * 3600_000, streams: 100,
}

/** JSON nesting the server can always print back: printing is recursive, and a deep value overflows the stack. */
export const MAX_JSON_DEPTH = 1_000

/** What a request's credentials came to. `error` is thrown when a route looks at them. */
export interface AuthState {
  /** The request presented a token (header or query) or other Authorization credentials. */
  readonly credentials: boolean
  readonly fingerprint?: string
  /** A verified token's principal; with `error` when the token was verified and then revoked. */
  readonly principal?: Principal
  readonly error?: ApiError
  /** Why the token was refused, for the access log only. */
  readonly reason?: string
  /** The id of the revocation that refused the token. */
  readonly revocation?: string
  /** The rotated scopes the token was issued before: it cannot use them (see authorize). */
  readonly stale?: readonly string[]
  /** The rotated scope that refused the request (reason `scope_rotated`). */
  readonly rotated?: string
  /** The scopes cut off the token by its client's ceiling. */
  readonly clamped?: readonly string[]
}

export interface AppEnv {
  Variables: {
    requestId: string
    auth: AuthState
    /** The route template, e.g. `/v1/logs/:log/entries`, once a route is reached. */
    route?: string
    log?: string
    /** The object (`sha256:<hex>`, as the client named it) an object route reads or erases. */
    object?: string
    /** The route needs a token (recorded in the access log whatever the outcome). */
    protectedRoute?: boolean
    /** The scope the route needed. */
    requiredScope?: string
    /** The granted scope that allowed the request. */
    authorizedBy?: string
    /** The problem code answered, if any. */
    problemCode?: string
    /** The status of the access record the route committed itself, if it did (see accessRecord). */
    recordedStatus?: number
    /** The answer is a replay of an earlier request's, for its Idempotency-Key. */
    replayed?: boolean
  }
}

export interface Services {
  readonly ledger: Ledger
  readonly verifier: TokenVerifier
  readonly clock: () => Date
  readonly limits: Limits
  readonly idempotency: IdempotencyStore
  /** The RFC 9728 metadata URL, as the WWW-Authenticate challenge names it. */
  readonly metadataUrl: string
  /** Each log's witness policy, if it has one. */
  readonly policies: WitnessPolicies
  /** The k of a policy that names none (AppOptions.policy). */
  readonly defaultK: number | undefined
  /** Submits checkpoints to witnesses and picks the checkpoint to serve; absent without witnesses and policies. */
  readonly witnessing?: Witnessing
  /** A publisher to object storage, for its metrics (AppOptions.publishing). */
  readonly publishing?: PublishingStatus
  /** Scope rotations, revocations and the security events received. */
  readonly governance: GovernanceState
  /** client_id → the scopes its tokens are clamped to (AppOptions.scopeCeilings). */
  readonly ceilings: ReadonlyMap<string, ReadonlySet<string>>
  readonly onGovernanceEvent?: GovernanceListener
  /** Follows the access log: alert rules, the alerts log, webhooks and the scope review. */
  readonly alerts: Alerts
  /** The open server-sent event streams. */
  readonly streams: EventStreams
  /** The reindexes running in the background. */
  readonly reindexing: Reindexing
}

export type AppContext = Context<AppEnv>

/** Marks the route reached and throws the request's credential error, if any. */
function reach(c: AppContext, log: string | undefined): void {
  c.set('route', routePath(c))
  if (log !== undefined) c.set('log', log)
  const { error } = c.get('auth')
  if (error !== undefined) throw error
}

/**
 * For public routes: refuses bad credentials, and on the access and alerts logs requires `audit:read`.
 * @throws ApiError TOKEN_INVALID, TOKEN_REQUEST_MALFORMED, AUTH_UNAVAILABLE, TOKEN_MISSING, INSUFFICIENT_SCOPE.
 */
export function allowPublic(c: AppContext, log?: string): void {
  if (isServerLog(log)) {
    authorize(c, 'audit:read', log)
    return
  }
  reach(c, log)
}

/**
 * Requires a valid token granting `base` (on `log` when given).
 * @returns the principal and the scope that allowed the request.
 * @throws ApiError TOKEN_MISSING (401), TOKEN_INVALID (401), INSUFFICIENT_SCOPE (403), and as allowPublic.
 */
export function authorize(c: AppContext, base: Scope, log?: string): { principal: Principal; scope: string } {
  const needed = neededScope(base, log)
  c.set('requiredScope', needed)
  const principal = authenticated(c, log)
  const scope = authorizingScope(new Set(principal.scopes), base, log)
  if (scope === undefined) throw new ApiError('INSUFFICIENT_SCOPE', `this route needs ${needed}`)
  const rotated = rotatedScope(c.get('auth').stale, needed)
  if (rotated !== undefined) {
    c.set('auth', { ...c.get('auth'), reason: 'scope_rotated', rotated })
    throw new AuthError('INSUFFICIENT_SCOPE', `the scope ${rotated} was rotated; this route needs a token issued after that`,
      'scope_rotated')
  }
  c.set('authorizedBy', scope)
  return { principal, scope }
}

/**
 * Which rotation, if any, takes the right to `needed` from a token issued before the rotated
 * scopes `stale`: a rotation of `needed` itself, or of its unsuffixed scope, which covers every
 * log (rotating `log:append` takes `log:append:payments` too; rotating `log:append:payments`
 * takes the right to append to payments from an older `log:append`).
 */
function rotatedScope(stale: readonly string[] | undefined, needed: string): string | undefined {
  if (stale === undefined) return undefined
  const unsuffixed = needed.split(':', 2).join(':')
  return stale.find((scope) => scope === needed || scope === unsuffixed)
}

/**
 * Whether the request's token may do what `base` (on `log` when given) allows, without
 * refusing it: a scope rotated since the token was issued grants nothing, as in `authorize`.
 */
export function grants(c: AppContext, base: Scope, log?: string): boolean {
  const { principal, error, stale } = c.get('auth')
  if (principal === undefined || error !== undefined) return false
  return authorizingScope(new Set(principal.scopes), base, log) !== undefined && rotatedScope(stale, neededScope(base, log)) === undefined
}

/**
 * Requires a valid token, whatever its scopes.
 * @throws ApiError TOKEN_MISSING (401), and as allowPublic.
 */
export function authenticated(c: AppContext, log?: string): Principal {
  c.set('protectedRoute', true)
  reach(c, log)
  const { principal } = c.get('auth')
  if (principal === undefined) throw new ApiError('TOKEN_MISSING', 'this route needs an access token')
  return principal
}
