import { decodeBase64 } from './base64.js'
import { readUint32, utf8Encode } from './internal/bytes.js'
import { decodeNote, makeSignature } from './internal/signature.js'
import { isValidName, isValidNoteText } from './internal/text.js'
import { indexVerifiers, nameKeyId } from './internal/verifiers.js'
import type { NoteSigner, NoteVerifier } from './scheme.js'
import { NoteError } from './errors.js'

/**
 * The most signature lines a note may carry. signed-note §Format asks verifiers to accept at
 * least 16; golang.org/x/mod/sumdb/note stops at 100, and so do we.
 */
export const MAX_SIGNATURES = 100

const SIGNATURE_PREFIX = '\u2014 ' // em dash, space

/** One signature line: `— <name> base64(keyId || signature)`. */
export interface NoteSignature {
  readonly name: string
  /** uint32 from the first four (big-endian) bytes of the decoded signature. */
  readonly keyId: number
  /** The base64 text exactly as on the line. */
  readonly base64: string
  /** The decoded bytes after the key ID. */
  readonly signature: Uint8Array
}

/** A signature checked by one of the caller's verifiers. */
export interface VerifiedSignature extends NoteSignature {
  readonly verifier: NoteVerifier
}

/** Syntax only: nothing in a ParsedNote has been verified. */
export interface ParsedNote {
  /** The note text, including its final newline but not the blank separator line. */
  readonly text: string
  readonly signatures: readonly NoteSignature[]
}

export interface OpenedNote {
  readonly text: string
  /** At least one; one entry per key, in note order. */
  readonly verified: readonly VerifiedSignature[]
  /** Signatures from keys the caller did not supply (identical lines listed once). */
  readonly unverified: readonly NoteSignature[]
}

function malformed(message: string): NoteError {
  return new NoteError('NOTE_MALFORMED', message)
}

/**
 * Parses one signature line, without its newline: em dash, space, key name, space,
 * canonical base64 of at least 5 bytes (4-byte key ID and signature). signed-note §Format.
 * Throws NOTE_MALFORMED.
 */
export function parseSignatureLine(line: string): NoteSignature {
  if (typeof line !== 'string') throw new TypeError('line must be a string')
  if (!line.startsWith(SIGNATURE_PREFIX)) throw malformed('signature line must start with an em dash and a space')
  const rest = line.slice(SIGNATURE_PREFIX.length)
  const space = rest.indexOf(' ')
  const name = rest.slice(0, space)
  if (space < 0 || !isValidName(name)) throw malformed('bad key name on signature line')
  const bytes = decodeBase64(rest.slice(space + 1))
  if (bytes === undefined || bytes.length < 5) throw malformed('bad signature encoding')
  return makeSignature(name, readUint32(bytes), bytes.subarray(4))
}

/**
 * Parses a block of signature lines, each ending in a newline (the part of a note after the
 * blank line, or a witness response). Throws NOTE_MALFORMED, also for more than MAX_SIGNATURES.
 */
export function parseSignatureLines(block: string): NoteSignature[] {
  if (typeof block !== 'string') throw new TypeError('block must be a string')
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('signature lines must end in a newline')
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > MAX_SIGNATURES) throw malformed('too many signatures')
  return lines.map(parseSignatureLine)
}

/**
 * Splits a signed note into text and signature lines, checking syntax only (signed-note
 * §Format): the text ends at the last blank line and keeps its final newline. Throws
 * NOTE_MALFORMED.
 */
export function parseNote(note: string | Uint8Array): ParsedNote {
  const all = decodeNote(note)
  const split = all.lastIndexOf('\n\n')
  if (split < 0) throw malformed('note has no blank line before its signatures')
  const text = all.slice(0, split + 1)
  const signatures = parseSignatureLines(all.slice(split + 2))
  return Object.freeze({ text, signatures: Object.freeze(signatures) })
}

