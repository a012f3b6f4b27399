import { hash } from 'node:crypto'
import { type HashProvider, MerkleHasher } from '@annal/tlog'

/**
 * SHA-256 from node:crypto. The digest comes back as a `binary` (latin1) string, one character
 * a byte, copied into a fresh 32-byte array: V8 keeps arrays that small on its own heap, while a
 * Buffer digest gets an off-heap backing store, which costs more to make and collect than
 * hashing a 65-byte input.
 */
export const nodeHashProvider: HashProvider = {
  name: 'node:crypto',
  sha256(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(32)
    sha256Into(data, out, 0)
    return out
  },
  sha256Into,
}

function sha256Into(data: Uint8Array, out: Uint8Array, offset: number): void {
  const digest = hash('sha256', data, 'binary')
  for (let i = 0; i < 32; i++) out[offset + i] = digest.charCodeAt(i)
}

export const nodeHasher = new MerkleHasher(nodeHashProvider)
