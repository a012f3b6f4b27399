/** Why a body could not be read. Stable: services answer them to clients as problem codes. */
export const BODY_ERROR_CODES = ['BODY_TOO_LARGE', 'BODY_MALFORMED', 'BODY_TIMEOUT'] as const

export type BodyErrorCode = (typeof BODY_ERROR_CODES)[number]

/** A body over its limit, broken off, slow or not in the expected syntax. */
export class BodyError extends Error {
  readonly code: BodyErrorCode

  constructor(code: BodyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BodyError'
    this.code = code
  }
}

/** True when `error` is a BodyError, optionally with the given code. */
export function isBodyError(error: unknown, code?: BodyErrorCode): error is BodyError {
  return error instanceof BodyError && (code === undefined || error.code === code)
}
