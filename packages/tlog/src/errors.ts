/**
 * The one list of error codes every Annal package throws. Codes are stable: clients,
 * the HTTP layer and the CLI switch on them, so a code is never renamed or reused.
 */
export const TLOG_ERROR_CODES = [
  // Merkle proofs and tree coordinates (tlog)
  'SIZE_OUT_OF_RANGE',
  'PROOF_MALFORMED',
  'PROOF_ROOT_MISMATCH',
  'HASH_MALFORMED',
  'TILE_PATH_MALFORMED',
  'TILE_MALFORMED',
  // Signed notes, keys, checkpoints and cosignatures (note)
  'NOTE_MALFORMED',
  'NOTE_UNVERIFIED',
  'SIGNATURE_INVALID',
  'KEY_MALFORMED',
  'CHECKPOINT_MALFORMED',
  'COSIGNATURE_MALFORMED',
  // Ledgers, logs, entries and objects (store)
  'LOG_NAME_INVALID',
  'LOG_NOT_FOUND',
  'LOG_EXISTS',
  'ORIGIN_INVALID',
  'ORIGIN_EXISTS',
  'ENTRY_EMPTY',
  'ENTRY_TOO_LARGE',
  'ENTRY_NOT_FOUND',
  'ID_MALFORMED',
  'ID_AMBIGUOUS',
  'OBJECT_TOO_LARGE',
  'OBJECT_NOT_FOUND',
  'OBJECT_ERASED',
  'HEAD_CONFLICT',
  'DATABASE_LOCKED',
  'DATABASE_CLOSED',
  'CORRUPTION',
  // The HTTP API (server): requests, bodies, tokens and scopes. Statuses are in server/src/problem.ts.
  'REQUEST_MALFORMED',
  'BODY_MALFORMED',
  'BODY_TOO_LARGE',
  'BODY_TIMEOUT',
  'BATCH_TOO_LARGE',
  'CONTENT_TYPE_UNSUPPORTED',
  'ROUTE_NOT_FOUND',
  'TILE_NOT_FOUND',
  'LOG_RESERVED',
  'IDEMPOTENCY_KEY_REUSED',
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_REQUEST_MALFORMED',
  'INSUFFICIENT_SCOPE',
  'AUTH_UNAVAILABLE',
  'ACCESS_LOG_UNAVAILABLE',
  'POLICY_UNMET',
  'JSON_TOO_DEEP',
  'SHUTTING_DOWN',
  'HEADERS_TOO_LARGE',
] as const

export type TlogErrorCode = (typeof TLOG_ERROR_CODES)[number]

/** Bad data or state, as opposed to misuse of an API (which throws TypeError or RangeError). */
export class TlogError extends Error {
  readonly code: TlogErrorCode

  constructor(code: TlogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TlogError'
    this.code = code
  }
}

/** True when `error` is a TlogError, optionally with the given code. */
export function isTlogError(error: unknown, code?: TlogErrorCode): error is TlogError {
  return error instanceof TlogError && (code === undefined || error.code === code)
}
