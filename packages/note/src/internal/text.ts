import { hasLoneSurrogate } from './bytes.js'

// ASCII control characters other than newline (signed-note §Format).
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000B-\u001F]/
const CONTROL = /[\u0000-\u001F]/
// Unicode White_Space (what Go's unicode.IsSpace tests) and '+'.
const SPACE_OR_PLUS = /[\p{White_Space}+]/u

/** Valid UTF-8 (no lone surrogates) with no control characters other than newline. */
export function isValidNoteText(text: string): boolean {
  return !CONTROL_EXCEPT_NEWLINE.test(text) && !hasLoneSurrogate(text)
}

/**
 * signed-note §Format: non-empty, no Unicode spaces, no '+'. Annal also refuses control
 * characters, which could never appear in a valid note.
 */
export function isValidName(name: string): boolean {
  return name.length > 0 && !SPACE_OR_PLUS.test(name) && !CONTROL.test(name) && !hasLoneSurrogate(name)
}

/** Precondition for building a verifier or signer: a valid name and a key of `size` bytes. */
export function checkKeyInput(name: string, key: Uint8Array, size: number, what: string): void {
  if (typeof name !== 'string' || !isValidName(name)) throw new RangeError('invalid key name')
  if (!(key instanceof Uint8Array) || key.length !== size) {
    throw new RangeError(`${what} must be ${size} bytes`)
  }
}
