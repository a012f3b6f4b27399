import { TlogError } from './errors.js'
import { type MerkleHasher, defaultHasher } from './hash.js'
import { isSafeCount, shiftRight } from './internal/bits.js'
import type { NodeId } from './proof.js'
import {
  TILE_HEIGHT, TILE_WIDTH, type TileId, decodeStoredTile, encodeStoredTile, nodeLocation,
  partialTileWidth, storedTileWidth,
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

type Rows = Uint8Array[][]

interface OpenTile {
  readonly index: number
  readonly rows: Rows
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
    return new TreeEdge(0, [{ index: 0, rows: emptyRows() }])
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
      if (width === 0) {
        open.push({ index, rows: emptyRows() })
        continue
      }
      const stored = readTile({ level, index, width })
      if (stored === undefined || storedTileWidth(stored) < width) {
        throw new TlogError('TILE_MALFORMED', `tile ${level}/${index} is missing or too narrow`)
      }
      const rows = decodeStoredTile(stored).map((row, r) => row.slice(0, width >> r))
      open.push({ index, rows })
    }
    return new TreeEdge(size, open)
  }

  /**
   * Appends leaf hashes. Each leaf costs one hash plus, on average, one more for the parents it
   * completes. Does not change this edge.
   */
  integrate(leafHashes: readonly Uint8Array[], hasher: MerkleHasher): Integration {
    const open = this.#open.map((tile) => ({ index: tile.index, rows: tile.rows.map((row) => row.slice()) }))
    const fullTiles: StoredTile[] = []
    for (const leafHash of leafHashes) appendNode(open, 0, leafHash, fullTiles, hasher)
    const edge = new TreeEdge(this.size + leafHashes.length, open)
    return { edge, fullTiles, root: edge.root(hasher) }
  }

  /** RFC 6962 MTH of the whole tree: the border subtrees folded right to left. */
  root(hasher: MerkleHasher): Uint8Array {
    let root: Uint8Array | undefined
    for (const tile of this.#open) {
      for (const row of tile.rows) {
        if (row.length % 2 === 1) root = root === undefined ? row[row.length - 1]! : hasher.node(row[row.length - 1]!, root)
      }
    }
    return root ?? hasher.emptyRoot
  }

  /** A node's hash when it lies in one of the open tiles, else undefined. */
  nodeHash(node: NodeId): Uint8Array | undefined {
    const location = nodeLocation(node)
    const tile = this.#open[location.tileLevel]
    if (tile === undefined || tile.index !== location.tileIndex) return undefined
    return tile.rows[location.row]![location.position]
  }

  /**
   * The open tiles of levels `fromLevel` to `toLevel` in stored layout, to persist alongside the
   * full ones; empty ones are left out.
   */
  storedTiles(fromLevel = 0, toLevel = Infinity): StoredTile[] {
    return this.#open.flatMap((tile, level) => {
      const width = tile.rows[0]!.length
      return width === 0 || level < fromLevel || level > toLevel ? []
        : [{ level, index: tile.index, width, data: encodeStoredTile(tile.rows) }]
    })
  }

  /** The hashes of tile `level`/`index` when it is this edge's open tile at that level, else undefined. */
  openTileHashes(level: number, index: number): readonly Uint8Array[] | undefined {
    const tile = this.#open[level]
    return tile === undefined || tile.index !== index ? undefined : tile.rows[0]
  }
}

function appendNode(open: OpenTile[], level: number, hash: Uint8Array, fullTiles: StoredTile[],
    hasher: MerkleHasher): void {
  const tile = open[level] ?? (open[level] = { index: 0, rows: emptyRows() })
  const rows = tile.rows
  rows[0]!.push(hash)
  for (let r = 0; r < TILE_HEIGHT; r++) {
    const row = rows[r]!
    if (row.length % 2 === 1) return
    const parent = hasher.node(row[row.length - 2]!, row[row.length - 1]!)
    if (r + 1 < TILE_HEIGHT) {
      rows[r + 1]!.push(parent)
      continue
    }
    // The tile is full: it is stored for good, and its root moves up a tile level.
    fullTiles.push({ level, index: tile.index, width: TILE_WIDTH, data: encodeStoredTile(rows) })
    open[level] = { index: tile.index + 1, rows: emptyRows() }
    appendNode(open, level + 1, parent, fullTiles, hasher)
  }
}

function emptyRows(): Rows {
  return Array.from({ length: TILE_HEIGHT }, () => [])
}

/** RFC 6962 MTH of a list of leaf hashes. */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[], hasher: MerkleHasher = defaultHasher): Uint8Array {
  return TreeEdge.empty().integrate(leafHashes, hasher).root
}
