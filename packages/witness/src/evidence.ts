import { decodeBase64Hash, encodeBase64, parseCheckpoint, parseNote } from '@annal/note'
import { bytesEqual, concatBytes, nobleHashProvider, verifyConsistency, type HashProvider } from '@annal/tlog'
import type { WitnessState } from './state.js'
import { WitnessError } from './errors.js'

/** A log-signed checkpoint the witness saw, with where and when it saw it. */
export interface SeenCheckpoint {
  readonly size: number
  readonly rootHash: Uint8Array
  /** The signed note as it arrived (or, for the witnessed state, as it was cosigned). */
  readonly note: string
  /** `cosigned` (the witnessed state), `add-checkpoint`, `gossip <peer URL>` or `submitted <address>`. */
  readonly source: string
  /** When the witness saw it, ISO 8601; undefined for the witnessed state. */
  readonly seen: string | undefined
}

/**
 * `same-size-different-roots`: two checkpoints of one size with different roots.
 * `inconsistent`: two sizes, and the larger tree's first `size` leaves (read from the log's
 * tiles, which hash to the larger checkpoint's root) have another root than the smaller one.
 */
export type EvidenceKind = 'same-size-different-roots' | 'inconsistent'

/** What the log's tiles showed, for `inconsistent` evidence: anyone can check it offline. */
export interface ConsistencyShown {
  /** The root of the first `size` leaves of the larger tree (not the smaller checkpoint's root). */
  readonly rootHash: Uint8Array
  /** RFC 9162 consistency proof from (size, rootHash) to the larger checkpoint. */
  readonly proof: readonly Uint8Array[]
}

/** Two checkpoints for one origin, both signed by the log, that cannot both be true. */
export interface Evidence {
  readonly origin: string
  readonly kind: EvidenceKind
  /** The common size; for `inconsistent`, the smaller size. */
  readonly size: number
  /** Both checkpoints, ordered by note text, so every witness stores the same pair. */
  readonly checkpoints: readonly [SeenCheckpoint, SeenCheckpoint]
  /** For `inconsistent` only. */
  readonly consistency?: ConsistencyShown
  /** When the second of them arrived, ISO 8601. */
  readonly detectedAt: string
  /** The route of the second: see SeenCheckpoint.source. */
  readonly detectedVia: string
  /** What the witness checked. */
  readonly tried: string
}

/** What a checkpoint, compared with what the witness holds for its origin, shows. */
export type Verdict =
  | { readonly kind: 'consistent' } // the witnessed size and root
  | { readonly kind: 'older' } // below the witnessed size: not compared here (see ConsistencyChecks)
  | { readonly kind: 'pending'; readonly pending: readonly SeenCheckpoint[] } // the new pending list
  | { readonly kind: 'known' } // a pending checkpoint already held
  | { readonly kind: 'ignored' } // above every pending one while the list is full: not kept
  | { readonly kind: 'conflict'; readonly with: SeenCheckpoint } // same size, another root

/** At most this many unverified checkpoints above the witnessed size are kept per origin. */
export const MAX_PENDING = 16

const EVIDENCE_TAG = 0x45 // 'E'
const PENDING_TAG = 0x50 // 'P'
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

function originKey(tag: number, origin: string, hash: HashProvider): Uint8Array {
  return concatBytes(Uint8Array.of(tag), hash.sha256(utf8.encode(origin)))
}

/** The storage key of an origin's evidence: 'E' then SHA-256(origin). */
export function evidenceKey(origin: string, hash: HashProvider = nobleHashProvider): Uint8Array {
  return originKey(EVIDENCE_TAG, origin, hash)
}

/** The storage key of an origin's pending checkpoints: 'P' then SHA-256(origin). */
export function pendingKey(origin: string, hash: HashProvider = nobleHashProvider): Uint8Array {
  return originKey(PENDING_TAG, origin, hash)
}

/** The witnessed state as a SeenCheckpoint. */
export function witnessed(state: WitnessState): SeenCheckpoint {
  return Object.freeze({ size: state.size, rootHash: state.rootHash, note: state.note, source: 'cosigned', seen: undefined })
}

/**
 * Compares a log-signed checkpoint with the witnessed state and the pending list (sorted by
 * size, all above the state). Equal size: same root is consistent, another root a conflict.
 * Below the state: older, not compared (a background check may, from the log's tiles). Above: a pending twin decides as at equal size;
 * otherwise it joins the list, which keeps the MAX_PENDING smallest sizes (else ignored).
 */
