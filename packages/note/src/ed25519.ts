import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'

/**
 * Where Ed25519 (RFC 8032) comes from. The portable default is `@noble/ed25519`; Node
 * processes may plug in `node:crypto` (package @annal/crypto-node). Providers must agree on
 * every honest key and signature; Ed25519 signing is deterministic, so they are byte-identical.
 */
export interface SignatureProvider {
  readonly name: string
  /** The 32-byte public key of a 32-byte seed. Throws RangeError for another seed length. */
  publicKey(seed: Uint8Array): Uint8Array
  /** The 64-byte signature of `message`. Throws RangeError for a seed that is not 32 bytes. */
  sign(seed: Uint8Array, message: Uint8Array): Uint8Array
  /** True for a valid signature. Returns false, never throws, for malformed keys or signatures. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
}

export const ED25519_SEED_SIZE = 32
export const ED25519_PUBLIC_KEY_SIZE = 32
export const ED25519_SIGNATURE_SIZE = 64

// Set on first use rather than at import, so that importing this module has no side effect.
function syncHashes(): void {
  if (ed.hashes.sha512 === undefined) ed.hashes.sha512 = sha512
}

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_SIZE) {
    throw new RangeError('Ed25519 seed must be 32 bytes')
  }
}

/**
 * Ed25519 from @noble/ed25519. Verification uses its strict mode (`zip215: false`): RFC 8032
 * canonical encodings, S < L, and small-order public keys refused.
 */
export const nobleEd25519: SignatureProvider = {
  name: '@noble/ed25519',
  publicKey(seed) {
    checkSeed(seed)
    syncHashes()
    return ed.getPublicKey(seed)
  },
  sign(seed, message) {
    checkSeed(seed)
    syncHashes()
    return ed.sign(message, seed)
  },
  verify(publicKey, message, signature) {
    if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE || signature.length !== ED25519_SIGNATURE_SIZE) {
      return false
    }
    syncHashes()
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
    } catch {
      return false
    }
  },
}
