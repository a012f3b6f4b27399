import { formatTlogProof, isNoteError, parseTlogProof, type TlogProof } from '@annal/note'
import { defaultHasher, verifyInclusion } from '@annal/tlog'
import { CHECKPOINT_SYNTAX, translate, verifyCheckpoint, type TrustedCheckpoint } from './checkpoint.js'
import { ClientError } from './errors.js'
import type { Policy } from './policy.js'

/** A proof that verified: the entry at `index` is in a checkpoint the policy trusts. */
export interface VerifiedProof {
  readonly index: number
  readonly leafHash: Uint8Array
  readonly trusted: TrustedCheckpoint
  /** As found in the proof: not authenticated by anything. */
  readonly extra: Uint8Array | undefined
}

/**
 * Formats a tlog-proof (tlog-proof §Format), as `formatTlogProof` of @annal/note. Requires a
 * safe non-negative integer index, 32-byte hashes and a checkpoint note with a blank line
 * before its signatures, else RangeError. The checkpoint is written verbatim.
 */
export function formatProof(proof: TlogProof): string {
  return formatTlogProof(proof)
}

// NoteError writes the line into its message; ClientError writes it again from `line`.
const LINE_PREFIX = /^line \d+: /

/**
 * Parses a tlog-proof strictly, as `parseTlogProof` of @annal/note: the header line, an
 * optional `extra <base64>` line, `index <decimal>` without leading zeros, one canonical base64
 * 32-byte hash a line, an empty line, then a checkpoint note. Throws ClientError PROOF_MALFORMED
 * (with the 1-based `line`) or CHECKPOINT_MALFORMED.
 */
export function parseProof(input: string | Uint8Array): TlogProof {
  try {
    return parseTlogProof(input)
  } catch (error) {
    if (isNoteError(error, 'PROOF_FILE_MALFORMED')) {
      const options = error.line === undefined ? { cause: error } : { line: error.line, cause: error }
      throw new ClientError('PROOF_MALFORMED', error.message.replace(LINE_PREFIX, ''), options)
    }
    return translate(error, CHECKPOINT_SYNTAX, 'the checkpoint does not parse')
  }
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
