import { TlogError } from '@annal/tlog'
import { ProblemError } from './problem.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The media type of a Content-Type header, lowercased without parameters; `fallback` when absent.
 * @throws TlogError CONTENT_TYPE_UNSUPPORTED when it is not `type/subtype`.
 */
export function mediaType(header: string | undefined, fallback: string): string {
  if (header === undefined || header.trim() === '') return fallback
  const type = header.split(';', 1)[0]!.trim().toLowerCase()
  if (!/^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/.test(type)) {
    throw new TlogError('CONTENT_TYPE_UNSUPPORTED', 'the Content-Type is not a media type')
  }
  return type
}

/** True for application/json and any `+json` type. */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json')
}

/**
 * Parses a UTF-8 JSON document. Messages never quote the input.
 * @throws TlogError BODY_MALFORMED.
 */
export function parseJson(bytes: Uint8Array, what = 'the body'): unknown {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (error) {
    throw new TlogError('BODY_MALFORMED', `${what} is not UTF-8`, { cause: error })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new TlogError('BODY_MALFORMED', `${what} is not valid JSON`, { cause: error })
  }
}

/**
 * Splits an NDJSON body into its lines' bytes (a final newline is optional; CRLF is accepted)
 * and checks that each is JSON.
 * @throws TlogError ENTRY_EMPTY (no lines), BATCH_TOO_LARGE (more than `maxLines`),
 *   BODY_MALFORMED naming the first bad line (1-based) in its message and a `line` member.
 */
export function splitNdjson(bytes: Uint8Array, maxLines: number): Uint8Array[] {
  const lines: Uint8Array[] = []
  let start = 0
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start)
    const next = end === -1 ? bytes.length : end + 1
    if (end === -1) end = bytes.length
    if (end > start && bytes[end - 1] === 0x0d) end--
    lines.push(bytes.subarray(start, end))
    if (lines.length > maxLines) throw new TlogError('BATCH_TOO_LARGE', `a batch has at most ${maxLines} lines`)
    start = next
  }
  if (lines.length === 0) throw new TlogError('ENTRY_EMPTY', 'the batch has no lines')
  lines.forEach((line, i) => {
    if (line.length === 0) throw new ProblemError('BODY_MALFORMED', `line ${i + 1} is empty`, { line: i + 1 })
    try {
      parseJson(line, `line ${i + 1}`)
    } catch (error) {
      throw new ProblemError('BODY_MALFORMED', (error as Error).message, { line: i + 1 }, { cause: error })
    }
  })
  return lines
}
