import { TlogError, type TlogErrorCode } from '@annal/tlog'
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** How each error code is answered over HTTP. Exhaustive: a new code fails the typecheck here. */
export const PROBLEMS: Record<TlogErrorCode, { readonly status: ContentfulStatusCode; readonly title: string }> = {
  SIZE_OUT_OF_RANGE: { status: 400, title: 'Index or size out of range' },
  PROOF_MALFORMED: { status: 400, title: 'Malformed proof' },
  PROOF_ROOT_MISMATCH: { status: 400, title: 'Proof does not reach the root' },
  HASH_MALFORMED: { status: 400, title: 'Malformed hash' },
  TILE_PATH_MALFORMED: { status: 400, title: 'Malformed tile path' },
  TILE_MALFORMED: { status: 500, title: 'Stored tile is malformed' },
  NOTE_MALFORMED: { status: 400, title: 'Malformed signed note' },
  NOTE_UNVERIFIED: { status: 400, title: 'Signed note could not be verified' },
  SIGNATURE_INVALID: { status: 400, title: 'Invalid signature' },
  KEY_MALFORMED: { status: 400, title: 'Malformed key' },
  CHECKPOINT_MALFORMED: { status: 400, title: 'Malformed checkpoint' },
  COSIGNATURE_MALFORMED: { status: 400, title: 'Malformed cosignature' },
  LOG_NAME_INVALID: { status: 400, title: 'Invalid log name' },
  LOG_NOT_FOUND: { status: 404, title: 'No such log' },
  LOG_EXISTS: { status: 409, title: 'Log exists' },
  ORIGIN_INVALID: { status: 400, title: 'Invalid origin' },
  ORIGIN_EXISTS: { status: 409, title: 'Origin taken by another log' },
  ENTRY_EMPTY: { status: 400, title: 'Empty entry' },
  ENTRY_TOO_LARGE: { status: 413, title: 'Entry too large' },
  ENTRY_NOT_FOUND: { status: 404, title: 'No such entry' },
  ID_MALFORMED: { status: 400, title: 'Malformed id' },
  ID_AMBIGUOUS: { status: 409, title: 'Ambiguous abbreviated id' },
  OBJECT_TOO_LARGE: { status: 413, title: 'Object too large' },
  OBJECT_NOT_FOUND: { status: 404, title: 'No such object' },
  OBJECT_ERASED: { status: 410, title: 'Object erased' },
  HEAD_CONFLICT: { status: 503, title: 'Log head moved; retry' },
  DATABASE_LOCKED: { status: 503, title: 'Database locked' },
  DATABASE_CLOSED: { status: 503, title: 'Database closed' },
  CORRUPTION: { status: 500, title: 'Storage corruption' },
  REQUEST_MALFORMED: { status: 400, title: 'Malformed request' },
  BODY_MALFORMED: { status: 400, title: 'Malformed body' },
  BODY_TOO_LARGE: { status: 413, title: 'Body too large' },
  BODY_TIMEOUT: { status: 408, title: 'Body too slow' },
  BATCH_TOO_LARGE: { status: 413, title: 'Too many lines' },
  CONTENT_TYPE_UNSUPPORTED: { status: 415, title: 'Unsupported content type' },
  ROUTE_NOT_FOUND: { status: 404, title: 'Not found' },
  TILE_NOT_FOUND: { status: 404, title: 'Tile not found' },
  LOG_RESERVED: { status: 403, title: 'Log is written by the server only' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused with another request' },
  TOKEN_MISSING: { status: 401, title: 'Access token required' },
  TOKEN_INVALID: { status: 401, title: 'Invalid access token' },
  TOKEN_REQUEST_MALFORMED: { status: 400, title: 'Malformed token request' },
  INSUFFICIENT_SCOPE: { status: 403, title: 'Insufficient scope' },
  AUTH_UNAVAILABLE: { status: 503, title: 'Token verification unavailable' },
  ACCESS_LOG_UNAVAILABLE: { status: 503, title: 'Access log unavailable' },
  POLICY_UNMET: { status: 503, title: 'No checkpoint of this log has the cosignatures its witness policy requires yet' },
  JSON_TOO_DEEP: { status: 400, title: 'JSON nested too deeply' },
  SHUTTING_DOWN: { status: 503, title: 'Server shutting down' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
}

/** A TlogError with extra RFC 9457 members for the problem body (e.g. `candidates`). */
export class ProblemError extends TlogError {
  readonly extensions: Readonly<Record<string, unknown>>

  constructor(code: TlogErrorCode, message: string, extensions: Record<string, unknown>, options?: { cause?: unknown }) {
    super(code, message, options)
    this.extensions = extensions
  }
}

export const PROBLEM_TYPE_BASE = 'https://annal.dev/problems/'

export interface ProblemBody {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: string
  readonly [extension: string]: unknown
}

/** The problem body for `error`. Details of 5xx and of errors we did not throw stay private. */
export function problemFor(error: unknown): ProblemBody {
  if (!(error instanceof TlogError)) {
    return { type: `${PROBLEM_TYPE_BASE}internal-error`, title: 'Internal error', status: 500, detail: 'internal error', code: 'INTERNAL_ERROR' }
  }
  const { status, title } = PROBLEMS[error.code]
  const detail = status >= 500 ? title : error.message
  const extensions = error instanceof ProblemError ? error.extensions : {}
  return { ...extensions, type: `${PROBLEM_TYPE_BASE}${error.code.toLowerCase().replaceAll('_', '-')}`, title, status, detail, code: error.code }
}

/** An `application/problem+json` response (RFC 9457). */
export function problemResponse(c: Context, body: ProblemBody, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, {
    ...headers, 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store',
  })
}