/**
 * Parses a note and checks its signatures (signed-note §Signatures). A signature whose
 * (name, key ID) matches a verifier must verify, or the whole note is rejected; others are
 * listed as unverified. At least one must verify.
 * Throws NOTE_MALFORMED, SIGNATURE_INVALID, NOTE_UNVERIFIED; RangeError for two different
 * verifiers sharing a name and key ID.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const index = indexVerifiers(verifiers)
  const parsed = parseNote(note)
  const message = utf8Encode(parsed.text)
  const verified: VerifiedSignature[] = []
  const unverified: NoteSignature[] = []
  const seenLines = new Set<string>()
  const verifiedKeys = new Set<string>()
  for (const signature of parsed.signatures) {
    const line = `${signature.name} ${signature.base64}`
    if (seenLines.has(line)) continue
    seenLines.add(line)
    const key = nameKeyId(signature.name, signature.keyId)
    const verifier = index.get(key)
    if (verifier === undefined) {
      unverified.push(signature)
    } else if (!verifier.verify(message, signature.signature)) {
      throw new NoteError('SIGNATURE_INVALID', 'a signature from a known key does not verify')
    } else if (!verifiedKeys.has(key)) {
      verifiedKeys.add(key)
      verified.push(Object.freeze({ ...signature, verifier }))
    }
  }
  if (verified.length === 0) throw new NoteError('NOTE_UNVERIFIED', 'no signature from a known key')
  return Object.freeze({ text: parsed.text, verified: Object.freeze(verified), unverified: Object.freeze(unverified) })
}

/** The line for one signature, with its final newline. */
export function formatSignatureLine(signature: NoteSignature): string {
  return `${SIGNATURE_PREFIX}${signature.name} ${signature.base64}\n`
}

function checkExisting(signature: NoteSignature): void {
  const bytes = decodeBase64(signature.base64)
  if (!isValidName(signature.name) || bytes === undefined || bytes.length < 5 ||
      readUint32(bytes) !== signature.keyId) {
    throw malformed('bad existing signature')
  }
}

/** New signatures in signer order, and the (name, key ID) keys that made them. */
function signAll(message: Uint8Array, signers: readonly NoteSigner[]): [NoteSignature[], Set<string>] {
  const keys = new Set<string>()
  const added: NoteSignature[] = []
  for (const signer of signers) {
    const key = nameKeyId(signer.name, signer.keyId)
    if (!isValidName(signer.name)) throw new RangeError('invalid signer name')
    if (keys.has(key)) throw new RangeError('two signers share a key name and key ID')
    keys.add(key)
    const signature = signer.sign(message)
    if (!(signature instanceof Uint8Array) || signature.length === 0) {
      throw new TypeError('signer returned no signature')
    }
    added.push(makeSignature(signer.name, signer.keyId, signature))
  }
  return [added, keys]
}

/**
 * Signs `text` and returns the signed note. `existing` signatures (say, from parseNote) come
 * first, except those by a key that signs again here; new signatures follow in signer order.
 * Requires at least one signature in all, signers with distinct (name, key ID) and valid
 * names (else RangeError). Throws NOTE_MALFORMED for text that does not end in a newline or
 * has control characters, a bad existing signature, or more than MAX_SIGNATURES in all.
 */
export function signNote(text: string, signers: readonly NoteSigner[],
    existing: readonly NoteSignature[] = []): string {
  if (typeof text !== 'string') throw new TypeError('text must be a string')
  if (!text.endsWith('\n') || !isValidNoteText(text)) {
    throw malformed('note text must end in a newline and have no control characters')
  }
  existing.forEach(checkExisting)
  const [added, replaced] = signAll(utf8Encode(text), signers)
  const kept: NoteSignature[] = []
  const lines = new Set<string>()
  for (const signature of existing) {
    const line = formatSignatureLine(signature)
    if (replaced.has(nameKeyId(signature.name, signature.keyId)) || lines.has(line)) continue
    lines.add(line)
    kept.push(signature)
  }
  const all = [...kept, ...added]
  if (all.length === 0) throw new RangeError('a note needs at least one signature')
  if (all.length > MAX_SIGNATURES) throw malformed('too many signatures')
  return `${text}\n${all.map(formatSignatureLine).join('')}`
}
