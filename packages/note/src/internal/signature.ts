import type { NoteSignature } from '../note.js'
import { encodeBase64 } from '../base64.js'
import { concatBytes, hasLoneSurrogate, uint32Bytes, utf8Decode } from './bytes.js'
import { isValidNoteText } from './text.js'
import { NoteError } from '../errors.js'

/** A NoteSignature for key ID `keyId` and signature bytes (after the key ID). */
export function makeSignature(name: string, keyId: number, signature: Uint8Array): NoteSignature {
  const base64 = encodeBase64(concatBytes(uint32Bytes(keyId), signature))
  return Object.freeze({ name, keyId, base64, signature: signature.slice() })
}

/**
 * The text of a note given as a string or as bytes, checked against signed-note §Format:
 * valid UTF-8 and no control characters other than newline. Throws NOTE_MALFORMED.
 */
export function decodeNote(note: string | Uint8Array): string {
  let text: string | undefined
  if (note instanceof Uint8Array) {
    text = utf8Decode(note)
    if (text === undefined) throw new NoteError('NOTE_MALFORMED', 'note is not valid UTF-8')
  } else if (typeof note === 'string') {
    if (hasLoneSurrogate(note)) throw new NoteError('NOTE_MALFORMED', 'note is not valid UTF-8')
    text = note
  } else {
    throw new TypeError('note must be a string or Uint8Array')
  }
  if (!isValidNoteText(text)) throw new NoteError('NOTE_MALFORMED', 'note contains a control character')
  return text
}
