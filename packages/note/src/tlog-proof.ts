import { HASH_SIZE } from '@annal/tlog'
import { decodeBase64, decodeBase64Hash, encodeBase64 } from './base64.js'
import { parseCheckpoint } from './checkpoint.js'
import { NoteError } from './errors.js'
import { parseNote } from './note.js'

/** The first line of every proof (tlog-proof §Format). */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1'

/** The parts of a C2SP tlog-proof. Syntax only: nothing here is verified. */
export interface TlogProof {
  /** Opaque, unauthenticated data for the application; never trust it. */
  readonly extra?: Uint8Array | undefined
  /** The entry's zero-based index in the log. */
  readonly index: number
  /** The RFC 6962 inclusion proof, from the leaf's sibling up to a child of the root. */
  readonly hashes: readonly Uint8Array[]
  /** The checkpoint note, verbatim, with its signature lines. */
  readonly checkpoint: string
}

const INDEX_LINE = /^index (0|[1-9][0-9]{0,15})$/
const EXTRA_PREFIX = 'extra '
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function malformed(message: string, line: number, cause?: unknown): NoteError {
  return new NoteError('PROOF_FILE_MALFORMED', message, cause === undefined ? { line } : { line, cause })
}

function decodeProofText(input: string | Uint8Array): string {
  if (typeof input === 'string') return input
  if (!(input instanceof Uint8Array)) throw new TypeError('the proof must be a string or a Uint8Array')
  try {
    return fatalUtf8.decode(input)
  } catch (error) {
    throw malformed('the proof is not UTF-8', 1, error)
  }
}

/** tlog-proof §Format, the index line: `index`, one space, ASCII decimal without leading zeros, at most 2^53 - 1. */
function parseIndexLine(line: string | undefined, number: number): number {
  const match = INDEX_LINE.exec(line ?? '')
  const index = match === null ? undefined : Number(match[1])
  if (index === undefined || !Number.isSafeInteger(index)) {
    throw malformed('expected index <decimal> without leading zeros', number)
  }
  return index
}

/**
 * Formats a tlog-proof (tlog-proof §Format). Requires a safe non-negative integer index,
 * 32-byte hashes and a checkpoint note with a blank line before its signatures, else
 * RangeError. The checkpoint is written verbatim.
 */
export function formatTlogProof(proof: TlogProof): string {
  const { extra, index, hashes, checkpoint } = proof
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('index must be a safe non-negative integer')
  if (hashes.some((hash) => !(hash instanceof Uint8Array) || hash.length !== HASH_SIZE)) {
    throw new RangeError(`inclusion hashes must be ${HASH_SIZE} bytes`)
  }
  if (typeof checkpoint !== 'string' || !checkpoint.includes('\n\n')) throw new RangeError('checkpoint must be a signed note')
  const lines = [TLOG_PROOF_HEADER]
  if (extra !== undefined) lines.push(`${EXTRA_PREFIX}${encodeBase64(extra)}`)
  lines.push(`index ${index}`, ...hashes.map(encodeBase64), '')
  return `${lines.join('\n')}\n${checkpoint}`
}

/**
 * Parses a tlog-proof strictly (tlog-proof §Format): the header line, an optional `extra
 * <base64>` line, `index <decimal>` without leading zeros, one canonical base64 32-byte hash a
 * line, an empty line, then a checkpoint note, checked for syntax only (signed-note,
 * tlog-checkpoint). Bytes must be UTF-8.
 * Throws NoteError PROOF_FILE_MALFORMED (with the 1-based `line`), NOTE_MALFORMED or
 * CHECKPOINT_MALFORMED; TlogError SIZE_OUT_OF_RANGE for a checkpoint size above 2^53 - 1.
 */
export function parseTlogProof(input: string | Uint8Array): TlogProof {
  const text = decodeProofText(input)
  const split = text.indexOf('\n\n')
  if (split < 0) throw malformed('no empty line before the checkpoint', text.split('\n').length)
  const lines = text.slice(0, split).split('\n')
  if (lines[0] !== TLOG_PROOF_HEADER) throw malformed(`the first line must be ${TLOG_PROOF_HEADER}`, 1)
  let next = 1
  let extra: Uint8Array | undefined
  if (lines[next]?.startsWith(EXTRA_PREFIX)) {
    extra = decodeBase64(lines[next]!.slice(EXTRA_PREFIX.length))
    if (extra === undefined) throw malformed('extra is not canonical base64', next + 1)
    next++
  }
  const index = parseIndexLine(lines[next], next + 1)
  const hashes = lines.slice(next + 1).map((line, i) => {
    const hash = decodeBase64Hash(line)
    if (hash === undefined) {
      throw malformed('expected a canonical base64 hash of 32 bytes, or the empty line before the checkpoint', next + i + 2)
    }
    return hash
  })
  const checkpoint = text.slice(split + 2)
  parseCheckpoint(parseNote(checkpoint).text)
  return Object.freeze({ extra, index, hashes: Object.freeze(hashes), checkpoint })
}
