import { MAX_SIGNATURES, NoteError, type NoteSignature, formatSignatureLine, parseNote, parseSignatureLine } from '@annal/note'
import { StoreError } from './errors.js'

/** A checkpoint's size and the witness cosignature lines kept for it. */
export interface StoredCosignatures {
  readonly size: number
  /** Signature lines, each ending in a newline, in the order they were first stored. */
  readonly lines: readonly string[]
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

const keyOf = (signature: NoteSignature) => `${signature.name}\n${signature.keyId}`

/** One signature line, with or without its final newline. Throws NOTE_MALFORMED. */
function parseLine(line: string): NoteSignature {
  if (typeof line !== 'string') throw new TypeError('signature lines must be strings')
  return parseSignatureLine(line.endsWith('\n') ? line.slice(0, -1) : line)
}

/** Stored bytes (signature lines, each ending in a newline) as lines. Throws CORRUPTION. */
export function decodeCosignatures(bytes: Uint8Array | undefined): string[] {
  if (bytes === undefined || bytes.length === 0) return []
  try {
    const text = utf8Decoder.decode(bytes)
    return text.slice(0, -1).split('\n').map((line) => formatSignatureLine(parseSignatureLine(line)))
  } catch (error) {
    throw new StoreError('CORRUPTION', 'stored cosignatures are malformed', { cause: error })
  }
}

export function encodeCosignatures(lines: readonly string[]): Uint8Array {
  return utf8.encode(lines.join(''))
}

/**
 * `kept` with `added` merged in: a line replaces a kept line by the same key name and key ID
 * (in its place), new keys follow in order. Lines by a key that signed `note` itself are
 * refused. Syntax only: nothing is verified here.
 * Throws NOTE_MALFORMED for a bad line, a line by the note's own signer or a note that would
 * carry more than MAX_SIGNATURES signatures.
 */
export function mergeCosignatures(note: string, kept: readonly string[], added: readonly string[]): string[] {
  const own = new Set(parseNote(note).signatures.map(keyOf))
  const merged = new Map<string, string>()
  for (const line of kept) merged.set(keyOf(parseLine(line)), line)
  for (const line of added) {
    const signature = parseLine(line)
    if (own.has(keyOf(signature))) throw new NoteError('NOTE_MALFORMED', 'a cosignature line is by the log\'s own key')
    merged.set(keyOf(signature), formatSignatureLine(signature))
  }
  if (merged.size + own.size > MAX_SIGNATURES) throw new NoteError('NOTE_MALFORMED', 'too many signatures')
  return [...merged.values()]
}
