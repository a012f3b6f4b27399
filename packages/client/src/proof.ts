import { HASH_SIZE, defaultHasher, verifyInclusion } from '@annal/tlog'
import { checkpointOrigin, translate, verifyCheckpoint, type TrustedCheckpoint } from './checkpoint.js'
import { ClientError } from './errors.js'
import { decodeBase64, encodeBase64 } from './internal/base64.js'
import { decodeText, parseDecimal } from './internal/text.js'
import type { Policy } from './policy.js'

/** The first line of every proof (tlog-proof §Format). */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1'

/** The parts of a C2SP tlog-proof. Syntax only: nothing here is verified. */
export interface TlogProof {
  /** Opaque, unauthenticated data for the application; never trust it. */
  readonly extra?: Uint8Array | undefined
  /** The entry's zero-based index in the log. */
  readonly index: number
  /** The RFC 6962 inclusion proof, from the leaf's sibling up to a child of the root. */
  readonly hashes: readonly Uint8Array[]
  /** The checkpoint note, verbatim, with its signature lines. */
  readonly checkpoint: string
}

/** A proof that verified: the entry at `index` is in a checkpoint the policy trusts. */
export interface VerifiedProof {
  readonly index: number
  readonly leafHash: Uint8Array
  readonly trusted: TrustedCheckpoint
  /** As found in the proof: not authenticated by anything. */
  readonly extra: Uint8Array | undefined
}

/**
 * Formats a tlog-proof (tlog-proof §Format). Requires a safe non-negative integer index,
 * 32-byte hashes and a checkpoint note with a blank line before its signatures, else
 * RangeError. The checkpoint is written verbatim.
 */
export function formatProof(proof: TlogProof): string {
  const { extra, index, hashes, checkpoint } = proof
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('index must be a safe non-negative integer')
  if (hashes.some((hash) => !(hash instanceof Uint8Array) || hash.length !== HASH_SIZE)) {
    throw new RangeError(`inclusion hashes must be ${HASH_SIZE} bytes`)
  }
  if (typeof checkpoint !== 'string' || !checkpoint.includes('\n\n')) throw new RangeError('checkpoint must be a signed note')
  const lines = [TLOG_PROOF_HEADER]
  if (extra !== undefined) lines.push(`extra ${encodeBase64(extra)}`)
  lines.push(`index ${index}`, ...hashes.map(encodeBase64), '')
  return `${lines.join('\n')}\n${checkpoint}`
}

function malformed(message: string, line: number): ClientError {
  return new ClientError('PROOF_MALFORMED', message, { line })
}

/**
 * Parses a tlog-proof strictly: the header line, an optional `extra <base64>` line, `index
 * <decimal>` without leading zeros, one canonical base64 32-byte hash a line, an empty line,
 * then a checkpoint note. Throws ClientError PROOF_MALFORMED (with the 1-based `line`) or
 * CHECKPOINT_MALFORMED.
 */
export function parseProof(input: string | Uint8Array): TlogProof {
  const text = decodeText(input, 'PROOF_MALFORMED', 'the proof')
  const split = text.indexOf('\n\n')
  if (split < 0) throw malformed('no empty line before the checkpoint', text.split('\n').length)
  const lines = text.slice(0, split).split('\n')
  if (lines[0] !== TLOG_PROOF_HEADER) throw malformed(`the first line must be ${TLOG_PROOF_HEADER}`, 1)
  let next = 1
  let extra: Uint8Array | undefined
  if (lines[next]?.startsWith('extra ')) {
    extra = decodeBase64(lines[next]!.slice('extra '.length))
    if (extra === undefined) throw malformed('extra is not canonical base64', next + 1)
    next++
  }
  const indexLine = lines[next] ?? ''
  const index = indexLine.startsWith('index ') ? parseDecimal(indexLine.slice('index '.length)) : undefined
  if (index === undefined) throw malformed('expected index <decimal> without leading zeros', next + 1)
  const hashes = lines.slice(next + 1).map((line, i) => {
    const hash = decodeBase64(line)
    if (hash === undefined || hash.length !== HASH_SIZE) throw malformed('expected a canonical base64 hash of 32 bytes, or the empty line before the checkpoint', next + i + 2)
    return hash
  })
  const checkpoint = text.slice(split + 2)
  checkpointOrigin(checkpoint)
  return Object.freeze({ extra, index, hashes: Object.freeze(hashes), checkpoint })
}

/**
 * Verifies a tlog-proof for `entry` (the leaf's bytes) against a trust policy, in the order
 * of tlog-proof §Verifying: compute the RFC 6962 leaf hash, check the origin and the log
 * signature, the cosignatures of known witnesses and the quorum, then the inclusion proof.
 * The `extra` line is returned as found and plays no part.
 * Throws ClientError PROOF_MALFORMED, CHECKPOINT_MALFORMED, LOG_UNKNOWN, SIGNATURE_INVALID,
 * QUORUM_UNMET or INCLUSION_FAILED.
 */
export function verifyProof(input: string | Uint8Array | TlogProof, entry: Uint8Array, policy: Policy): VerifiedProof {
  if (!(entry instanceof Uint8Array)) throw new TypeError('entry must be a Uint8Array')
  const proof = typeof input === 'string' || input instanceof Uint8Array ? parseProof(input) : input
  const leafHash = defaultHasher.leaf(entry)
  const trusted = verifyCheckpoint(proof.checkpoint, policy)
  verifyIncluded(proof.index, leafHash, proof.hashes, trusted)
  return Object.freeze({ index: proof.index, leafHash, trusted, extra: proof.extra })
}

/**
 * Checks that `hashes` prove `leafHash` at `index` in the trusted checkpoint's tree.
 * Throws ClientError INCLUSION_FAILED.
 */
export function verifyIncluded(index: number, leafHash: Uint8Array, hashes: readonly Uint8Array[],
    trusted: TrustedCheckpoint): void {
  const { size, rootHash } = trusted.checkpoint
  try {
    verifyInclusion(index, size, leafHash, hashes, rootHash)
  } catch (error) {
    translate(error, {
      SIZE_OUT_OF_RANGE: 'INCLUSION_FAILED', PROOF_MALFORMED: 'INCLUSION_FAILED', HASH_MALFORMED: 'INCLUSION_FAILED',
      PROOF_ROOT_MISMATCH: 'INCLUSION_FAILED',
    }, `entry ${index} is not proven in the checkpoint of size ${size}`)
  }
}
