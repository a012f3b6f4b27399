import { TlogError } from './errors.js'
import type { MerkleHasher } from './hash.js'
import { bitLength, divergence, isSafeCount, shiftRight, trailingZeros } from './internal/bits.js'

/** A perfect subtree: the 2^level leaves from index * 2^level on. Level 0 is a leaf hash. */
export interface NodeId {
  readonly level: number
  readonly index: number
}

/**
 * A proof before any hash is read. Each element is the hash of one perfect subtree, except the
 * one element that covers a ragged right edge: the RFC 6962 hash of several perfect subtrees,
 * folded right to left. Storage reads `planNodes(plan)` in one batch, then `assembleProof`.
 */
export interface ProofPlan {
  readonly elements: readonly (readonly NodeId[])[]
}

/**
 * RFC 9162 §2.1.3.1 inclusion proof shape for leaf `index` in a tree of `size` leaves.
 * @throws TlogError SIZE_OUT_OF_RANGE unless 0 <= index < size <= 2^53 - 1.
 */
export function inclusionPlan(index: number, size: number): ProofPlan {
  checkCount(size, 'tree size')
  checkCount(index, 'index')
  if (index >= size) throw new TlogError('SIZE_OUT_OF_RANGE', 'index is not below tree size')
  return { elements: pathToRoot(0, index, size) }
}

/**
 * RFC 9162 §2.1.4.1 consistency proof shape from `oldSize` to `newSize`. Empty when the sizes
 * are equal or oldSize is 0.
 * @throws TlogError SIZE_OUT_OF_RANGE unless 0 <= oldSize <= newSize <= 2^53 - 1.
 */
export function consistencyPlan(oldSize: number, newSize: number): ProofPlan {
  checkCount(oldSize, 'old size')
  checkCount(newSize, 'new size')
  if (oldSize > newSize) throw new TlogError('SIZE_OUT_OF_RANGE', 'old size exceeds new size')
  if (oldSize === 0 || oldSize === newSize) return { elements: [] }
  // The proof climbs from the largest perfect subtree that ends where the old tree ends. When
  // that subtree is the whole old tree (oldSize a power of two) the verifier already has it.
  const level = trailingZeros(oldSize)
  const index = shiftRight(oldSize, level) - 1
  const path = pathToRoot(level, index, newSize)
  return { elements: index === 0 ? path : [[{ level, index }], ...path] }
}

/** The perfect subtrees whose folded hashes make the root of a tree of `size` > 0 leaves. */
export function rootPlan(size: number): ProofPlan {
  checkCount(size, 'tree size')
  if (size === 0) throw new TlogError('SIZE_OUT_OF_RANGE', 'the empty tree has no nodes')
  return { elements: [rangeNodes(0, size)] }
}

/** Every distinct node a plan reads, in first-use order. */
export function planNodes(plan: ProofPlan): NodeId[] {
  const seen = new Set<string>()
  const nodes: NodeId[] = []
  for (const element of plan.elements) {
    for (const node of element) {
      const key = `${node.level}/${node.index}`
      if (!seen.has(key)) {
        seen.add(key)
        nodes.push(node)
      }
    }
  }
  return nodes
}

/** Builds the proof hashes of `plan` from a lookup of each node's hash. */
export function assembleProof(plan: ProofPlan, hashOf: (node: NodeId) => Uint8Array,
    hasher: MerkleHasher): Uint8Array[] {
  return plan.elements.map((element) => foldNodes(element, hashOf, hasher))
}

function foldNodes(nodes: readonly NodeId[], hashOf: (node: NodeId) => Uint8Array,
    hasher: MerkleHasher): Uint8Array {
  let i = nodes.length - 1
  let hash = hashOf(nodes[i]!)
  while (--i >= 0) hash = hasher.node(hashOf(nodes[i]!), hash)
  return hash
}

/**
 * The proof path from perfect subtree (level, index) to the root of a tree of `size` leaves:
 * full siblings below the level where the path meets the tree's last leaf, then the (possibly
 * ragged) right sibling at that level, then left siblings above it.
 */
function pathToRoot(level: number, index: number, size: number): NodeId[][] {
  const last = shiftRight(size - 1, level)
  const inner = divergence(index, last)
  const elements: NodeId[][] = []
  for (let h = 0; h < inner - 1; h++) {
    elements.push([{ level: level + h, index: sibling(shiftRight(index, h)) }])
  }
  if (inner > 0) {
    const start = (shiftRight(index, inner - 1) + 1) * 2 ** (level + inner - 1)
    elements.push(rangeNodes(start, size))
  }
  for (let h = inner, k = shiftRight(index, inner); k > 0; h++, k = Math.floor(k / 2)) {
    if (k % 2 === 1) elements.push([{ level: level + h, index: k - 1 }])
  }
  return elements
}

/** The perfect subtrees, largest first, that tile leaves [start, end); start must be aligned. */
function rangeNodes(start: number, end: number): NodeId[] {
  const nodes: NodeId[] = []
  let position = start
  for (let level = bitLength(end - start) - 1; level >= 0; level--) {
    const width = 2 ** level
    if (end - position >= width) {
      nodes.push({ level, index: position / width })
      position += width
    }
  }
  return nodes
}

function sibling(index: number): number {
  return index % 2 === 0 ? index + 1 : index - 1
}

function checkCount(n: number, what: string): void {
  if (!isSafeCount(n)) throw new TlogError('SIZE_OUT_OF_RANGE', `${what} is not an integer in 0..2^53-1`)
}
