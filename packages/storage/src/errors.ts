/** What a storage driver refuses. Codes are stable: callers switch on them. */
export const STORAGE_ERROR_CODES = [
  'SWAP_CONFLICT',
  'DATABASE_LOCKED',
  'DATABASE_CLOSED',
  'STORAGE_UNWRITABLE',
  'STORAGE_UNREADABLE',
  'DATABASE_UNSUPPORTED',
] as const

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number]

/**
 * A write or open the database refused: a compare-and-swap that lost, a locked or closed
 * database, or one laid out by a newer Annal; or a database that cannot write or read now for a
 * reason outside Annal (no space, an I/O error), whose own error is the cause.
 */
export class StorageError extends Error {
  readonly code: StorageErrorCode

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
    this.code = code
  }
}

/** True when `error` is a StorageError, optionally with the given code. */
export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code)
}
