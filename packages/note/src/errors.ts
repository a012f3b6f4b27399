/**
 * What can be wrong with signed notes, keys, checkpoints, cosignatures, tlog-witness
 * add-checkpoint requests and tlog-proof files. Codes are stable: callers switch on them.
 */
export const NOTE_ERROR_CODES = [
  'NOTE_MALFORMED',
  'NOTE_UNVERIFIED',
  'SIGNATURE_INVALID',
  'KEY_MALFORMED',
  'CHECKPOINT_MALFORMED',
  'COSIGNATURE_MALFORMED',
  'ADD_CHECKPOINT_MALFORMED',
  'ADD_CHECKPOINT_TOO_LARGE',
  'PROOF_FILE_MALFORMED',
] as const

export type NoteErrorCode = (typeof NOTE_ERROR_CODES)[number]

export interface NoteErrorOptions {
  readonly cause?: unknown
  /** The 1-based line of a tlog-proof file that did not parse. */
  readonly line?: number
}

/** A note, key or checkpoint that does not parse or verify; misuse of an API throws TypeError or RangeError. */
export class NoteError extends Error {
  readonly code: NoteErrorCode
  readonly line: number | undefined

  constructor(code: NoteErrorCode, message: string, options: NoteErrorOptions = {}) {
    super(options.line === undefined ? message : `line ${options.line}: ${message}`,
      'cause' in options ? { cause: options.cause } : undefined)
    this.name = 'NoteError'
    this.code = code
    this.line = options.line
  }
}

/** True when `error` is a NoteError, optionally with the given code. */
export function isNoteError(error: unknown, code?: NoteErrorCode): error is NoteError {
  return error instanceof NoteError && (code === undefined || error.code === code)
}
