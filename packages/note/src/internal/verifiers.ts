import type { NoteVerifier } from '../scheme.js'
import { bytesEqual } from './bytes.js'

/** Lookup key for (name, key ID). Names never contain '+', so the pair is unambiguous. */
export function nameKeyId(name: string, keyId: number): string {
  return `${name}+${keyId}`
}

/**
 * Indexes verifiers by (name, key ID). The same key given twice is fine; two different keys
 * sharing a name and key ID make every such signature ambiguous, so that configuration is
 * refused with a RangeError (golang.org/x/mod/sumdb/note reports it as an error too).
 */
export function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  if (!Array.isArray(verifiers)) throw new TypeError('verifiers must be an array')
  const index = new Map<string, NoteVerifier>()
  for (const verifier of verifiers) {
    const key = nameKeyId(verifier.name, verifier.keyId)
    const known = index.get(key)
    if (known === undefined) {
      index.set(key, verifier)
    } else if (known.type !== verifier.type || !bytesEqual(known.publicKey, verifier.publicKey)) {
      throw new RangeError('two verifiers share a key name and key ID')
    }
  }
  return index
}
