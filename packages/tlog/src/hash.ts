import { sha256 } from '@noble/hashes/sha2.js'

/**
 * Where SHA-256 comes from. The portable default is `@noble/hashes`; Node processes may plug in
 * `node:crypto` (package @annal/crypto-node). Every provider must give byte-identical results.
 */
export interface HashProvider {
  readonly name: string
  /** SHA-256 of `data`, as a fresh 32-byte array the caller may keep. */
  sha256(data: Uint8Array): Uint8Array
  /**
   * SHA-256 of `data`, written to out[offset, offset + 32). Optional: for a provider whose digest
   * does not come as an array anyway, it saves making one (Merkle integration hashes into tiles).
   */
  sha256Into?(data: Uint8Array, out: Uint8Array, offset: number): void
}

export const nobleHashProvider: HashProvider = {
  name: '@noble/hashes',
  sha256: (data) => sha256(data),
}

export const HASH_SIZE = 32
const SMALL_LEAF = 1024

/** RFC 6962 §2.1 hashing: leaves are prefixed 0x00, interior nodes 0x01. */
export class MerkleHasher {
  readonly provider: HashProvider
  /** MTH({}) = SHA-256(""), the root of the empty tree. */
  readonly emptyRoot: Uint8Array
  // Reused input buffers: hashing is the hot path of appends, and providers consume their input
  // synchronously, so no allocation per hash is needed for interior nodes or small leaves.
  readonly #nodeInput = new Uint8Array(1 + 2 * HASH_SIZE)
  readonly #leafInput = new Uint8Array(1 + SMALL_LEAF)
  /** The view of #leafInput the last small leaf was hashed through: leaves of a log are often of one length. */
  #leafView = this.#leafInput.subarray(0, 1)

  readonly #hashesInto: boolean

  constructor(provider: HashProvider) {
    this.provider = provider
    this.emptyRoot = provider.sha256(new Uint8Array(0))
    this.#nodeInput[0] = 1
    this.#hashesInto = typeof provider.sha256Into === 'function'
  }

  /** SHA-256(0x00 || data). */
  leaf(data: Uint8Array): Uint8Array {
    let input: Uint8Array
    if (data.length > SMALL_LEAF) {
      input = new Uint8Array(1 + data.length)
    } else {
      if (this.#leafView.length !== 1 + data.length) this.#leafView = this.#leafInput.subarray(0, 1 + data.length)
      input = this.#leafView
    }
    // Byte 0, the 0x00 prefix, is never written: both buffers start zeroed.
    input.set(data, 1)
    return this.provider.sha256(input)
  }

  /** SHA-256(0x01 || left || right). Both inputs must be 32 bytes; callers check hostile input. */
  node(left: Uint8Array, right: Uint8Array): Uint8Array {
    const input = this.#nodeInput
    input.set(left, 1)
    input.set(right, 1 + HASH_SIZE)
    return this.provider.sha256(input)
  }

  /**
   * The interior node of a pair laid out ready to hash: `input` must be the 65 bytes
   * 0x01 || left || right. Writes the hash to out[offset, offset + 32).
   */
  nodeInto(input: Uint8Array, out: Uint8Array, offset: number): void {
    if (this.#hashesInto) this.provider.sha256Into!(input, out, offset)
    else out.set(this.provider.sha256(input), offset)
  }
}

export const defaultHasher = new MerkleHasher(nobleHashProvider)
