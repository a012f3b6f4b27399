/** What the witness refuses or finds wrong. Codes are stable: clients switch on them. */
export const WITNESS_ERROR_CODES = [
  'LOG_NOT_FOUND',
  'ROUTE_NOT_FOUND',
  'OLD_SIZE_MISMATCH',
  'EVIDENCE_HELD',
  'NOTE_TOO_LARGE',
  'GOSSIP_MALFORMED',
  'PEER_FAILED',
  'WEBHOOK_FAILED',
  'CORRUPTION',
] as const

export type WitnessErrorCode = (typeof WITNESS_ERROR_CODES)[number]

/** A refusal or failure of the witness; misuse of an API throws TypeError or RangeError. */
export class WitnessError extends Error {
  readonly code: WitnessErrorCode

  constructor(code: WitnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'WitnessError'
    this.code = code
  }
}

/** True when `error` is a WitnessError, optionally with the given code. */
export function isWitnessError(error: unknown, code?: WitnessErrorCode): error is WitnessError {
  return error instanceof WitnessError && (code === undefined || error.code === code)
}
