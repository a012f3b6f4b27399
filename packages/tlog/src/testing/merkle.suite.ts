import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { isTlogError } from '../errors.js'
import type { MerkleHasher } from '../hash.js'
import { MemoryTree } from '../memory.js'
import { assembleProof, consistencyPlan, inclusionPlan, rootPlan } from '../proof.js'
import { verifyConsistency, verifyInclusion } from '../verify.js'
import { bytesToHex } from '../hex.js'
import { ReferenceTree, testLeafHashes } from './reference.js'

/** Proof generation and verification against the RFC 6962 §2.1 definitions. */
export function merkleSuite(hasher: MerkleHasher): void {
  describe(`Merkle proofs (${hasher.provider.name})`, () => {
    const leaves = testLeafHashes(300, hasher)
    const reference = new ReferenceTree(leaves, hasher)
    const tree = new MemoryTree(hasher)
    tree.appendMany(leaves)

    it('roots equal MTH for every size 0..300', () => {
      for (let size = 0; size <= 300; size++) expect(tree.root(size)).toEqual(reference.mth(0, size))
    })

    // Every leaf of every size to 64, and of the sizes each side of a power of two and of the
    // first tile boundary; random pairs in between (every size to 300 took seconds for no other shape).
    it('inclusion proofs equal PATH and verify: every leaf of sizes to 64 and at tile edges, and at random', () => {
      const check = (index: number, size: number) => {
        const proof = tree.inclusionProof(index, size)
        expect(hex(proof)).toBe(hex(reference.path(index, 0, size)))
        verifyInclusion(index, size, leaves[index]!, proof, reference.mth(0, size), hasher)
      }
      for (const size of [...Array.from({ length: 64 }, (_, i) => i + 1), 127, 128, 129, 255, 256, 257, 300]) {
        for (let index = 0; index < size; index++) check(index, size)
      }
      fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (size, a) => check(a % size, size)), { numRuns: 300 })
    })

    it('every consistency proof for 0 <= m <= n <= 128 equals PROOF and verifies', () => {
      for (let n = 0; n <= 128; n++) {
        for (let m = 0; m <= n; m++) {
          const proof = tree.consistencyProof(m, n)
          expect(hex(proof)).toBe(hex(reference.consistency(m, n)))
          verifyConsistency(m, n, proof, reference.mth(0, m), reference.mth(0, n), hasher)
        }
      }
    })

    it('consistency proofs from every size into sizes up to 300 verify', () => {
      for (const n of [129, 200, 255, 256, 257, 299, 300]) {
        for (let m = 0; m <= n; m++) {
          verifyConsistency(m, n, tree.consistencyProof(m, n), reference.mth(0, m), reference.mth(0, n), hasher)
        }
      }
    })
  })

  // Past 256^2 leaves the tree stores level-2 tiles, the highest level below 256^3 leaves.
  describe(`Merkle proofs at random sizes up to 200,000 (${hasher.provider.name})`, () => {
    const size = 200_000
    const tree = new MemoryTree(hasher)
    let leaves: Uint8Array[] = []
    beforeAll(() => {
      leaves = testLeafHashes(size, hasher)
      for (let i = 0; i < size; i += 4096) tree.appendMany(leaves.slice(i, i + 4096))
    })

    it('roots at sizes around tile levels equal MTH', () => {
      const reference = new ReferenceTree(leaves, hasher)
      for (const n of [1, 2 ** 16, 2 ** 16 + 1, 2 ** 17, 199_999, size]) expect(tree.root(n)).toEqual(reference.mth(0, n))
    })

    it('inclusion and consistency proofs at random sizes verify', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: size }), fc.nat(), fc.nat(), (n, a, b) => {
        const index = a % n
        const m = b % (n + 1)
        const root = tree.root(n)
        verifyInclusion(index, n, leaves[index]!, tree.inclusionProof(index, n), root, hasher)
        verifyConsistency(m, n, tree.consistencyProof(m, n), tree.root(m), root, hasher)
      }), { numRuns: 300 })
    })
  })

  describe(`tampered proofs are rejected (${hasher.provider.name})`, () => {
    const leaves = testLeafHashes(1000, hasher)
    const tree = new MemoryTree(hasher)
    tree.appendMany(leaves)
    const sizes = fc.integer({ min: 1, max: 1000 })

    it('inclusion: flipped bit, dropped, added or reordered hash, wrong index, wrong size', () => {
      fc.assert(fc.property(sizes, fc.nat(), fc.nat(), fc.nat(), (size, a, b, c) => {
        const index = a % size
        const proof = tree.inclusionProof(index, size)
        const root = tree.root(size)
        for (const bad of tamperedProofs(proof, b, c)) {
          expectRejected(() => verifyInclusion(index, size, leaves[index]!, bad, root, hasher))
        }
        const otherIndex = (index + 1 + (b % size)) % size
        if (otherIndex !== index) expectRejected(() => verifyInclusion(otherIndex, size, leaves[index]!, proof, root, hasher))
        const otherSize = 1 + ((size + c) % 1000)
        if (otherSize !== size && index < otherSize) {
          expectRejected(() => verifyInclusion(index, otherSize, leaves[index]!, proof, tree.root(otherSize), hasher))
        }
        expectRejected(() => verifyInclusion(index, size, leaves[(index + 1) % 1000]!, proof, root, hasher))
        expectRejected(() => verifyInclusion(index, size, leaves[index]!, proof, flipBit(root, c), hasher))
      }), { numRuns: 400 })
    })

    it('consistency: flipped bit, dropped, added or reordered hash, wrong sizes, wrong roots', () => {
      fc.assert(fc.property(sizes, sizes, fc.nat(), fc.nat(), (x, y, b, c) => {
        const [m, n] = x <= y ? [x, y] : [y, x]
        if (m === n) return
        const proof = tree.consistencyProof(m, n)
        const oldRoot = tree.root(m)
        const newRoot = tree.root(n)
        for (const bad of tamperedProofs(proof, b, c)) {
          expectRejected(() => verifyConsistency(m, n, bad, oldRoot, newRoot, hasher))
        }
        expectRejected(() => verifyConsistency(m, n, proof, flipBit(oldRoot, c), newRoot, hasher))
        expectRejected(() => verifyConsistency(m, n, proof, oldRoot, flipBit(newRoot, b), hasher))
        if (m > 1) expectRejected(() => verifyConsistency(m - 1, n, proof, tree.root(m - 1), newRoot, hasher))
        if (n < 1000) expectRejected(() => verifyConsistency(m, n + 1, proof, oldRoot, tree.root(n + 1), hasher))
      }), { numRuns: 400 })
    })
  })

  describe(`sizes far past 2^32 (${hasher.provider.name})`, () => {
    // A tree whose even leaves all hash to A and odd leaves to B: every perfect subtree of one
    // level then has the same hash, so proofs over 2^40..2^53 leaves can be built and checked.
    const evenLeaf = hasher.leaf(new Uint8Array([1]))
    const oddLeaf = hasher.leaf(new Uint8Array([2]))
    const perfect: Uint8Array[] = [hasher.node(evenLeaf, oddLeaf)] // perfect[h - 1]: level h >= 1
    for (let h = 2; h <= 53; h++) perfect.push(hasher.node(perfect.at(-1)!, perfect.at(-1)!))
    const nodeHash = (level: number, index: number): Uint8Array =>
      level === 0 ? (index % 2 === 0 ? evenLeaf : oddLeaf) : perfect[level - 1]!
    const hashOf = ({ level, index }: { level: number; index: number }) => nodeHash(level, index)
    const rootOf = (size: number) => assembleProof(rootPlan(size), hashOf, hasher)[0]!
    const big = fc.oneof(
      fc.integer({ min: 2 ** 40, max: Number.MAX_SAFE_INTEGER }),
      fc.constantFrom(2 ** 40, 2 ** 40 + 1, 2 ** 53 - 1, 2 ** 52, 2 ** 52 + 2 ** 32 + 7))

    it('inclusion proofs verify and tampering is caught', () => {
      fc.assert(fc.property(big, fc.double({ min: 0, max: 1, noNaN: true }), (size, t) => {
        const index = Math.min(size - 1, Math.floor(t * size))
        const proof = assembleProof(inclusionPlan(index, size), hashOf, hasher)
        const root = rootOf(size)
        verifyInclusion(index, size, nodeHash(0, index), proof, root, hasher)
        expectRejected(() => verifyInclusion(index, size, nodeHash(0, index + 1), proof, root, hasher))
        expectRejected(() => verifyInclusion(index, size, nodeHash(0, index), proof.slice(1), root, hasher))
      }), { numRuns: 200 })
    })

    it('consistency proofs verify and tampering is caught', () => {
      fc.assert(fc.property(big, big, (x, y) => {
        const [m, n] = x <= y ? [x, y] : [y, x]
        const proof = assembleProof(consistencyPlan(m, n), hashOf, hasher)
        verifyConsistency(m, n, proof, rootOf(m), rootOf(n), hasher)
        if (proof.length > 0) expectRejected(() => verifyConsistency(m, n, proof.slice(0, -1), rootOf(m), rootOf(n), hasher))
      }), { numRuns: 200 })
    })
  })
}

