/**
 * What can be wrong with signed notes, keys, checkpoints, cosignatures and tlog-witness
 * add-checkpoint requests. Codes are stable: callers switch on them.
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
] as const

export type NoteErrorCode = (typeof NOTE_ERROR_CODES)[number]

/** A note, key or checkpoint that does not parse or verify; misuse of an API throws TypeError or RangeError. */
export class NoteError extends Error {
  readonly code: NoteErrorCode

  constructor(code: NoteErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NoteError'
    this.code = code
  }
}

/** True when `error` is a NoteError, optionally with the given code. */
export function isNoteError(error: unknown, code?: NoteErrorCode): error is NoteError {
  return error instanceof NoteError && (code === undefined || error.code === code)
}