export function judge(seen: SeenCheckpoint, state: WitnessState | undefined,
    pending: readonly SeenCheckpoint[]): Verdict {
  if (state !== undefined && seen.size <= state.size) {
    if (seen.size < state.size) return { kind: 'older' }
    return bytesEqual(seen.rootHash, state.rootHash) ? { kind: 'consistent' } : { kind: 'conflict', with: witnessed(state) }
  }
  const twin = pending.find((p) => p.size === seen.size)
  if (twin !== undefined) return bytesEqual(twin.rootHash, seen.rootHash) ? { kind: 'known' } : { kind: 'conflict', with: twin }
  const next = [...pending, seen].sort((a, b) => a.size - b.size).slice(0, MAX_PENDING)
  return next.includes(seen) ? { kind: 'pending', pending: next } : { kind: 'ignored' }
}

/** Evidence from two checkpoints of one size with different roots. Requires exactly that (RangeError). */
export function sameSizeEvidence(origin: string, a: SeenCheckpoint, b: SeenCheckpoint, detectedAt: string): Evidence {
  if (a.size !== b.size || bytesEqual(a.rootHash, b.rootHash)) throw new RangeError('evidence needs one size and two roots')
  const checkpoints = (a.note < b.note ? [a, b] : [b, a]) as [SeenCheckpoint, SeenCheckpoint]
  return Object.freeze({
    origin,
    kind: 'same-size-different-roots',
    size: a.size,
    checkpoints: Object.freeze(checkpoints),
    detectedAt,
    detectedVia: b.source,
    tried: `both checkpoints verify with the log's configured key(s); a Merkle tree of size ${a.size} has one root, and their roots differ`,
  })
}

/**
 * Evidence from two log-signed checkpoints of different sizes (both above 0) and what the
 * larger one's tiles show: a proof from (smaller size, shown.rootHash) to the larger
 * checkpoint that verifies, with shown.rootHash not the smaller checkpoint's root. Requires
 * exactly that (RangeError otherwise).
 */
export function inconsistentEvidence(origin: string, a: SeenCheckpoint, b: SeenCheckpoint, shown: ConsistencyShown,
    detectedAt: string, detectedVia: string, tried: string): Evidence {
  checkInconsistent(a, b, shown, (message) => new RangeError(message))
  const checkpoints = (a.note < b.note ? [a, b] : [b, a]) as [SeenCheckpoint, SeenCheckpoint]
  return Object.freeze({
    origin,
    kind: 'inconsistent',
    size: Math.min(a.size, b.size),
    checkpoints: Object.freeze(checkpoints),
    consistency: Object.freeze({ rootHash: shown.rootHash, proof: Object.freeze([...shown.proof]) }),
    detectedAt,
    detectedVia,
    tried,
  })
}

function checkInconsistent(a: SeenCheckpoint, b: SeenCheckpoint, shown: ConsistencyShown,
    fail: (message: string) => Error): void {
  const [smaller, larger] = a.size < b.size ? [a, b] : [b, a]
  if (smaller.size === larger.size || smaller.size === 0) throw fail('evidence needs two sizes above 0')
  try {
    verifyConsistency(smaller.size, larger.size, shown.proof, shown.rootHash, larger.rootHash)
  } catch (error) {
    throw Object.assign(fail('the proof does not reach the larger checkpoint'), { cause: error })
  }
  if (bytesEqual(shown.rootHash, smaller.rootHash)) throw fail('the two checkpoints are consistent')
}

function seenToJson(seen: SeenCheckpoint): Record<string, unknown> {
  return { size: seen.size, root_hash: encodeBase64(seen.rootHash), note: seen.note, source: seen.source, seen: seen.seen ?? null }
}

/** Evidence as served at /v1/evidence and stored (snake_case JSON). */
export function evidenceToJson(evidence: Evidence): Record<string, unknown> {
  return {
    origin: evidence.origin,
    kind: evidence.kind,
    size: evidence.size,
    checkpoints: evidence.checkpoints.map(seenToJson),
    ...(evidence.consistency === undefined ? {} : {
      consistency: { root_hash: encodeBase64(evidence.consistency.rootHash), proof: evidence.consistency.proof.map(encodeBase64) },
    }),
    detected_at: evidence.detectedAt,
    detected_via: evidence.detectedVia,
    tried: evidence.tried,
  }
}

