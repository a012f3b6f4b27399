import { ProblemError } from './problem.js'
import { ApiError } from './errors.js'
import { BodyError } from '@annal/http'
import { StoreError } from '@annal/store'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The media type of a Content-Type header, lowercased without parameters; `fallback` when absent.
 * @throws ApiError CONTENT_TYPE_UNSUPPORTED when it is not `type/subtype`.
 */
export function mediaType(header: string | undefined, fallback: string): string {
  if (header === undefined || header.trim() === '') return fallback
  const type = header.split(';', 1)[0]!.trim().toLowerCase()
  if (!/^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/.test(type)) {
    throw new ApiError('CONTENT_TYPE_UNSUPPORTED', 'the Content-Type is not a media type')
  }
  return type
}

/** True for application/json and any `+json` type. */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json')
}

/**
 * True when the JSON text in `bytes` nests arrays and objects deeper than `maxDepth`. A scan of
 * the bytes, without recursion, so that it cannot overflow the stack the way parsing or printing
 * a deeply nested value can; brackets inside strings do not count. UTF-8 is safe to scan byte by
 * byte: no byte of a multi-byte character is ASCII.
 */
export function nestedDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
    } else if (byte === QUOTE) {
      inString = true
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > maxDepth) return true
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
      depth--
    }
  }
  return false
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

/**
 * Parses a UTF-8 JSON document nested at most `maxDepth` deep (unlimited when absent). Messages
 * never quote the input.
 * @throws BODY_MALFORMED; JSON_TOO_DEEP.
 */
export function parseJson(bytes: Uint8Array, what = 'the body', maxDepth?: number): unknown {
  if (maxDepth !== undefined && nestedDeeperThan(bytes, maxDepth)) {
    throw new ProblemError('JSON_TOO_DEEP', `${what} nests arrays and objects deeper than ${maxDepth} levels`, { max_depth: maxDepth })
  }
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (error) {
    throw new BodyError('BODY_MALFORMED', `${what} is not UTF-8`, { cause: error })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new BodyError('BODY_MALFORMED', `${what} is not valid JSON`, { cause: error })
  }
}

/**
 * Splits an NDJSON body into its lines' bytes (a final newline is optional; CRLF is accepted)
 * and checks that each is JSON nested at most `maxDepth` deep.
 * @throws ENTRY_EMPTY (no lines), BATCH_TOO_LARGE (more than `maxLines`),
 *   BODY_MALFORMED or JSON_TOO_DEEP naming the first bad line (1-based) in its message and a
 *   `line` member.
 */
export function splitNdjson(bytes: Uint8Array, maxLines: number, maxDepth?: number): Uint8Array[] {
  const lines: Uint8Array[] = []
  let start = 0
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start)
    const next = end === -1 ? bytes.length : end + 1
    if (end === -1) end = bytes.length
    if (end > start && bytes[end - 1] === 0x0d) end--
    lines.push(bytes.subarray(start, end))
    if (lines.length > maxLines) throw new ApiError('BATCH_TOO_LARGE', `a batch has at most ${maxLines} lines`)
    start = next
  }
  if (lines.length === 0) throw new StoreError('ENTRY_EMPTY', 'the batch has no lines')
  lines.forEach((line, i) => {
    if (line.length === 0) throw new ProblemError('BODY_MALFORMED', `line ${i + 1} is empty`, { line: i + 1 })
    try {
      parseJson(line, `line ${i + 1}`, maxDepth)
    } catch (error) {
      const { code, extensions } = error as ProblemError
      throw new ProblemError(code, (error as Error).message, { ...extensions, line: i + 1 }, { cause: error })
    }
  })
  return lines
}
