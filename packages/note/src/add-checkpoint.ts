import { HASH_SIZE, TlogError } from '@annal/tlog'
import { decodeBase64Hash, encodeBase64 } from './base64.js'
import { parseCheckpoint } from './checkpoint.js'
import { NoteError } from './errors.js'
import { parseNote } from './note.js'

/** Add-checkpoint bodies above this many bytes (16 KiB) are refused, as the Go witnesses do. */
export const MAX_ADD_CHECKPOINT_SIZE = 16 * 1024
/** tlog-witness §add-checkpoint: "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_PROOF_LINES = 63

/** A parsed add-checkpoint body. Syntax only: nothing in it has been verified. */
export interface AddCheckpointRequest {
  /** The `old` line: the size the client believes the witness last cosigned. */
  readonly oldSize: number
  /** Consistency proof from oldSize to the checkpoint's size, 32-byte hashes. */
  readonly proof: readonly Uint8Array[]
  /** The signed checkpoint note, exactly as sent. */
  readonly note: string
  /** The checkpoint's origin line, read without checking any signature. */
  readonly origin: string
}

const OLD_LINE = /^old (0|[1-9][0-9]{0,15})$/
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

function malformed(message: string, cause?: unknown): NoteError {
  return new NoteError('ADD_CHECKPOINT_MALFORMED', message, { cause })
}

function decodeBody(body: Uint8Array | string): string {
  const bytes = typeof body === 'string' ? utf8.encode(body) : body
  if (!(bytes instanceof Uint8Array)) throw new TypeError('body must be a string or Uint8Array')
  if (bytes.length > MAX_ADD_CHECKPOINT_SIZE) {
    throw new NoteError('ADD_CHECKPOINT_TOO_LARGE', `add-checkpoint bodies are limited to ${MAX_ADD_CHECKPOINT_SIZE} bytes`)
  }
  if (typeof body === 'string') return body
  try {
    return utf8Decoder.decode(bytes)
  } catch (error) {
    throw malformed('body is not UTF-8', error)
  }
}

/** tlog-witness §add-checkpoint, the old size line: `old`, one space, canonical decimal. */
function parseOldLine(line: string): number {
  const match = OLD_LINE.exec(line)
  if (match === null) throw malformed('first line must be "old <size>" in canonical decimal')
  const size = Number(match[1])
  if (size > Number.MAX_SAFE_INTEGER) throw new TlogError('SIZE_OUT_OF_RANGE', 'old size is above 2^53 - 1')
  return size
}

/**
 * Parses an add-checkpoint request body (tlog-witness §add-checkpoint): an `old N` line, at
 * most 63 lines of canonical base64 32-byte hashes, an empty line, then a signed checkpoint
 * note, every line ending in a newline; at most MAX_ADD_CHECKPOINT_SIZE bytes of UTF-8. The
 * note is checked for syntax only (signed-note, tlog-checkpoint) so that its origin can be read.
 * Throws NoteError ADD_CHECKPOINT_TOO_LARGE, ADD_CHECKPOINT_MALFORMED, NOTE_MALFORMED,
 * CHECKPOINT_MALFORMED; TlogError SIZE_OUT_OF_RANGE for a size above 2^53 - 1.
 */
export function parseAddCheckpoint(body: Uint8Array | string): AddCheckpointRequest {
  const text = decodeBody(body)
  const split = text.indexOf('\n\n')
  if (split < 0) throw malformed('no empty line after the proof')
  const [oldLine, ...proofLines] = text.slice(0, split).split('\n')
  const oldSize = parseOldLine(oldLine as string)
  if (proofLines.length > MAX_PROOF_LINES) throw malformed(`more than ${MAX_PROOF_LINES} proof lines`)
  const proof = proofLines.map((line) => {
    const hash = decodeBase64Hash(line)
    if (hash === undefined) throw malformed('a proof line is not canonical base64 of 32 bytes')
    return hash
  })
  const note = text.slice(split + 2)
  const { origin } = parseCheckpoint(parseNote(note).text)
  return Object.freeze({ oldSize, proof: Object.freeze(proof), note, origin })
}

/**
 * The add-checkpoint body for `note` with a proof from `oldSize` (the client side). Requires a
 * safe non-negative integer size, at most 63 32-byte hashes and a note ending in a newline
 * (else RangeError).
 */
export function formatAddCheckpoint(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  if (!Number.isSafeInteger(oldSize) || oldSize < 0) {
    throw new RangeError('old size must be a safe non-negative integer')
  }
  if (proof.length > MAX_PROOF_LINES) throw new RangeError(`at most ${MAX_PROOF_LINES} proof hashes`)
  if (proof.some((hash) => !(hash instanceof Uint8Array) || hash.length !== HASH_SIZE)) {
    throw new RangeError('proof hashes must be 32 bytes')
  }
  if (typeof note !== 'string' || !note.endsWith('\n')) throw new RangeError('note must end in a newline')
  return `old ${oldSize}\n${proof.map((hash) => `${encodeBase64(hash)}\n`).join('')}\n${note}`
}
