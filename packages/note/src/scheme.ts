import { nobleHashProvider, type HashProvider } from '@annal/tlog'
import { nobleEd25519, type SignatureProvider } from './ed25519.js'
import { concatBytes, readUint32, utf8Encode } from './internal/bytes.js'
import { isValidName } from './internal/text.js'

/** signed-note §Signature types: 0x01 is an Ed25519 signature over the note text. */
export const SIGNATURE_TYPE_ED25519 = 0x01
/** signed-note §Signature types: 0x04 is a timestamped Ed25519 cosignature (tlog-cosignature). */
export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04

/** The cryptography a key uses: SHA-256 for key IDs, Ed25519 for signatures. */
export interface NoteProviders {
  readonly hash: HashProvider
  readonly signature: SignatureProvider
}

export const defaultProviders: NoteProviders = Object.freeze({
  hash: nobleHashProvider,
  signature: nobleEd25519,
})

/** A public key that checks note signatures, identified in notes by (name, keyId). */
export interface NoteVerifier {
  readonly name: string
  /** uint32: SHA-256(name || 0x0A || type || publicKey)[:4], big-endian. */
  readonly keyId: number
  /** The signature type byte (0x01, 0x04, ...). */
  readonly type: number
  readonly publicKey: Uint8Array
  /**
   * True when `signature` (the bytes after the 4-byte key ID) is valid for the note text
   * `message`. Returns false, never throws, on malformed input.
   */
  verify(message: Uint8Array, signature: Uint8Array): boolean
}

/** A private key that signs note text. Its `sign` returns the bytes after the key ID. */
export interface NoteSigner {
  readonly name: string
  readonly keyId: number
  readonly type: number
  readonly publicKey: Uint8Array
  /** The matching verifier. */
  readonly verifier: NoteVerifier
  /** Signs the note text `message`. Throws TlogError if the scheme refuses the text. */
  sign(message: Uint8Array): Uint8Array
}

/**
 * One signature type: how its keys are sized and how verifiers and signers are made.
 * Schemes are looked up by type byte in a SchemeRegistry, so new types plug in without
 * touching the key-string or note code.
 */
export interface SignatureScheme {
  readonly type: number
  readonly description: string
  readonly publicKeySize: number
  readonly seedSize: number
  /** Requires a valid key name and publicKey.length === publicKeySize (else RangeError). */
  verifier(name: string, publicKey: Uint8Array, providers: NoteProviders): NoteVerifier
  /** Requires a valid key name and seed.length === seedSize (else RangeError). */
  signer(name: string, seed: Uint8Array, providers: NoteProviders): NoteSigner
}

/**
 * signed-note §Format: a key name is non-empty, valid UTF-8 and has no Unicode spaces and no
 * '+'. Annal also refuses ASCII control characters, which no valid note can carry.
 */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && isValidName(name)
}

/**
 * signed-note §Signatures: key ID = SHA-256(name || 0x0A || type || publicKey)[:4] as a
 * big-endian uint32. Requires a valid name and 0 <= type <= 255; throws RangeError otherwise.
 */
export function computeKeyId(name: string, type: number, publicKey: Uint8Array,
    hash: HashProvider = nobleHashProvider): number {
  if (!isValidKeyName(name)) throw new RangeError('invalid key name')
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError('invalid signature type')
  const digest = hash.sha256(concatBytes(utf8Encode(name), Uint8Array.of(0x0a, type), publicKey))
  return readUint32(digest)
}
