import { TlogError } from './errors.js'
import { HASH_SIZE, type MerkleHasher, defaultHasher } from './hash.js'
import { isSafeCount } from './internal/bits.js'

// No tree of at most 2^53 leaves has a proof longer than this; anything longer is hostile.
const MAX_PROOF_HASHES = 64

/**
 * RFC 9162 §2.1.3.2: the root that an inclusion proof for `leafHash` at `index` in a tree of
 * `size` leaves computes.
 * @throws TlogError SIZE_OUT_OF_RANGE, HASH_MALFORMED, PROOF_MALFORMED (wrong length).
 */
export function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array,
    proof: readonly Uint8Array[], hasher: MerkleHasher = defaultHasher): Uint8Array {
  if (!isSafeCount(size) || !isSafeCount(index)) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'index and tree size must be integers in 0..2^53-1')
  }
  if (index >= size) throw new TlogError('SIZE_OUT_OF_RANGE', 'index is not below tree size')
  checkHash(leafHash, 'leaf hash')
  checkProof(proof)
  let fn = index
  let sn = size - 1
  let r = leafHash
  for (const p of proof) {
    if (sn === 0) throw new TlogError('PROOF_MALFORMED', 'inclusion proof has too many hashes')
    if (fn % 2 === 1 || fn === sn) {
      r = hasher.node(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2
        sn = Math.floor(sn / 2)
      }
    } else {
      r = hasher.node(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  if (sn !== 0) throw new TlogError('PROOF_MALFORMED', 'inclusion proof has too few hashes')
  return r
}

/**
 * RFC 9162 §2.1.3.2: checks that `leafHash` is leaf `index` of the tree of `size` with `root`.
 * @throws TlogError PROOF_ROOT_MISMATCH, or as rootFromInclusionProof.
 */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array,
    proof: readonly Uint8Array[], root: Uint8Array, hasher: MerkleHasher = defaultHasher): void {
  checkHash(root, 'root hash')
  const computed = rootFromInclusionProof(index, size, leafHash, proof, hasher)
  if (!bytesEqual(computed, root)) {
    throw new TlogError('PROOF_ROOT_MISMATCH', 'inclusion proof does not lead to the root')
  }
}

/**
 * RFC 9162 §2.1.4.2: checks that the tree of `newSize` leaves with `newRoot` extends the tree of
 * `oldSize` leaves with `oldRoot`. With oldSize 0 any roots are consistent and the proof must be
 * empty; with equal sizes the proof must be empty and the roots equal.
 * @throws TlogError SIZE_OUT_OF_RANGE, HASH_MALFORMED, PROOF_MALFORMED, PROOF_ROOT_MISMATCH.
 */
export function verifyConsistency(oldSize: number, newSize: number, proof: readonly Uint8Array[],
    oldRoot: Uint8Array, newRoot: Uint8Array, hasher: MerkleHasher = defaultHasher): void {
  if (!isSafeCount(oldSize) || !isSafeCount(newSize)) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'tree sizes must be integers in 0..2^53-1')
  }
  if (oldSize > newSize) throw new TlogError('SIZE_OUT_OF_RANGE', 'old size exceeds new size')
  checkHash(oldRoot, 'old root')
  checkHash(newRoot, 'new root')
  checkProof(proof)
  if (oldSize === 0 || oldSize === newSize) {
    if (proof.length !== 0) throw new TlogError('PROOF_MALFORMED', 'consistency proof must be empty')
    if (oldSize === newSize && !bytesEqual(oldRoot, newRoot)) {
      throw new TlogError('PROOF_ROOT_MISMATCH', 'same tree size with different roots')
    }
    return
  }
  const [computedOld, computedNew] = rootsFromConsistencyProof(oldSize, newSize, proof, oldRoot, hasher)
  if (!bytesEqual(computedOld, oldRoot)) {
    throw new TlogError('PROOF_ROOT_MISMATCH', 'consistency proof does not lead to the old root')
  }
  if (!bytesEqual(computedNew, newRoot)) {
    throw new TlogError('PROOF_ROOT_MISMATCH', 'consistency proof does not lead to the new root')
  }
}

/**
 * The old and new roots a consistency proof leads to (RFC 9162 §2.1.4.2, steps 1-7), for
 * 0 < oldSize < newSize: what verifyConsistency compares with the two roots. A proof that leads
 * to a signed new root is made of that tree's nodes; if it leads to another old root than a
 * signed old one, the log signed two trees that do not extend each other. For an old size that
 * is a power of two the old root is an input, so it is always led to.
 * @throws TlogError SIZE_OUT_OF_RANGE, HASH_MALFORMED, PROOF_MALFORMED.
 */
export function consistencyProofRoots(oldSize: number, newSize: number, proof: readonly Uint8Array[],
    oldRoot: Uint8Array, hasher: MerkleHasher = defaultHasher): { readonly oldRoot: Uint8Array; readonly newRoot: Uint8Array } {
  if (!isSafeCount(oldSize) || !isSafeCount(newSize) || oldSize === 0 || oldSize >= newSize) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'consistency proof roots need 0 < old size < new size')
  }
  checkHash(oldRoot, 'old root')
  checkProof(proof)
  const [computedOld, computedNew] = rootsFromConsistencyProof(oldSize, newSize, proof, oldRoot, hasher)
  return { oldRoot: computedOld, newRoot: computedNew }
}

/** Steps 1-7 of RFC 9162 §2.1.4.2 for 0 < oldSize < newSize: the [old, new] roots computed. */
function rootsFromConsistencyProof(oldSize: number, newSize: number, proof: readonly Uint8Array[],
    oldRoot: Uint8Array, hasher: MerkleHasher): [Uint8Array, Uint8Array] {
  if (proof.length === 0) throw new TlogError('PROOF_MALFORMED', 'consistency proof is empty')
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof
  let fn = oldSize - 1
  let sn = newSize - 1
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  let fr = path[0]!
  let sr = fr
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!
    if (sn === 0) throw new TlogError('PROOF_MALFORMED', 'consistency proof has too many hashes')
    if (fn % 2 === 1 || fn === sn) {
      fr = hasher.node(c, fr)
      sr = hasher.node(c, sr)
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2
        sn = Math.floor(sn / 2)
      }
    } else {
      sr = hasher.node(sr, c)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  if (sn !== 0) throw new TlogError('PROOF_MALFORMED', 'consistency proof has too few hashes')
  return [fr, sr]
}

/** Constant-length comparison of two byte strings. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!
  return difference === 0
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n
}

function checkHash(hash: unknown, what: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    throw new TlogError('HASH_MALFORMED', `${what} is not ${HASH_SIZE} bytes`)
  }
}

function checkProof(proof: unknown): asserts proof is readonly Uint8Array[] {
  if (!Array.isArray(proof)) throw new TlogError('PROOF_MALFORMED', 'proof is not an array')
  if (proof.length > MAX_PROOF_HASHES) throw new TlogError('PROOF_MALFORMED', 'proof is too long')
  for (const hash of proof) {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
      throw new TlogError('PROOF_MALFORMED', `proof hash is not ${HASH_SIZE} bytes`)
    }
  }
}
