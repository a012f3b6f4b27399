import { describe, expect, it } from 'vitest'
import { defaultHasher } from './hash.js'
import { MemoryTree } from './memory.js'
import { consistencyPlan, inclusionPlan } from './proof.js'
import { testLeafHashes } from './testing/reference.js'
import { consistencyProofRoots, verifyConsistency, verifyInclusion } from './verify.js'

const leaves = testLeafHashes(64, defaultHasher)
const tree = new MemoryTree()
tree.appendMany(leaves)
const code = (code: string) => expect.objectContaining({ name: 'TlogError', code })

describe('verifyInclusion on hostile input', () => {
  const proof = tree.inclusionProof(5, 20)
  const root = tree.root(20)

  it('accepts the honest proof', () => {
    expect(() => verifyInclusion(5, 20, leaves[5]!, proof, root)).not.toThrow()
  })

  it.each([
    ['negative index', -1, 20],
    ['fractional index', 1.5, 20],
    ['NaN size', 5, Number.NaN],
    ['infinite size', 5, Number.POSITIVE_INFINITY],
    ['size past 2^53', 5, 2 ** 53],
    ['index equal to size', 20, 20],
    ['empty tree', 0, 0],
  ])('rejects %s', (_, index, size) => {
    expect(() => verifyInclusion(index, size, leaves[5]!, proof, root)).toThrow(code('SIZE_OUT_OF_RANGE'))
  })

  it('rejects hashes of the wrong length and non-arrays', () => {
    expect(() => verifyInclusion(5, 20, leaves[5]!.subarray(1), proof, root)).toThrow(code('HASH_MALFORMED'))
    expect(() => verifyInclusion(5, 20, leaves[5]!, proof, new Uint8Array(33))).toThrow(code('HASH_MALFORMED'))
    expect(() => verifyInclusion(5, 20, leaves[5]!, [...proof.slice(1), new Uint8Array(31)], root)).toThrow(code('PROOF_MALFORMED'))
    expect(() => verifyInclusion(5, 20, leaves[5]!, 'abc' as never, root)).toThrow(code('PROOF_MALFORMED'))
    expect(() => verifyInclusion(5, 20, leaves[5]!, [null] as never, root)).toThrow(code('PROOF_MALFORMED'))
  })

  it('rejects a huge proof before hashing it', () => {
    const huge = Array.from({ length: 1_000_000 }, () => leaves[0]!)
    expect(() => verifyInclusion(5, 20, leaves[5]!, huge, root)).toThrow(code('PROOF_MALFORMED'))
  })

  it('says why: too many, too few, wrong root', () => {
    expect(() => verifyInclusion(5, 20, leaves[5]!, [...proof, leaves[0]!], root)).toThrow(/too many/)
    expect(() => verifyInclusion(5, 20, leaves[5]!, proof.slice(1), root)).toThrow(/too few/)
    expect(() => verifyInclusion(5, 20, leaves[6]!, proof, root)).toThrow(code('PROOF_ROOT_MISMATCH'))
  })

  it('a one-leaf tree has an empty proof and its root is the leaf hash', () => {
    expect(tree.inclusionProof(0, 1)).toEqual([])
    expect(() => verifyInclusion(0, 1, leaves[0]!, [], leaves[0]!)).not.toThrow()
  })
})

describe('verifyConsistency edge cases', () => {
  it('m = 0: any roots, proof must be empty', () => {
    expect(() => verifyConsistency(0, 20, [], defaultHasher.emptyRoot, tree.root(20))).not.toThrow()
    expect(() => verifyConsistency(0, 20, [leaves[0]!], defaultHasher.emptyRoot, tree.root(20))).toThrow(code('PROOF_MALFORMED'))
  })

  it('m = n: proof empty and roots equal', () => {
    expect(() => verifyConsistency(20, 20, [], tree.root(20), tree.root(20))).not.toThrow()
    expect(() => verifyConsistency(20, 20, [], tree.root(20), tree.root(21))).toThrow(code('PROOF_ROOT_MISMATCH'))
    expect(() => verifyConsistency(20, 20, [leaves[0]!], tree.root(20), tree.root(20))).toThrow(code('PROOF_MALFORMED'))
  })

  it('m a power of two: the old root is not in the proof', () => {
    for (const m of [1, 2, 4, 8, 16, 32]) {
      const proof = tree.consistencyProof(m, 50)
      expect(proof.some((hash) => hash.every((b, i) => b === tree.root(m)[i]))).toBe(false)
      expect(() => verifyConsistency(m, 50, proof, tree.root(m), tree.root(50))).not.toThrow()
    }
  })

  it('m < n needs a non-empty proof; m > n is out of range', () => {
    expect(() => verifyConsistency(3, 20, [], tree.root(3), tree.root(20))).toThrow(code('PROOF_MALFORMED'))
    expect(() => verifyConsistency(21, 20, [], tree.root(21), tree.root(20))).toThrow(code('SIZE_OUT_OF_RANGE'))
    expect(() => verifyConsistency(-1, 20, [], tree.root(3), tree.root(20))).toThrow(code('SIZE_OUT_OF_RANGE'))
  })
})

describe('consistencyProofRoots', () => {
  it('leads to both roots for the honest proof, and to another new root for an altered one', () => {
    const tree = new MemoryTree()
    for (const leaf of testLeafHashes(13, defaultHasher)) tree.append(leaf)
    for (const [m, n] of [[5, 13], [8, 13], [1, 2], [12, 13]] as const) {
      const proof = tree.consistencyProof(m, n)
      expect(consistencyProofRoots(m, n, proof, tree.root(m))).toEqual({ oldRoot: tree.root(m), newRoot: tree.root(n) })
      const altered = proof.map((hash) => hash.slice())
      altered.at(-1)![0]! ^= 1
      expect(consistencyProofRoots(m, n, altered, tree.root(m)).newRoot).not.toEqual(tree.root(n))
    }
    // Another old tree behind the same new nodes: the proof, from the new tree, leads to its own old root.
    const other = tree.consistencyProof(5, 13)
    expect(consistencyProofRoots(5, 13, other, new Uint8Array(32)).oldRoot).toEqual(tree.root(5))
    expect(() => consistencyProofRoots(0, 13, [], tree.root(0))).toThrow(expect.objectContaining({ code: 'SIZE_OUT_OF_RANGE' }))
    expect(() => consistencyProofRoots(13, 13, [], tree.root(13))).toThrow(expect.objectContaining({ code: 'SIZE_OUT_OF_RANGE' }))
  })
})

describe('proof plans', () => {
  it('refuse sizes out of range', () => {
    expect(() => inclusionPlan(0, 0)).toThrow(code('SIZE_OUT_OF_RANGE'))
    expect(() => inclusionPlan(2 ** 53, 2 ** 53 + 2)).toThrow(code('SIZE_OUT_OF_RANGE'))
    expect(() => consistencyPlan(5, 4)).toThrow(code('SIZE_OUT_OF_RANGE'))
  })

  it('read at most one node per level plus the ragged edge', () => {
    const plan = inclusionPlan(2 ** 45 + 12345, 2 ** 46 - 3)
    expect(plan.elements.length).toBeLessThanOrEqual(46)
    for (const element of plan.elements) {
      for (const node of element) expect((node.index + 1) * 2 ** node.level).toBeLessThanOrEqual(2 ** 46 - 3)
    }
  })
})