function corrupt(message: string, cause?: unknown): WitnessError {
  return new WitnessError('CORRUPTION', message, { cause })
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(bytes))
  } catch (error) {
    throw corrupt(`stored ${what} is not JSON`, error)
  }
}

/** A stored SeenCheckpoint; its note must be a checkpoint of its size and root. Throws CORRUPTION. */
function seenFromJson(value: unknown): SeenCheckpoint {
  const { size, root_hash: root, note, source, seen } = (value ?? {}) as Record<string, unknown>
  const rootHash = typeof root === 'string' ? decodeBase64Hash(root) : undefined
  if (!Number.isSafeInteger(size) || (size as number) < 0 || rootHash === undefined || typeof note !== 'string'
      || typeof source !== 'string' || (seen !== null && typeof seen !== 'string')) {
    throw corrupt('stored checkpoint has bad fields')
  }
  let checkpoint
  try {
    checkpoint = parseCheckpoint(parseNote(note).text)
  } catch (error) {
    throw corrupt('stored checkpoint is malformed', error)
  }
  if (checkpoint.size !== size || !bytesEqual(checkpoint.rootHash, rootHash)) throw corrupt('stored checkpoint disagrees with its note')
  return Object.freeze({ size: size as number, rootHash, note, source, seen: seen ?? undefined })
}

export function encodeEvidence(evidence: Evidence): Uint8Array {
  return utf8.encode(JSON.stringify(evidenceToJson(evidence)))
}

/** Reads stored evidence back; throws CORRUPTION. */
export function decodeEvidence(bytes: Uint8Array): Evidence {
  const value = (parseJson(bytes, 'evidence') ?? {}) as Record<string, unknown>
  const { origin, kind, size, checkpoints, consistency, detected_at: at, detected_via: via, tried } = value
  if (typeof origin !== 'string' || (kind !== 'same-size-different-roots' && kind !== 'inconsistent')
      || !Array.isArray(checkpoints) || checkpoints.length !== 2 || typeof at !== 'string' || typeof via !== 'string'
      || typeof tried !== 'string' || (kind === 'inconsistent') !== (consistency !== undefined)) {
    throw corrupt('stored evidence has bad fields')
  }
  const [a, b] = checkpoints.map(seenFromJson) as [SeenCheckpoint, SeenCheckpoint]
  const pair = Object.freeze([a, b] as const)
  if (kind === 'same-size-different-roots') {
    if (a.size !== size || b.size !== size || bytesEqual(a.rootHash, b.rootHash)) throw corrupt('stored evidence shows no conflict')
    return Object.freeze({ origin, kind, size, checkpoints: pair, detectedAt: at, detectedVia: via, tried })
  }
  const shown = consistencyFromJson(consistency)
  if (size !== Math.min(a.size, b.size)) throw corrupt('stored evidence has bad fields')
  checkInconsistent(a, b, shown, (message) => corrupt(`stored evidence shows no conflict: ${message}`))
  return Object.freeze({ origin, kind, size, checkpoints: pair, consistency: shown, detectedAt: at, detectedVia: via, tried })
}

function consistencyFromJson(value: unknown): ConsistencyShown {
  const { root_hash: root, proof } = (value ?? {}) as Record<string, unknown>
  const rootHash = typeof root === 'string' ? decodeBase64Hash(root) : undefined
  const hashes = Array.isArray(proof) && proof.length <= 64
    ? proof.map((hash) => (typeof hash === 'string' ? decodeBase64Hash(hash) : undefined)) : undefined
  if (rootHash === undefined || hashes === undefined || hashes.some((hash) => hash === undefined)) {
    throw corrupt('stored evidence has a bad consistency proof')
  }
  return Object.freeze({ rootHash, proof: Object.freeze(hashes as Uint8Array[]) })
}

export function encodePending(pending: readonly SeenCheckpoint[]): Uint8Array {
  return utf8.encode(JSON.stringify(pending.map(seenToJson)))
}

/** Reads a stored pending list back; throws CORRUPTION. */
export function decodePending(bytes: Uint8Array): SeenCheckpoint[] {
  const value = parseJson(bytes, 'pending list')
  if (!Array.isArray(value) || value.length > MAX_PENDING) throw corrupt('stored pending list has bad fields')
  return value.map(seenFromJson)
}
