// RFC 6962 §2.1 written as literally as possible (recursive, on slices), as an oracle for the
// tiled, iterative implementation. Memoized MTH keeps exhaustive tests over small trees fast.
import type { MerkleHasher } from '../hash.js'

export class ReferenceTree {
  readonly #leaves: readonly Uint8Array[]
  readonly #hasher: MerkleHasher
  readonly #memo = new Map<string, Uint8Array>()

  constructor(leafHashes: readonly Uint8Array[], hasher: MerkleHasher) {
    this.#leaves = leafHashes
    this.#hasher = hasher
  }

  /** MTH(D[start:end]). */
  mth(start: number, end: number): Uint8Array {
    const n = end - start
    if (n === 0) return this.#hasher.emptyRoot
    if (n === 1) return this.#leaves[start]!
    const key = `${start}:${end}`
    let hash = this.#memo.get(key)
    if (hash === undefined) {
      const k = largestPowerOfTwoBelow(n)
      hash = this.#hasher.node(this.mth(start, start + k), this.mth(start + k, end))
      this.#memo.set(key, hash)
    }
    return hash
  }

  /** PATH(m, D[start:end]), RFC 6962 §2.1.1. */
  path(m: number, start: number, end: number): Uint8Array[] {
    const n = end - start
    if (n === 1) return []
    const k = largestPowerOfTwoBelow(n)
    if (m < k) return [...this.path(m, start, start + k), this.mth(start + k, end)]
    return [...this.path(m - k, start + k, end), this.mth(start, start + k)]
  }

  /** PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true), RFC 6962 §2.1.2. */
  consistency(m: number, n: number): Uint8Array[] {
    return m === 0 || m === n ? [] : this.#subproof(m, 0, n, true)
  }

  #subproof(m: number, start: number, end: number, b: boolean): Uint8Array[] {
    const n = end - start
    if (m === n) return b ? [] : [this.mth(start, end)]
    const k = largestPowerOfTwoBelow(n)
    if (m <= k) return [...this.#subproof(m, start, start + k, b), this.mth(start + k, end)]
    return [...this.#subproof(m - k, start + k, end, false), this.mth(start, start + k)]
  }
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** Deterministic distinct leaf hashes for tests: the leaf hash of the index as 8 bytes. */
export function testLeafHashes(count: number, hasher: MerkleHasher): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => hasher.leaf(uint64(i)))
}

export function uint64(n: number): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n))
  return bytes
}
