/** What the HTTP API refuses: requests, tokens, scopes, the access log, policy. Codes are stable: clients switch on them. */
export const API_ERROR_CODES = [
  'REQUEST_MALFORMED',
  'BATCH_TOO_LARGE',
  'CONTENT_TYPE_UNSUPPORTED',
  'ROUTE_NOT_FOUND',
  'LOG_RESERVED',
  'IDEMPOTENCY_KEY_REUSED',
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_REQUEST_MALFORMED',
  'INSUFFICIENT_SCOPE',
  'AUTH_UNAVAILABLE',
  'ACCESS_LOG_UNAVAILABLE',
  'POLICY_UNMET',
  'WITNESS_UNKNOWN',
  'REVOCATION_NOT_FOUND',
  'JSON_TOO_DEEP',
  'SHUTTING_DOWN',
  'HEADERS_TOO_LARGE',
  'EVIDENCE_INVALID',
  'STREAMS_EXHAUSTED',
] as const

export type ApiErrorCode = (typeof API_ERROR_CODES)[number]

/** A request the API refuses. Statuses are in problem.ts. */
export class ApiError extends Error {
  readonly code: ApiErrorCode

  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ApiError'
    this.code = code
  }
}

/** True when `error` is a ApiError, optionally with the given code. */
export function isApiError(error: unknown, code?: ApiErrorCode): error is ApiError {
  return error instanceof ApiError && (code === undefined || error.code === code)
}
