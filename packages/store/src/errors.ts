/** What can be wrong with ledgers, logs, entries and objects. Codes are stable: clients switch on them. */
export const STORE_ERROR_CODES = [
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
  'ROW_EXISTS',
  'CORRUPTION',
] as const

export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number]

/** A refused ledger operation or stored data that is not what the ledger wrote. */
export class StoreError extends Error {
  readonly code: StoreErrorCode

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
  }
}

/** True when `error` is a StoreError, optionally with the given code. */
export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code)
}
