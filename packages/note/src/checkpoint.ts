import { HASH_SIZE, TlogError } from '@annal/tlog'
import { decodeBase64Hash, encodeBase64 } from './base64.js'
import { decodeNote } from './internal/signature.js'
import { isValidNoteText } from './internal/text.js'
import { VerifiedCheckpoint, sealCheckpoint } from './internal/verified.js'
import { openNote, signNote } from './note.js'
import type { NoteSigner, NoteVerifier } from './scheme.js'
import { NoteError } from './errors.js'

export { VerifiedCheckpoint }

/** The body of a tlog-checkpoint note. Syntax only: nothing here is verified. */
export interface Checkpoint {
  /** Line 1: the log's identity, non-empty. */
  readonly origin: string
  /** Line 2: the number of leaves, 0 <= size <= 2^53 - 1. */
  readonly size: number
  /** Line 3: the RFC 6962 root hash, 32 bytes. */
  readonly rootHash: Uint8Array
  /** Any further lines, each non-empty. */
  readonly extensions: readonly string[]
}

export interface OpenCheckpointOptions {
  /**
   * tlog-checkpoint §Signatures says the log's key name SHOULD equal the origin line; Annal
   * requires it unless this is false (sum.golang.org, for one, signs "go.sum database tree"
   * as "sum.golang.org").
   */
  readonly keyNameMustMatchOrigin?: boolean
}

const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/
const MAX_SIZE_DIGITS = String(Number.MAX_SAFE_INTEGER).length

function malformed(message: string): NoteError {
  return new NoteError('CHECKPOINT_MALFORMED', message)
}

/**
 * tlog-checkpoint §Note text, line 2: ASCII decimal without sign, spaces or leading zeros.
 * Annal keeps sizes as JavaScript numbers, so sizes above 2^53 - 1 are refused.
 * Throws CHECKPOINT_MALFORMED or SIZE_OUT_OF_RANGE.
 */
function parseSize(line: string): number {
  if (!CANONICAL_DECIMAL.test(line)) throw malformed('tree size is not canonical decimal')
  if (line.length > MAX_SIZE_DIGITS || Number(line) > Number.MAX_SAFE_INTEGER) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'tree size is above 2^53 - 1')
  }
  return Number(line)
}

/**
 * Parses a checkpoint body (tlog-checkpoint §Note text): origin, tree size, base64 root hash
 * of 32 bytes, then optional non-empty extension lines; every line ends in a newline. Checks
 * syntax only. Throws CHECKPOINT_MALFORMED, or SIZE_OUT_OF_RANGE for a size above 2^53 - 1.
 */
export function parseCheckpoint(body: string): Checkpoint {
  if (typeof body !== 'string') throw new TypeError('body must be a string')
  if (!isValidNoteText(body)) throw malformed('checkpoint has a control character or bad UTF-16')
  if (!body.endsWith('\n')) throw malformed('checkpoint must end in a newline')
  const [origin, sizeLine, hashLine, ...extensions] = body.slice(0, -1).split('\n')
  if (origin === undefined || sizeLine === undefined || hashLine === undefined) {
    throw malformed('checkpoint needs origin, size and root hash lines')
  }
  if (origin.length === 0) throw malformed('empty origin')
  const size = parseSize(sizeLine)
  const rootHash = decodeBase64Hash(hashLine)
  if (rootHash === undefined) {
    throw malformed('root hash must be canonical base64 of 32 bytes')
  }
  if (extensions.some((line) => line.length === 0)) throw malformed('empty extension line')
  return Object.freeze({ origin, size, rootHash, extensions: Object.freeze(extensions) })
}

function checkLine(line: unknown, what: string): void {
  if (typeof line !== 'string' || line.length === 0 || line.includes('\n') || !isValidNoteText(line)) {
    throw new RangeError(`${what} must be a non-empty line without control characters`)
  }
}

/**
 * The body for `checkpoint` (tlog-checkpoint §Note text). Requires a non-empty origin and
 * extensions without newlines or control characters, a safe non-negative integer size and a
 * 32-byte root hash; throws RangeError otherwise.
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions } = checkpoint
  checkLine(origin, 'origin')
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a safe non-negative integer')
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== HASH_SIZE) {
    throw new RangeError('root hash must be 32 bytes')
  }
  for (const line of extensions) checkLine(line, 'extension')
  return [origin, String(size), encodeBase64(rootHash), ...extensions].join('\n') + '\n'
}

/**
 * Opens a checkpoint note: verifies it with the log's keys (signed-note §Signatures), parses
 * the body, and requires a verified signature by a key named after the origin unless
 * `options.keyNameMustMatchOrigin` is false. Signatures by other keys, such as witness
 * cosignatures, are kept unverified in `otherSignatures`.
 * Throws NOTE_MALFORMED, SIGNATURE_INVALID, NOTE_UNVERIFIED, CHECKPOINT_MALFORMED or
 * SIZE_OUT_OF_RANGE.
 */
export function openCheckpoint(note: string | Uint8Array, logVerifiers: readonly NoteVerifier[],
    options: OpenCheckpointOptions = {}): VerifiedCheckpoint {
  const text = decodeNote(note)
  const opened = openNote(text, logVerifiers)
  const checkpoint = parseCheckpoint(opened.text)
  if (options.keyNameMustMatchOrigin !== false &&
      !opened.verified.some((signature) => signature.name === checkpoint.origin)) {
    throw new NoteError('NOTE_UNVERIFIED', 'no verified signature by a key named after the origin')
  }
  return sealCheckpoint({
    ...checkpoint,
    note: text,
    body: opened.text,
    signatures: opened.verified,
    otherSignatures: opened.unverified,
  })
}

/**
 * Signs `checkpoint` as its log and returns the note. Requires signer.name === origin
 * (tlog-checkpoint §Signatures; RangeError otherwise) and a well-formed checkpoint (see
 * formatCheckpoint). Throws TlogError only if the signer's scheme refuses the text.
 */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): string {
  const body = formatCheckpoint(checkpoint)
  if (signer.name !== checkpoint.origin) throw new RangeError('the log key name must equal the origin')
  return signNote(body, [signer])
}
