import { BodyError, INTERNAL_PROBLEM, problemBody, problemHeaders, type BodyErrorCode, type Problem, type ProblemBody } from '@annal/http'
import { NoteError, type NoteErrorCode } from '@annal/note'
import { StorageError, type StorageErrorCode } from '@annal/storage'
import { StoreError, type StoreErrorCode } from '@annal/store'
import { TlogError, type TlogErrorCode } from '@annal/tlog'
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { ApiError, type ApiErrorCode } from './errors.js'

/** Every code the API can meet: its own and those of the layers it stands on. */
export type ProblemCode = ApiErrorCode | BodyErrorCode | StoreErrorCode | StorageErrorCode | NoteErrorCode | TlogErrorCode

/** How each error code is answered over HTTP. Exhaustive: a new code in any layer fails the typecheck here. */
export const PROBLEMS: Record<ProblemCode, { readonly status: ContentfulStatusCode; readonly title: string }> = {
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
  ADD_CHECKPOINT_MALFORMED: { status: 400, title: 'Malformed add-checkpoint request' },
  ADD_CHECKPOINT_TOO_LARGE: { status: 413, title: 'Add-checkpoint request too large' },
  PROOF_FILE_MALFORMED: { status: 400, title: 'Malformed tlog-proof file' },
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
  ROW_EXISTS: { status: 409, title: 'Row exists' },
  SWAP_CONFLICT: { status: 503, title: 'Concurrent write; retry' },
  DATABASE_LOCKED: { status: 503, title: 'Database locked' },
  DATABASE_CLOSED: { status: 503, title: 'Database closed' },
  STORAGE_UNWRITABLE: { status: 503, title: 'The ledger cannot write now; retry later' },
  STORAGE_UNREADABLE: { status: 503, title: 'The ledger cannot read its storage now; retry later' },
  DATABASE_UNSUPPORTED: { status: 503, title: 'Database laid out by a newer Annal' },
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
  WITNESS_UNKNOWN: { status: 400, title: 'Not a witness of this server' },
  REVOCATION_NOT_FOUND: { status: 404, title: 'No such revocation' },
  JSON_TOO_DEEP: { status: 400, title: 'JSON nested too deeply' },
  SHUTTING_DOWN: { status: 503, title: 'Server shutting down' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  EVIDENCE_INVALID: { status: 400, title: 'Witness evidence does not verify' },
  STREAMS_EXHAUSTED: { status: 503, title: 'Too many event streams open' },
}

/** An error of any layer, with extra RFC 9457 members for the problem body (e.g. `candidates`). */
export class ProblemError extends Error {
  readonly code: ProblemCode
  readonly extensions: Readonly<Record<string, unknown>>

  constructor(code: ProblemCode, message: string, extensions: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProblemError'
    this.code = code
    this.extensions = extensions
  }
}

/** An error this API answers by its code; anything else is an internal error. */
export type CodedError = ApiError | BodyError | StoreError | StorageError | NoteError | TlogError | ProblemError

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof ApiError || error instanceof BodyError || error instanceof StoreError ||
    error instanceof StorageError || error instanceof NoteError || error instanceof TlogError || error instanceof ProblemError
}

/** The problem body for `error`. Details of 5xx and of errors we did not throw stay private. */
export function problemFor(error: unknown): ProblemBody {
  if (!isCodedError(error)) return INTERNAL_PROBLEM
  const problem: Problem = PROBLEMS[error.code]
  return problemBody(error.code, problem, error.message, error instanceof ProblemError ? error.extensions : {})
}

/** An `application/problem+json` response (RFC 9457), closing the connection when the body was left unread. */
export function problemResponse(c: Context, body: ProblemBody, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, { ...headers, ...problemHeaders(body) })
}
