// The access log's records: canonical JSON of who called what, and how it was answered.
import { canonicalJson, canonicalString } from './canonical-json.js'
import type { Principal } from './auth.js'
import { isoTime, principalJson } from './envelope.js'
import { encodeUtf8 } from './internal/utf8.js'

export const ACCESS_RECORD_TYPE = 'annal.access/v1'

export interface AccessRecordInput {
  readonly time: Date
  readonly requestId: string
  /** Absent when the HTTP parser refused the request before reading it. */
  readonly method?: string
  readonly route?: string
  readonly log?: string
  /** The object (`sha256:<hex>`) an object route read or erased. */
  readonly object?: string
  readonly status: number
  readonly code?: string
  readonly requiredScope?: string
  readonly authorizedBy?: string
  /** Scopes the token carried beyond its client's ceiling, cut off (see AppOptions.scopeCeilings). */
  readonly clampedScopes?: readonly string[]
  readonly principal?: Principal
  /** The presented token's fingerprint, also when the token was refused. */
  readonly fingerprint?: string
  readonly reason?: string
  readonly remoteAddress?: string
  /** The answer replayed an earlier request's (Idempotency-Key): nothing was appended. */
  readonly replayed?: boolean
  readonly userAgent?: string
}

/**
 * An access-log leaf: RFC 8785 canonical JSON of the request's members (testing/records.ts holds it to a plain canonicalJson of them), never a token or a body;
 * written member by member in sorted order, absent members left out.
 */
export function accessRecordBytes(input: AccessRecordInput): Uint8Array {
  const principal = input.principal
  const who = principal === undefined ? undefined : principalJson(principal)
  const token = input.fingerprint === undefined ? undefined
    : input.fingerprint === principal?.fingerprint ? who!.token
      : canonicalJson({ jti: principal?.jti, sha256: input.fingerprint })
  // Members in sorted order; `member` leaves out the absent ones.
  let text = member('{', 'actor', who?.actor)
  text = member(text, 'authorized_by', jsonString(input.authorizedBy))
  text = member(text, 'clamped_scopes', input.clampedScopes === undefined ? undefined : canonicalJson(input.clampedScopes))
  text = member(text, 'code', jsonString(input.code))
  text = member(text, 'log', jsonString(clip(input.log, 128)))
  text = member(text, 'method', jsonString(input.method))
  text = member(text, 'object', jsonString(clip(input.object, 128)))
  text = member(text, 'reason', jsonString(input.reason))
  text = member(text, 'remote_address', jsonString(input.remoteAddress))
  text = member(text, 'replayed', input.replayed === true ? 'true' : undefined)
  text = member(text, 'request_id', canonicalString(input.requestId))
  text = member(text, 'required_scope', jsonString(input.requiredScope))
  text = member(text, 'route', jsonString(input.route))
  text = member(text, 'scopes', who?.scopes)
  text = member(text, 'status', canonicalJson(input.status))
  text = member(text, 'time', `"${isoTime(input.time)}"`)
  text = member(text, 'token', token)
  text = member(text, 'type', `"${ACCESS_RECORD_TYPE}"`)
  text = member(text, 'user_agent', jsonString(clip(input.userAgent, 256)))
  return encodeUtf8(`${text}}`)
}

/** `text` (an object's opening brace and the members so far) with `name` added, unless `json` is absent. */
function member(text: string, name: string, json: string | undefined): string {
  if (json === undefined) return text
  return `${text}${text.length === 1 ? '' : ','}"${name}":${json}`
}

function jsonString(value: string | undefined): string | undefined {
  return value === undefined ? undefined : canonicalString(value)
}

/** At most `max` code points of `text`, so a record stays small and never splits a surrogate pair. */
export function clip(text: string | undefined, max: number): string | undefined {
  if (text === undefined || text.length <= max) return text
  return Array.from(text).slice(0, max).join('')
}
