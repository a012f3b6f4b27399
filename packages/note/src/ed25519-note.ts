import { ED25519_PUBLIC_KEY_SIZE, ED25519_SEED_SIZE, ED25519_SIGNATURE_SIZE } from './ed25519.js'
import { checkKeyInput } from './internal/text.js'
import {
  SIGNATURE_TYPE_ED25519, computeKeyId,
  type NoteProviders, type NoteSigner, type NoteVerifier, type SignatureScheme,
} from './scheme.js'

/**
 * signed-note §Ed25519 signatures: a 64-byte RFC 8032 signature over the note text.
 * Throws RangeError for an invalid name or a public key that is not 32 bytes.
 */
function ed25519Verifier(name: string, publicKey: Uint8Array, providers: NoteProviders): NoteVerifier {
  checkKeyInput(name, publicKey, ED25519_PUBLIC_KEY_SIZE, 'Ed25519 public key')
  const key = publicKey.slice()
  return Object.freeze({
    name,
    keyId: computeKeyId(name, SIGNATURE_TYPE_ED25519, key, providers.hash),
    type: SIGNATURE_TYPE_ED25519,
    publicKey: key.slice(),
    verify(message: Uint8Array, signature: Uint8Array): boolean {
      if (signature.length !== ED25519_SIGNATURE_SIZE) return false
      try {
        return providers.signature.verify(key, message, signature)
      } catch {
        return false
      }
    },
  })
}

/** Throws RangeError for an invalid name or a seed that is not 32 bytes. */
function ed25519Signer(name: string, seed: Uint8Array, providers: NoteProviders): NoteSigner {
  checkKeyInput(name, seed, ED25519_SEED_SIZE, 'Ed25519 seed')
  const secret = seed.slice()
  const verifier = ed25519Verifier(name, providers.signature.publicKey(secret), providers)
  return Object.freeze({
    name,
    keyId: verifier.keyId,
    type: SIGNATURE_TYPE_ED25519,
    publicKey: verifier.publicKey,
    verifier,
    sign: (message: Uint8Array) => providers.signature.sign(secret, message),
  })
}

/** Signature type 0x01 (signed-note): plain Ed25519 over the note text. */
export const ed25519NoteScheme: SignatureScheme = Object.freeze({
  type: SIGNATURE_TYPE_ED25519,
  description: 'Ed25519 note signature',
  publicKeySize: ED25519_PUBLIC_KEY_SIZE,
  seedSize: ED25519_SEED_SIZE,
  verifier: ed25519Verifier,
  signer: ed25519Signer,
})
