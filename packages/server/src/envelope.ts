import type { Principal } from './auth.js'
import { canonicalJson, canonicalString } from './canonical-json.js'
import { encodeUtf8 } from './internal/utf8.js'

const utf8 = new TextEncoder()

export const ENVELOPE_TYPE = 'annal.event/v1'

export interface EnvelopeInput {
  /** `sha256:<hex>` of the stored event. */
  readonly object: string
  readonly size: number
  readonly contentType: string
  readonly time: Date
  readonly requestId: string
  /** 1-based line of an NDJSON batch. */
  readonly line?: number
  readonly principal: EnvelopePrincipal
  /** The granted scope that allowed the append. */
  readonly scope: string
}

/**
 * Who appended: a verified token's principal, or for an append made on the ledger itself
 * (`annal append` without a server) an actor without a token, whose `token` member is `{}`.
 */
export type EnvelopePrincipal = Pick<Principal, 'iss' | 'sub' | 'clientId' | 'jti' | 'scopes'> & { readonly fingerprint?: string }

/** Who acted, as RFC 9068 claims name it; absent claims are left out. */
function actor(principal: EnvelopePrincipal): Record<string, string | undefined> {
  return { iss: principal.iss, sub: principal.sub, client_id: principal.clientId }
}

/** The token, by `jti` and SHA-256 fingerprint; never the token. */
function token(principal: EnvelopePrincipal): Record<string, string | undefined> {
  return { jti: principal.jti, sha256: principal.fingerprint }
}

let formattedMs = Number.NaN
let formatted = ''

/**
 * `time` in RFC 3339 with milliseconds (toISOString). An append formats its time for its
 * envelopes and again for its access record, and requests often share a millisecond.
 */
export function isoTime(time: Date): string {
  const ms = time.getTime()
  if (ms !== formattedMs) {
    formatted = time.toISOString()
    formattedMs = ms
  }
  return formatted
}

/** A principal's members of envelopes and access records, as canonical JSON. */
export interface PrincipalJson {
  readonly actor: string
  readonly token: string
  readonly scopes: string
}

// Verified principals are cached with their tokens, so each is rendered once, not per request.
const renderedPrincipals = new WeakMap<EnvelopePrincipal, PrincipalJson>()

export function principalJson(principal: EnvelopePrincipal): PrincipalJson {
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

/**
 * The leaf appended for an event: RFC 8785 canonical JSON of its members, written in sorted order
 * (see docs/api.md, "The envelope"; testing/records.ts holds it to a plain canonicalJson of them).
 */
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
