/** How a service answers one of its error codes (RFC 9457 `status` and `title`). */
export interface Problem {
  readonly status: number
  readonly title: string
}

/** Each code's `type` is this followed by the code in lower case, `-` for `_`. */
export const PROBLEM_TYPE_BASE = 'https://annal.dev/problems/'

/** An RFC 9457 body with the Annal `code` member; extensions such as `candidates` beside it. */
export interface ProblemBody {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: string
  readonly [extension: string]: unknown
}

/** The answer to an error that no service table knows: its details stay private. */
export const INTERNAL_PROBLEM: ProblemBody = Object.freeze({
  type: `${PROBLEM_TYPE_BASE}internal-error`, title: 'Internal error', status: 500, detail: 'internal error', code: 'INTERNAL_ERROR',
})

/**
 * Refusals that leave the rest of the body unread, perhaps still coming: the connection cannot
 * carry another request, so it is closed once the answer is out.
 */
const CLOSING: ReadonlySet<string> = new Set(['BODY_TOO_LARGE', 'BODY_TIMEOUT'])

/**
 * The problem body for an error with `code` and `message`, answered as `problem` says. A 5xx
 * gets its title as detail: its message may name files or state that clients must not see.
 * Extensions never replace the standard members.
 */
export function problemBody(code: string, problem: Problem, message: string,
    extensions: Readonly<Record<string, unknown>> = {}): ProblemBody {
  const { status, title } = problem
  const detail = status >= 500 ? title : message
  return { ...extensions, type: `${PROBLEM_TYPE_BASE}${code.toLowerCase().replaceAll('_', '-')}`, title, status, detail, code }
}

/**
 * Refusals of a storage that cannot write or read now, which recovers by itself (its first
 * retries come within a second, later ones every few): a client may try again after this many
 * seconds.
 */
const RETRY_AFTER_SECONDS: ReadonlyMap<string, string> = new Map([['STORAGE_UNWRITABLE', '5'], ['STORAGE_UNREADABLE', '5']])

/**
 * The response headers of a problem: its media type, no caching, closing when the body was left
 * unread, and Retry-After for a storage fault.
 */
export function problemHeaders(body: ProblemBody): Record<string, string> {
  const retryAfter = RETRY_AFTER_SECONDS.get(body.code)
  return {
    'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...(CLOSING.has(body.code) ? { Connection: 'close' } : {}),
    ...(retryAfter === undefined ? {} : { 'Retry-After': retryAfter }),
  }
}
