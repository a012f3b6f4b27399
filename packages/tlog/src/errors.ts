/** What can be wrong with Merkle proofs, tree sizes, hashes and tiles. Codes are stable: callers switch on them. */
export const TLOG_ERROR_CODES = [
  'SIZE_OUT_OF_RANGE',
  'PROOF_MALFORMED',
  'PROOF_ROOT_MISMATCH',
  'HASH_MALFORMED',
  'TILE_PATH_MALFORMED',
  'TILE_MALFORMED',
  'TILE_NOT_FOUND',
] as const

export type TlogErrorCode = (typeof TLOG_ERROR_CODES)[number]

/** Bad Merkle data or coordinates, as opposed to misuse of an API (which throws TypeError or RangeError). */
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
