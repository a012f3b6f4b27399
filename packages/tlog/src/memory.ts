import { TreeEdge } from './edge.js'
import { TlogError } from './errors.js'
import { type MerkleHasher, defaultHasher } from './hash.js'
import {
  type NodeId, type ProofPlan, assembleProof, consistencyPlan, inclusionPlan, rootPlan,
} from './proof.js'
import { nodeLocation, storedTileNode } from './tiles.js'

/**
 * A Merkle tree held in memory in the same tiled layout the store persists: for tests, demos,
 * benchmarks and clients that rebuild a small tree. Proofs are available for every size up to
 * the current one.
 */
export class MemoryTree {
  readonly hasher: MerkleHasher
  #edge = TreeEdge.empty()
  readonly #fullTiles = new Map<string, Uint8Array>()

  constructor(hasher: MerkleHasher = defaultHasher) {
    this.hasher = hasher
  }

  get size(): number {
    return this.#edge.size
  }

  /** Appends one leaf hash and returns its index. */
  append(leafHash: Uint8Array): number {
    this.appendMany([leafHash])
    return this.#edge.size - 1
  }

  /** Appends leaf hashes in order and returns the new root. */
  appendMany(leafHashes: readonly Uint8Array[]): Uint8Array {
    const { edge, fullTiles, root } = this.#edge.integrate(leafHashes, this.hasher)
    for (const tile of fullTiles) this.#fullTiles.set(`${tile.level}/${tile.index}`, tile.data)
    this.#edge = edge
    return root
  }

  /** The root of the tree at `size` (default: now). */
  root(size: number = this.size): Uint8Array {
    this.#checkSize(size)
    if (size === this.size) return this.#edge.root(this.hasher)
    return size === 0 ? this.hasher.emptyRoot : this.#prove(rootPlan(size))[0]!
  }

  /** RFC 9162 inclusion proof of leaf `index` in the tree at `size`. */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    this.#checkSize(size)
    return this.#prove(inclusionPlan(index, size))
  }

  /** RFC 9162 consistency proof from `oldSize` to `newSize`. */
  consistencyProof(oldSize: number, newSize: number = this.size): Uint8Array[] {
    this.#checkSize(newSize)
    return this.#prove(consistencyPlan(oldSize, newSize))
  }

  /** The hash of a perfect subtree that the tree already holds. */
  nodeHash(node: NodeId): Uint8Array {
    const hash = this.#edge.nodeHash(node) ?? this.#storedNode(node)
    if (hash === undefined) throw new TlogError('SIZE_OUT_OF_RANGE', 'node is not in the tree')
    return hash
  }

  #storedNode(node: NodeId): Uint8Array | undefined {
    const location = nodeLocation(node)
    const tile = this.#fullTiles.get(`${location.tileLevel}/${location.tileIndex}`)
    return tile && storedTileNode(tile, location.row, location.position)
  }

  #prove(plan: ProofPlan): Uint8Array[] {
    return assembleProof(plan, (node) => this.nodeHash(node), this.hasher)
  }

  #checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new TlogError('SIZE_OUT_OF_RANGE', 'tree size is beyond the tree')
    }
  }
}
