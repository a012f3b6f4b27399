import { TlogError } from './errors.js'
import { HASH_SIZE, type MerkleHasher, defaultHasher } from './hash.js'
import { isSafeCount, shiftRight } from './internal/bits.js'
import type { NodeId } from './proof.js'
import {
  TILE_HEIGHT, TILE_WIDTH, type TileId, decodeStoredTile, nodeLocation, partialTileWidth,
  storedTileHashCount, storedTileWidth,
} from './tiles.js'

/** A tile in Annal's stored layout (see storedTileHashCount) with its coordinates. */
export interface StoredTile extends TileId {
  readonly data: Uint8Array
}

/** What appending a batch produced: the tiles to persist and the new tree head. */
export interface Integration {
  readonly edge: TreeEdge
  /** Tiles that became full in this batch, each written once and never again. */
  readonly fullTiles: readonly StoredTile[]
  readonly root: Uint8Array
}

/** Byte offset of row r in the stored layout of a full tile: rows of 256, 128, ..., 2 hashes. */
const ROW_OFFSETS = Array.from({ length: TILE_HEIGHT }, (_, row) => {
  let hashes = 0
  for (let below = 0; below < row; below++) hashes += TILE_WIDTH >> below
  return hashes * HASH_SIZE
})
const FULL_TILE_BYTES = storedTileHashCount(TILE_WIDTH) * HASH_SIZE

/**
 * The hashes of one open tile, in the stored layout of a full tile, so that the tile is its own
 * stored form once full. After them, 65 bytes to hash a pair in place: 0x01, then the pair,
 * copied from its row (RFC 6962's interior node input), which spares an array for every node.
 *
 * Edges share buffers: a new edge writes only past the old one's width, which leaves the old
 * edge's hashes as they were. `claimed` is the widest edge built on the buffer; an edge
 * narrower than that is not the latest, so integrating it again copies the buffer first.
 */
class TileHashes {
  readonly bytes: Uint8Array
  readonly #pair: Uint8Array
  claimed = 0

  constructor(from?: TileHashes) {
    this.bytes = from === undefined ? new Uint8Array(FULL_TILE_BYTES + 1 + 2 * HASH_SIZE) : from.bytes.slice()
    this.bytes[FULL_TILE_BYTES] = 1
    this.#pair = this.bytes.subarray(FULL_TILE_BYTES)
  }

  /** The hash at `position` in `row`, as a view. */
  node(row: number, position: number): Uint8Array {
    const offset = ROW_OFFSETS[row]! + position * HASH_SIZE
    return this.bytes.subarray(offset, offset + HASH_SIZE)
  }

  /** Hashes the pair starting at byte `left` into `out` at `offset`. */
  hashPair(left: number, out: Uint8Array, offset: number, hasher: MerkleHasher): void {
    this.bytes.copyWithin(FULL_TILE_BYTES + 1, left, left + 2 * HASH_SIZE)
    hasher.nodeInto(this.#pair, out, offset)
  }
}

interface OpenTile {
  readonly index: number
  /** Hashes in the tile's row 0; row r holds width >> r nodes. */
  readonly width: number
  readonly hashes: TileHashes
}

/** An open tile while a batch is integrated into it. */
interface GrowingTile {
  index: number
  width: number
  hashes: TileHashes
}

/** Puts `hash` next in row 0 of the open tile at `level`, with the nodes it completes above it. */
function appendNode(open: GrowingTile[], level: number, hash: Uint8Array, fullTiles: StoredTile[],
    hasher: MerkleHasher): void {
  const tile = open[level] ?? (open[level] = { index: 0, width: 0, hashes: new TileHashes() })
  const bytes = tile.hashes.bytes
  bytes.set(hash, tile.width * HASH_SIZE)
  const width = ++tile.width
  // Row r holds width >> r nodes; when that count is even, its last two are a new pair whose parent goes a row up.
  for (let row = 0; ((width >> row) & 1) === 0; row++) {
    const left = ROW_OFFSETS[row]! + ((width >> row) - 2) * HASH_SIZE
    if (row + 1 < TILE_HEIGHT) {
      tile.hashes.hashPair(left, bytes, ROW_OFFSETS[row + 1]! + ((width >> (row + 1)) - 1) * HASH_SIZE, hasher)
      continue
    }
    // The tile is full: it is stored for good, and its root moves up a tile level.
    const root = new Uint8Array(HASH_SIZE)
    tile.hashes.hashPair(left, root, 0, hasher)
    tile.hashes.claimed = TILE_WIDTH
    fullTiles.push({ level, index: tile.index, width: TILE_WIDTH, data: bytes.subarray(0, FULL_TILE_BYTES) })
    open[level] = { index: tile.index + 1, width: 0, hashes: new TileHashes() }
    appendNode(open, level + 1, root, fullTiles, hasher)
    return
  }
}

/**
 * The rightmost, incomplete tile of every tile level: all that appending needs, O(log n) in size.
 * Immutable: `integrate` returns a new edge, so a failed write leaves the caller's edge intact.
 */
export class TreeEdge {
  readonly size: number
  readonly #open: readonly OpenTile[]

  private constructor(size: number, open: readonly OpenTile[]) {
    this.size = size
    this.#open = open
  }

