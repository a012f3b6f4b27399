import {
  NoteError, cosignCheckpoint, formatSignatureLine, isCosignatureSigner, openCheckpoint, signNote,
  type CosignatureSigner, type NoteErrorCode, type NoteSignature, type NoteVerifier, type VerifiedCheckpoint,
  type AddCheckpointRequest,
} from '@annal/note'
import {
  TlogError, bytesEqual, defaultHasher, verifyConsistency, type MerkleHasher, type TlogErrorCode,
} from '@annal/tlog'
import type { WitnessErrorCode } from './errors.js'
import type { WitnessState } from './state.js'

/** A log the witness follows: its origin line and the keys it trusts for it. */
export interface WitnessedLog {
  readonly origin: string
  readonly verifiers: readonly NoteVerifier[]
}

export interface DecideInput {
  readonly request: AddCheckpointRequest
  /** The configured log for request.origin; undefined when the origin is unknown. */
  readonly log: WitnessedLog | undefined
  /** The latest checkpoint cosigned for the origin; undefined if none ever was. */
  readonly state: WitnessState | undefined
  readonly signer: CosignatureSigner
  /** The cosignature's timestamp, POSIX seconds, at least 1. */
  readonly timestamp: number
  readonly hasher?: MerkleHasher
}

/** All checks passed: answer `body` with 200 once `next` is stored. */
export interface Cosigned {
  readonly status: 200
  readonly checkpoint: VerifiedCheckpoint
  readonly cosignature: NoteSignature
  /** The response body: the witness's cosignature line. */
  readonly body: string
  /** The state to store, by compare-and-swap against the state decided on. */
  readonly next: WitnessState
}

/** Why add-checkpoint was refused: the witness's own reason, or the note or proof check that failed. */
export type RefusalCode = WitnessErrorCode | NoteErrorCode | TlogErrorCode

/** A refusal with the status tlog-witness names. `size` is set for 409 only. */
export interface Refused {
  readonly status: 400 | 403 | 404 | 409 | 422
  readonly code: RefusalCode
  readonly message: string
  readonly size?: number
}

export type AddCheckpointOutcome = Cosigned | Refused

function refuse(status: Refused['status'], code: RefusalCode, message: string): Refused {
  return Object.freeze({ status, code, message })
}

/** Opens the note with the log's keys: 403 when no trusted signature verifies, 400 for syntax. */
function open(request: AddCheckpointRequest, log: WitnessedLog): VerifiedCheckpoint | Refused {
  try {
    // The trusted keys are configured per origin, so their names need not equal it.
    return openCheckpoint(request.note, log.verifiers, { keyNameMustMatchOrigin: false })
  } catch (error) {
    // A size above 2^53 - 1 is a TlogError, the rest NoteErrors.
    if (!(error instanceof NoteError || error instanceof TlogError)) throw error
    const forbidden = error.code === 'NOTE_UNVERIFIED' || error.code === 'SIGNATURE_INVALID'
    return refuse(forbidden ? 403 : 400, error.code, error.message)
  }
}

/** The consistency checks, in the order tlog-witness states them. Undefined when all pass. */
function checkConsistency(request: AddCheckpointRequest, checkpoint: VerifiedCheckpoint,
    state: WitnessState | undefined, hasher: MerkleHasher): Refused | undefined {
  const { oldSize, proof } = request
  // "The old size MUST be equal to or lower than the checkpoint size. Otherwise ... 400".
  if (oldSize > checkpoint.size) return refuse(400, 'SIZE_OUT_OF_RANGE', 'old size is above the checkpoint size')
  // "...matches the size of the latest checkpoint it cosigned ... (or zero ...)": else 409 with that size.
  const known = state?.size ?? 0
  if (oldSize !== known) {
    const message = 'old size is not the witnessed size'
    return Object.freeze({ status: 409, code: 'OLD_SIZE_MISMATCH', message, size: known })
  }
  // "A checkpoint of size zero MUST have the root hash of the empty tree" (422).
  if (checkpoint.size === 0 && !bytesEqual(checkpoint.rootHash, hasher.emptyRoot)) {
    return refuse(422, 'PROOF_ROOT_MISMATCH', 'a checkpoint of size 0 must have the empty tree root')
  }
  // "If the old size is zero, the consistency proof MUST be empty" (422).
  if (oldSize === 0 && proof.length > 0) return refuse(422, 'PROOF_MALFORMED', 'proof must be empty from size 0')
  // The proof must verify (422); at equal sizes it is empty and the roots must match (422).
  try {
    verifyConsistency(oldSize, checkpoint.size, proof, state?.rootHash ?? hasher.emptyRoot, checkpoint.rootHash, hasher)
  } catch (error) {
    if (!(error instanceof TlogError)) throw error
    return refuse(422, error.code, error.message)
  }
  return undefined
}

/**
 * tlog-witness §add-checkpoint, as a pure function: whether to cosign `request` given the
 * configured log and the stored state, and with what. Checks, in the spec's order: unknown
 * origin (404); no trusted signature verifies (403; 400 for a note that does not parse);
 * old size above the checkpoint size (400); old size other than the witnessed size (409 with
 * that size); a size-0 checkpoint without the empty root, a proof from old size 0, a proof
 * that does not verify, or equal sizes with different roots (422). Otherwise 200 with a
 * cosignature at `timestamp`; resubmitting the witnessed size and root is cosigned again.
 * Throws RangeError for a timestamp below 1, TypeError for a signer that is not cosignature/v1.
 */
export function decideAddCheckpoint(input: DecideInput): AddCheckpointOutcome {
  const { request, log, state, signer, timestamp } = input
  const hasher = input.hasher ?? defaultHasher
  if (!isCosignatureSigner(signer)) throw new TypeError('signer must be a cosignature/v1 signer')
  if (!Number.isSafeInteger(timestamp) || timestamp < 1) throw new RangeError('timestamp must be a positive integer')
  if (log === undefined || log.origin !== request.origin) return refuse(404, 'LOG_NOT_FOUND', 'unknown origin')
  const checkpoint = open(request, log)
  if ('status' in checkpoint) return checkpoint
  const refused = checkConsistency(request, checkpoint, state, hasher)
  if (refused !== undefined) return refused
  const cosignature = cosignCheckpoint(checkpoint, signer, timestamp)
  // Stored and served: the body, the log signatures that verified, and this cosignature.
  const note = signNote(checkpoint.body, [], [...checkpoint.signatures, cosignature])
  const next = Object.freeze({ size: checkpoint.size, rootHash: checkpoint.rootHash, note })
  return Object.freeze({ status: 200, checkpoint, cosignature, body: formatSignatureLine(cosignature), next })
}
