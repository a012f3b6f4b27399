import { rootFromLeafHashes } from './edge.js'
import { TlogError } from './errors.js'
import { HASH_SIZE, type MerkleHasher, defaultHasher } from './hash.js'
import { isSafeCount, shiftRight } from './internal/bits.js'
import { type NodeId, type ProofPlan, assembleProof, planNodes } from './proof.js'
import { TILE_HEIGHT, TILE_WIDTH, type TileId, nodeLocation, partialTileWidth } from './tiles.js'

// Proofs from C2SP tlog-tiles hash tiles, as a client that holds no tree computes them: the
// nodes a plan needs are read from the tiles a log publishes at one tree size.

/** The tile a caller hands back: the C2SP hash tile bytes, exactly `width` hashes. */
export type TileLookup = (tile: TileId) => Uint8Array | undefined

/**
 * The hash tiles of the tree of `size` leaves that hold the nodes of `plan` (which must be a
 * plan for a tree of at most `size` leaves), each once, in first-use order. `width` is the
 * tile's width at `size`: 256 for a full tile, else the partial width the log publishes then.
 * @throws TlogError SIZE_OUT_OF_RANGE when a node is not in the tree of `size` leaves.
 */
export function planTiles(plan: ProofPlan, size: number): TileId[] {
  const seen = new Set<string>()
  const tiles: TileId[] = []
  for (const node of planNodes(plan)) {
    checkNode(node, size)
    const { tileLevel, tileIndex } = nodeLocation(node)
    const key = `${tileLevel}/${tileIndex}`
    if (!seen.has(key)) {
      seen.add(key)
      tiles.push({ level: tileLevel, index: tileIndex, width: tileWidthAt(tileLevel, tileIndex, size) })
    }
  }
  return tiles
}

/**
 * The proof hashes of `plan` in the tree of `size` leaves, read from the tiles planTiles lists
 * (each `width` * 32 bytes). A node r levels above its tile's level is hashed up (RFC 6962
 * §2.1) from the 2^r tile hashes it covers.
 * @throws TlogError SIZE_OUT_OF_RANGE (a node beyond the tree), TILE_NOT_FOUND (lookup gave
 * nothing), TILE_MALFORMED (a tile of the wrong length).
 */
export function proofFromTiles(plan: ProofPlan, size: number, lookup: TileLookup,
    hasher: MerkleHasher = defaultHasher): Uint8Array[] {
  const hashes = new Map<string, Uint8Array>()
  for (const node of planNodes(plan)) hashes.set(`${node.level}/${node.index}`, nodeFromTiles(node, size, lookup, hasher))
  return assembleProof(plan, (node) => hashes.get(`${node.level}/${node.index}`)!, hasher)
}

/** The hash of perfect subtree `node` of the tree of `size` leaves, from its tile. Throws as proofFromTiles. */
export function nodeFromTiles(node: NodeId, size: number, lookup: TileLookup,
    hasher: MerkleHasher = defaultHasher): Uint8Array {
  checkNode(node, size)
  const { tileLevel, tileIndex, row, position } = nodeLocation(node)
  const tile: TileId = { level: tileLevel, index: tileIndex, width: tileWidthAt(tileLevel, tileIndex, size) }
  const bytes = lookup(tile)
  if (bytes === undefined) throw new TlogError('TILE_NOT_FOUND', 'a tile the proof needs is missing')
  if (!(bytes instanceof Uint8Array) || bytes.length !== tile.width * HASH_SIZE) {
    throw new TlogError('TILE_MALFORMED', `tile is not ${tile.width} hashes long`)
  }
  // The node covers 2^row of the tile's hashes; with a power of two, their MTH is the node.
  const span = 2 ** row
  const first = position * span
  const covered = Array.from({ length: span }, (_, i) => bytes.slice((first + i) * HASH_SIZE, (first + i + 1) * HASH_SIZE))
  return rootFromLeafHashes(covered, hasher)
}

/** The width of tile (level, index) in the tree of `size` leaves (0 if it has no hash yet). */
function tileWidthAt(level: number, index: number, size: number): number {
  const full = shiftRight(size, TILE_HEIGHT * (level + 1))
  return index < full ? TILE_WIDTH : index === full ? partialTileWidth(level, size) : 0
}

function checkNode(node: NodeId, size: number): void {
  if (!isSafeCount(size)) throw new TlogError('SIZE_OUT_OF_RANGE', 'tree size is not an integer in 0..2^53-1')
  if (!Number.isInteger(node.level) || node.level < 0 || node.level > 63 || !isSafeCount(node.index)
      || (node.index + 1) * 2 ** node.level > size) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'node is not in the tree')
  }
}