/** Single-point corruptions of a proof: each must make verification fail. */
function tamperedProofs(proof: readonly Uint8Array[], b: number, c: number): Uint8Array[][] {
  const out: Uint8Array[][] = [[...proof, proof[0] ?? new Uint8Array(32)]]
  if (proof.length > 0) {
    const at = b % proof.length
    out.push(proof.map((hash, i) => (i === at ? flipBit(hash, c) : hash)))
    out.push(proof.filter((_, i) => i !== at))
    out.push([...proof.slice(0, at), new Uint8Array(32).fill(7), ...proof.slice(at)])
  }
  if (proof.length > 1) {
    const at = b % (proof.length - 1)
    const swapped = [...proof]
    ;[swapped[at], swapped[at + 1]] = [swapped[at + 1]!, swapped[at]!]
    out.push(swapped)
  }
  return out
}

function flipBit(hash: Uint8Array, seed: number): Uint8Array {
  const out = hash.slice()
  out[seed % out.length]! ^= 1 << (seed % 8)
  return out
}

function expectRejected(verify: () => void): void {
  try {
    verify()
  } catch (error) {
    if (isTlogError(error)) return
    throw error
  }
  throw new Error('tampered proof was accepted')
}

function hex(proof: readonly Uint8Array[]): string {
  return proof.map(bytesToHex).join(',')
}
