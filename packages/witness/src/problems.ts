import { BodyError, INTERNAL_PROBLEM, problemBody, type BodyErrorCode, type Problem, type ProblemBody } from '@annal/http'
import { NoteError, type NoteErrorCode } from '@annal/note'
import { StorageError, type StorageErrorCode } from '@annal/storage'
import { TlogError, type TlogErrorCode } from '@annal/tlog'
import type { RefusalCode, Refused } from './decide.js'
import { WitnessError, type WitnessErrorCode } from './errors.js'

/** Every code the witness's HTTP API can meet: its own and those of the layers it stands on. */
export type WitnessProblemCode = WitnessErrorCode | BodyErrorCode | StorageErrorCode | NoteErrorCode | TlogErrorCode

/**
 * How each error code thrown outside the add-checkpoint decision is answered (refusals carry
 * the status tlog-witness names, and take only their title from here). Exhaustive: a new code
 * in any layer fails the typecheck here.
 */
export const WITNESS_PROBLEMS: Record<WitnessProblemCode, Problem> = {
  LOG_NOT_FOUND: { status: 404, title: 'Unknown log' },
  ROUTE_NOT_FOUND: { status: 404, title: 'Not found' },
  OLD_SIZE_MISMATCH: { status: 409, title: 'Old size is not the witnessed size' },
  EVIDENCE_HELD: { status: 403, title: 'Split-view evidence held; cosigning stopped' },
  NOTE_TOO_LARGE: { status: 413, title: 'Note too large' },
  GOSSIP_MALFORMED: { status: 502, title: 'Malformed gossip from a peer' },
  PEER_FAILED: { status: 502, title: 'Peer failed' },
  WEBHOOK_FAILED: { status: 502, title: 'Alert webhook failed' },
  CORRUPTION: { status: 500, title: 'Storage corruption' },
  BODY_TOO_LARGE: { status: 413, title: 'Body too large' },
  BODY_MALFORMED: { status: 400, title: 'Malformed body' },
  BODY_TIMEOUT: { status: 408, title: 'Body too slow' },
  SWAP_CONFLICT: { status: 503, title: 'Concurrent write; retry' },
  DATABASE_LOCKED: { status: 503, title: 'Database locked' },
  DATABASE_CLOSED: { status: 503, title: 'Database closed' },
  STORAGE_UNWRITABLE: { status: 503, title: 'The witness cannot store what it cosigns now; retry later' },
  STORAGE_UNREADABLE: { status: 503, title: 'The witness cannot read its storage now; retry later' },
  DATABASE_UNSUPPORTED: { status: 503, title: 'Database laid out by a newer Annal' },
  NOTE_MALFORMED: { status: 400, title: 'Malformed signed note' },
  NOTE_UNVERIFIED: { status: 403, title: 'No trusted signature' },
  SIGNATURE_INVALID: { status: 403, title: 'Invalid signature' },
  KEY_MALFORMED: { status: 500, title: 'Malformed key' },
  CHECKPOINT_MALFORMED: { status: 400, title: 'Malformed checkpoint' },
  COSIGNATURE_MALFORMED: { status: 400, title: 'Malformed cosignature' },
  ADD_CHECKPOINT_MALFORMED: { status: 400, title: 'Malformed add-checkpoint request' },
  ADD_CHECKPOINT_TOO_LARGE: { status: 413, title: 'Add-checkpoint request too large' },
  PROOF_FILE_MALFORMED: { status: 400, title: 'Malformed tlog-proof file' },
  SIZE_OUT_OF_RANGE: { status: 400, title: 'Size out of range' },
  PROOF_MALFORMED: { status: 422, title: 'Malformed consistency proof' },
  PROOF_ROOT_MISMATCH: { status: 422, title: 'Consistency proof does not reach the root' },
  HASH_MALFORMED: { status: 400, title: 'Malformed hash' },
  TILE_PATH_MALFORMED: { status: 400, title: 'Malformed tile path' },
  TILE_MALFORMED: { status: 502, title: 'Malformed tile from the log' },
  TILE_NOT_FOUND: { status: 502, title: 'Tile not found at the log' },
}

/** A refusal decided by decideAddCheckpoint, thrown so that onError answers it with its status. */
export class WitnessRefusal extends Error {
  readonly code: RefusalCode
  readonly status: Refused['status']

  constructor(refused: Refused) {
    super(refused.message)
    this.name = 'WitnessRefusal'
    this.code = refused.code
    this.status = refused.status
  }
}

/** The problem body for `error`: a refusal with its own status, a known error by the table, else internal. */
export function witnessProblem(error: unknown): ProblemBody {
  if (error instanceof WitnessRefusal) {
    return problemBody(error.code, { status: error.status, title: WITNESS_PROBLEMS[error.code].title }, error.message)
  }
  const known = error instanceof WitnessError || error instanceof BodyError || error instanceof StorageError ||
    error instanceof NoteError || error instanceof TlogError
  return known ? problemBody(error.code, WITNESS_PROBLEMS[error.code], error.message) : INTERNAL_PROBLEM
}
