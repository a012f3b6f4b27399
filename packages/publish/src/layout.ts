// Which objects of the C2SP tlog-tiles layout a publication uploads, and with which headers.
import { TILE_WIDTH, type TileResource, entryBundlePath, hashTilePath, partialTileWidth } from '@annal/tlog'

/** Full tiles and bundles never change: a cache may keep them for good. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'
/** Partial tiles give way to full ones (and may be deleted then), as the API serves them. */
export const SHORT_LIVED = 'public, max-age=10'
/** The checkpoint moves with every publication: a cache must ask again each time. */
export const CHECKPOINT_CACHE = 'public, no-cache'
export const TILE_CONTENT_TYPE = 'application/octet-stream'
export const CHECKPOINT_CONTENT_TYPE = 'text/plain; charset=utf-8'

/**
 * The full hash tiles (every level) and full entry bundles of a tree of `to` leaves that a tree
 * of `from` leaves lacks, in the order they fill: a bundle, its level-0 tile, then each tile
 * above that it completes. Both sizes are multiples of 256; yields as it goes, so that a
 * backlog of any size takes no memory.
 */
export function* filledTiles(from: number, to: number): Generator<TileResource> {
  if (!isTileBoundary(from) || !isTileBoundary(to) || from > to) throw new RangeError('filledTiles takes multiples of 256, from <= to')
  for (let size = from + TILE_WIDTH; size <= to; size += TILE_WIDTH) {
    const bundle = size / TILE_WIDTH - 1
    yield { kind: 'entries', index: bundle, width: TILE_WIDTH }
    yield { kind: 'hash', level: 0, index: bundle, width: TILE_WIDTH }
    // Tile (level, n) covers 256^(level + 1) leaves: it fills when the size reaches a multiple of that.
    for (let level = 1, span = TILE_WIDTH ** 2; size % span === 0; level++, span *= TILE_WIDTH) {
      yield { kind: 'hash', level, index: size / span - 1, width: TILE_WIDTH }
    }
  }
}

/** The partial tiles (every level) and the partial bundle at the right edge of a tree of `size`. */
export function partialTiles(size: number): TileResource[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('a tree size is a safe non-negative integer')
  const tiles: TileResource[] = []
  if (size % TILE_WIDTH !== 0) tiles.push({ kind: 'entries', index: Math.floor(size / TILE_WIDTH), width: size % TILE_WIDTH })
  for (let level = 0, span = TILE_WIDTH; span / TILE_WIDTH <= size; level++, span *= TILE_WIDTH) {
    const width = partialTileWidth(level, size)
    if (width > 0) tiles.push({ kind: 'hash', level, index: Math.floor(size / span), width })
  }
  return tiles
}

/** A tile's path under its log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath(tile: TileResource): string {
  return tile.kind === 'entries' ? entryBundlePath(tile.index, tile.width) : hashTilePath(tile)
}

/** The size below which every tile and bundle is full. */
export function fullPart(size: number): number {
  return size - (size % TILE_WIDTH)
}

function isTileBoundary(size: number): boolean {
  return Number.isSafeInteger(size) && size >= 0 && size % TILE_WIDTH === 0
}

