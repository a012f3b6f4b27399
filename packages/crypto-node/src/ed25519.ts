import { type KeyObject, createPrivateKey, createPublicKey, hash, sign, verify } from 'node:crypto'
import type { SignatureProvider } from '@annal/note'
import { Point } from '@noble/ed25519'

// RFC 8410 DER wrappings of a raw Ed25519 seed and public key.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
// A process verifies against a few keys (its logs, its witnesses) over and over; importing a
// key costs more than verifying with it, so imported keys are kept, up to a bound.
const MAX_CACHED_KEYS = 1024

const privateKeys = new Map<string, KeyObject>()
const publicKeys = new Map<string, KeyObject | undefined>()

/** Ed25519 from node:crypto: an order of magnitude faster than @noble/ed25519 at signing and verifying. */
export const nodeEd25519: SignatureProvider = {
  name: 'node:crypto',
  publicKey(seed: Uint8Array): Uint8Array {
    const jwk = createPublicKey(privateKey(seed)).export({ format: 'jwk' })
    return base64UrlDecode(jwk.x!)
  },
  sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
    const signature = sign(null, message, privateKey(seed))
    return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength)
  },
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      const key = importPublicKey(publicKey)
      return key !== undefined && verify(null, message, key, signature)
    } catch {
      return false
    }
  },
}

function privateKey(seed: Uint8Array): KeyObject {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes')
  return cached(privateKeys, seed, () =>
    createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }))
}

function importPublicKey(publicKey: Uint8Array): KeyObject | undefined {
  return cached(publicKeys, publicKey, () => {
    // OpenSSL accepts forgeries under small-order keys; the portable provider refuses such keys,
    // and so does this one, checked once per key rather than per signature.
    if (!isStrictPublicKey(publicKey)) return undefined
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
  })
}

function isStrictPublicKey(publicKey: Uint8Array): boolean {
  try {
    return !Point.fromBytes(publicKey, false).isSmallOrder()
  } catch {
    return false
  }
}

function cached<K extends KeyObject | undefined>(cache: Map<string, K>, raw: Uint8Array, load: () => K): K {
  // Keyed by a digest, so no seed is kept in a string that outlives its signer.
  const id = hash('sha256', raw, 'base64')
  let key = cache.get(id)
  if (!cache.has(id)) {
    key = load()
    if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value!)
    cache.set(id, key)
  }
  return key as K
}

function base64UrlDecode(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'))
}
