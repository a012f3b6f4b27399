import type { Principal } from './auth.js'
import { canonicalJson, canonicalString } from './canonical-json.js'
import { encodeUtf8 } from './internal/utf8.js'

const utf8 = new TextEncoder()

export const ENVELOPE_TYPE = 'annal.event/v1'
export const ACCESS_RECORD_TYPE = 'annal.access/v1'

export interface EnvelopeInput {
  /** `sha256:<hex>` of the stored event. */
  readonly object: string
  readonly size: number
  readonly contentType: string
  readonly time: Date
  readonly requestId: string
  /** 1-based line of an NDJSON batch. */
  readonly line?: number
  readonly principal: Principal
  /** The granted scope that allowed the append. */
  readonly scope: string
}

/** Who acted, as RFC 9068 claims name it; absent claims are left out. */
function actor(principal: Principal): Record<string, string | undefined> {
  return { iss: principal.iss, sub: principal.sub, client_id: principal.clientId }
}

/** The token, by `jti` and SHA-256 fingerprint; never the token. */
function token(principal: Principal): Record<string, string | undefined> {
  return { jti: principal.jti, sha256: principal.fingerprint }
}

/** An event's envelope as a value: what envelopeBytes writes as canonical JSON (tests hold it to that). */
export function envelopeValue(input: EnvelopeInput): Record<string, unknown> {
  return {
    type: ENVELOPE_TYPE,
    time: input.time.toISOString(),
    request_id: input.requestId,
    line: input.line,
    object: { hash: input.object, size: input.size, content_type: input.contentType },
    actor: actor(input.principal),
    token: token(input.principal),
    scope: input.scope,
    scopes: [...input.principal.scopes],
  }
}

let formattedMs = Number.NaN
let formatted = ''

/**
 * `time` in RFC 3339 with milliseconds (toISOString). An append formats its time for its
 * envelopes and again for its access record, and requests often share a millisecond.
 */
function isoTime(time: Date): string {
  const ms = time.getTime()
  if (ms !== formattedMs) {
    formatted = time.toISOString()
    formattedMs = ms
  }
  return formatted
}

/** A principal's members of envelopes and access records, as canonical JSON. */
interface PrincipalJson {
  readonly actor: string
  readonly token: string
  readonly scopes: string
}

// Verified principals are cached with their tokens, so each is rendered once, not per request.
const renderedPrincipals = new WeakMap<Principal, PrincipalJson>()

function principalJson(principal: Principal): PrincipalJson {
  let rendered = renderedPrincipals.get(principal)
  if (rendered === undefined) {
    rendered = {
      actor: canonicalJson(actor(principal)), token: canonicalJson(token(principal)), scopes: canonicalJson([...principal.scopes]),
    }
    renderedPrincipals.set(principal, rendered)
  }
  return rendered
}

/**
 * The canonical JSON of an envelope's members before and after `line` and `object`, which are
 * the same for every event of a request: members written in sorted order rather than sorted
 * per call (`actor` < `line` < `object` < `request_id` < ... < `type`).
 */
function envelopeFrame(input: Omit<EnvelopeInput, 'object' | 'size' | 'line'>): { head: string; tail: string } {
  const who = principalJson(input.principal)
  return {
    head: `{"actor":${who.actor},`,
    tail: `,"request_id":${canonicalString(input.requestId)},"scope":${canonicalString(input.scope)},"scopes":${who.scopes},` +
      `"time":"${isoTime(input.time)}","token":${who.token},"type":"${ENVELOPE_TYPE}"}`,
  }
}

/** The leaf appended for an event: RFC 8785 canonical JSON of envelopeValue (see docs/api.md, "The envelope"). */
export function envelopeBytes(input: EnvelopeInput): Uint8Array {
  const { head, tail } = envelopeFrame(input)
  const line = input.line === undefined ? '' : `"line":${input.line},`
  return encodeUtf8(`${head}${line}"object":{"content_type":${canonicalString(input.contentType)},` +
    `"hash":${canonicalString(input.object)},"size":${input.size}}${tail}`)
}

/** What varies between the envelopes of an NDJSON batch's events. */
export interface EnvelopeEvent {
  readonly object: string
  readonly size: number
  readonly line: number
}

/**
 * envelopeBytes for the events of one NDJSON batch, which differ only in object hash, size and
 * line: the frame around them is encoded once, and a batch's envelopes share one allocation (a
 * property test checks the output against envelopeBytes byte for byte; canonicalising every
 * envelope whole had taken a fifth of an NDJSON append's time). `object` must be `sha256:` and
 * hex (no escaping), size and line integers.
 */
export function envelopeTemplate(input: Omit<EnvelopeInput, 'object' | 'size' | 'line'>):
    (events: readonly EnvelopeEvent[]) => Uint8Array[] {
  const frame = envelopeFrame(input)
  const head = utf8.encode(frame.head)
  const tail = utf8.encode(frame.tail)
  const contentType = canonicalString(input.contentType)
  return (events) => {
    const middles = events.map((event) => `"line":${event.line},"object":` +
      `{"content_type":${contentType},"hash":"${event.object}","size":${event.size}}`)
    const lengths = middles.map((middle) => Buffer.byteLength(middle))
    const slab = Buffer.allocUnsafeSlow(lengths.reduce((sum, length) => sum + head.length + length + tail.length, 0))
    let at = 0
    return middles.map((middle) => {
      const start = at
      slab.set(head, at)
      at += head.length
      at += slab.write(middle, at)
      slab.set(tail, at)
      at += tail.length
      return new Uint8Array(slab.buffer, slab.byteOffset + start, at - start)
    })
  }
}

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
  readonly principal?: Principal
  /** The presented token's fingerprint, also when the token was refused. */
  readonly fingerprint?: string
  readonly reason?: string
  readonly remoteAddress?: string
  /** The answer replayed an earlier request's (Idempotency-Key): nothing was appended. */
  readonly replayed?: boolean
  readonly userAgent?: string
}

/** An access record as a value: what accessRecordBytes writes as canonical JSON (tests hold it to that). */
export function accessRecordValue(input: AccessRecordInput): Record<string, unknown> {
  const principal = input.principal
  return {
    type: ACCESS_RECORD_TYPE,
    time: input.time.toISOString(),
    request_id: input.requestId,
    method: input.method,
    route: input.route,
    log: clip(input.log, 128),
    object: clip(input.object, 128),
    status: input.status,
    code: input.code,
    required_scope: input.requiredScope,
    authorized_by: input.authorizedBy,
    scopes: principal === undefined ? undefined : [...principal.scopes],
    actor: principal === undefined ? undefined : actor(principal),
    token: input.fingerprint === undefined ? undefined : { jti: principal?.jti, sha256: input.fingerprint },
    reason: input.reason,
    remote_address: input.remoteAddress,
    replayed: input.replayed === true ? true : undefined,
    user_agent: clip(input.userAgent, 256),
  }
}

/**
 * An access-log leaf: RFC 8785 canonical JSON of accessRecordValue, never a token or a body;
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
function clip(text: string | undefined, max: number): string | undefined {
  if (text === undefined || text.length <= max) return text
  return Array.from(text).slice(0, max).join('')
}
