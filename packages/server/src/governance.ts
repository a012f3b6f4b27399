// What scope governance tells the access log and its subscribers: rotations, revocations, pushed
// security events, and tokens clamped to their client's ceiling or refused for a rotation or a
// revocation.
import { canonicalJson } from './canonical-json.js'
import { isoTime } from './envelope.js'
import { encodeUtf8 } from './internal/utf8.js'

export const GOVERNANCE_RECORD_TYPE = 'annal.governance/v1'

/** A revocation as the API shows it and the ledger keeps it. Times are RFC 3339. */
export interface RevocationJson {
  readonly id: string
  /** A token matches when it carries every one of `jti`, `client_id` and `sub` given (at least one is). */
  readonly jti?: string
  readonly client_id?: string
  readonly sub?: string
  /** Only tokens issued (`iat`) at or before this second match; a token without `iat` always does. */
  readonly issued_before?: string
  /** The revocation lapses at this time. */
  readonly until?: string
  readonly reason: string
  /** `admin` (POST /v1/admin/revocations) or `caep` (a pushed Security Event Token). */
  readonly source: 'admin' | 'caep'
  readonly created_at: string
  readonly request_id: string
  readonly lifted_at?: string
  readonly lift_reason?: string
  readonly lift_request_id?: string
}

/** Who made an admin change: the token's iss, sub and client_id. */
export interface GovernanceActor {
  readonly iss: string
  readonly sub?: string
  readonly clientId?: string
}

interface EventBase {
  readonly time: Date
  /** The request it happened in: its access record and governance record carry the same id. */
  readonly requestId: string
}

/** Who a token speaks for and which token it is (never the token). */
interface TokenRef {
  readonly clientId?: string
  readonly sub?: string
  readonly jti?: string
  readonly fingerprint: string
}

/**
 * What `AppOptions.onGovernanceEvent` is told, once the change's records are committed (for a
 * refusal or a clamp: once the request was answered and its access record written, or failed).
 */
export type GovernanceEvent =
  | EventBase & { readonly kind: 'scope-rotated'; readonly scope: string; readonly reason: string; readonly actor: GovernanceActor }
  | EventBase & { readonly kind: 'revocation-added'; readonly revocation: RevocationJson; readonly actor?: GovernanceActor }
  | EventBase & { readonly kind: 'revocation-lifted'; readonly revocation: RevocationJson; readonly actor: GovernanceActor }
  /** A token carried scopes beyond its client's ceiling; told for every request made with it. */
  | EventBase & { readonly kind: 'scopes-clamped'; readonly token: TokenRef; readonly removed: readonly string[] }
  | EventBase & { readonly kind: 'revoked-token-used'; readonly token: TokenRef; readonly revocation: string }
  | EventBase & { readonly kind: 'rotated-scope-used'; readonly token: TokenRef; readonly scope: string }

export type GovernanceListener = (event: GovernanceEvent) => void

/** Tells `listener` of `event`; a listener that throws must not fail the request that caused it. */
export function tell(listener: GovernanceListener | undefined, event: GovernanceEvent): void {
  try {
    listener?.(event)
  } catch {
    // The event is in the access log already; the subscriber's failure is its own.
  }
}

/**
 * The access-log leaf that says what a governance action changed and why; the request's access
 * record (same `request_id`, same atomic write) says who.
 */
export function governanceRecord(input: { action: string; requestId: string; time: Date; [member: string]: unknown }): Uint8Array {
  const { action, requestId, time, ...rest } = input
  return encodeUtf8(canonicalJson({ type: GOVERNANCE_RECORD_TYPE, action, ...rest, request_id: requestId, time: isoTime(time) }))
}