  static empty(): TreeEdge {
    return new TreeEdge(0, [{ index: 0, width: 0, hashes: new TileHashes() }])
  }

  /** The partial tiles `open` must be given for a tree of `size` (none for width 0). */
  static tilesToOpen(size: number): TileId[] {
    if (!isSafeCount(size)) throw new TlogError('SIZE_OUT_OF_RANGE', 'tree size is not an integer in 0..2^53-1')
    const tiles: TileId[] = []
    for (let level = 0; level === 0 || shiftRight(size, TILE_HEIGHT * level) > 0; level++) {
      const width = partialTileWidth(level, size)
      if (width > 0) tiles.push({ level, index: shiftRight(size, TILE_HEIGHT * (level + 1)), width })
    }
    return tiles
  }

  /**
   * Rebuilds the edge of a tree of `size` from its stored partial tiles (as listed by
   * tilesToOpen); a stored tile may be wider than needed and is cut to the width.
   * @throws TlogError TILE_MALFORMED when a tile is missing or too narrow.
   */
  static open(size: number, readTile: (tile: TileId) => Uint8Array | undefined): TreeEdge {
    const open: OpenTile[] = []
    for (let level = 0; level === 0 || shiftRight(size, TILE_HEIGHT * level) > 0; level++) {
      const index = shiftRight(size, TILE_HEIGHT * (level + 1))
      const width = partialTileWidth(level, size)
      const hashes = new TileHashes()
      if (width > 0) {
        const stored = readTile({ level, index, width })
        if (stored === undefined || storedTileWidth(stored) < width) {
          throw new TlogError('TILE_MALFORMED', `tile ${level}/${index} is missing or too narrow`)
        }
        decodeStoredTile(stored).forEach((row, r) => {
          for (let i = 0; i < width >> r; i++) hashes.bytes.set(row[i]!, ROW_OFFSETS[r]! + i * HASH_SIZE)
        })
        hashes.claimed = width
      }
      open.push({ index, width, hashes })
    }
    return new TreeEdge(size, open)
  }

  /**
   * Appends leaf hashes. Each leaf costs one hash plus, on average, one more for the parents it
   * completes. Does not change this edge.
   */
  integrate(leafHashes: readonly Uint8Array[], hasher: MerkleHasher): Integration {
    const open: GrowingTile[] = this.#open.map(({ index, width, hashes }) =>
      ({ index, width, hashes: hashes.claimed > width ? new TileHashes(hashes) : hashes }))
    const fullTiles: StoredTile[] = []
    for (const leafHash of leafHashes) appendNode(open, 0, leafHash, fullTiles, hasher)
    for (const tile of open) tile.hashes.claimed = tile.width
    const edge = new TreeEdge(this.size + leafHashes.length, open)
    return { edge, fullTiles, root: edge.root(hasher) }
  }

  /** RFC 6962 MTH of the whole tree: the border subtrees folded right to left. */
  root(hasher: MerkleHasher): Uint8Array {
    let root: Uint8Array | undefined
    for (const { width, hashes } of this.#open) {
      for (let row = 0; row < TILE_HEIGHT; row++) {
        const count = width >> row
        if (count % 2 === 1) {
          const node = hashes.node(row, count - 1)
          root = root === undefined ? node.slice() : hasher.node(node, root)
        }
      }
    }
    return root ?? hasher.emptyRoot
  }

  /** A node's hash when it lies in one of the open tiles, else undefined. */
  nodeHash(node: NodeId): Uint8Array | undefined {
    const { tileLevel, tileIndex, row, position } = nodeLocation(node)
    const tile = this.#open[tileLevel]
    if (tile === undefined || tile.index !== tileIndex || position >= tile.width >> row) return undefined
    return tile.hashes.node(row, position)
  }

  /**
   * The open tiles of levels `fromLevel` to `toLevel` in stored layout, to persist alongside the
   * full ones; empty ones are left out.
   */
  storedTiles(fromLevel = 0, toLevel = Infinity): StoredTile[] {
    return this.#open.flatMap(({ index, width, hashes }, level) => {
      if (width === 0 || level < fromLevel || level > toLevel) return []
      const data = new Uint8Array(storedTileHashCount(width) * HASH_SIZE)
      let offset = 0
      for (let row = 0; row < TILE_HEIGHT; row++) {
        const length = (width >> row) * HASH_SIZE
        data.set(hashes.bytes.subarray(ROW_OFFSETS[row]!, ROW_OFFSETS[row]! + length), offset)
        offset += length
      }
      return [{ level, index, width, data }]
    })
  }

  /**
   * The first `width` hashes of tile `level`/`index` (a copy), when it is this edge's open tile
   * at that level and holds that many; else undefined.
   */
  openTileBytes(level: number, index: number, width: number): Uint8Array | undefined {
    const tile = this.#open[level]
    if (tile === undefined || tile.index !== index || width > tile.width) return undefined
    return tile.hashes.bytes.slice(0, width * HASH_SIZE)
  }
}

/** RFC 6962 MTH of a list of leaf hashes. */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[], hasher: MerkleHasher = defaultHasher): Uint8Array {
  return TreeEdge.empty().integrate(leafHashes, hasher).root
}
