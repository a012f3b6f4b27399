import { TlogError } from './errors.js'
import { HASH_SIZE } from './hash.js'
import { isSafeCount, shiftRight } from './internal/bits.js'
import type { NodeId } from './proof.js'

/** C2SP tlog-tiles: a tile holds 256 hashes of one tree level, spanning 8 levels of the tree. */
export const TILE_HEIGHT = 8
export const TILE_WIDTH = 256
/** The largest entry an entry bundle can carry (a big-endian uint16 length prefix). */
export const MAX_ENTRY_SIZE = 0xffff

/** A hash tile or entry bundle: `width` is 256 for a full tile, 1..255 for a partial one. */
export interface TileId {
  readonly level: number
  readonly index: number
  readonly width: number
}

export type TileResource =
  | { readonly kind: 'hash'; readonly level: number; readonly index: number; readonly width: number }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number }

/** The width of the rightmost tile at `level` in a tree of `size`: floor(size / 256^level) mod 256. */
export function partialTileWidth(level: number, size: number): number {
  return shiftRight(size, TILE_HEIGHT * level) % TILE_WIDTH
}

/** Where node (level, index) lives: tile (tileLevel, tileIndex), row `row` within it, at `position`. */
export interface NodeLocation {
  readonly tileLevel: number
  readonly tileIndex: number
  readonly row: number
  readonly position: number
}

export function nodeLocation(node: NodeId): NodeLocation {
  const tileLevel = Math.floor(node.level / TILE_HEIGHT)
  const row = node.level % TILE_HEIGHT
  const perRow = TILE_WIDTH >> row
  return { tileLevel, tileIndex: Math.floor(node.index / perRow), row, position: node.index % perRow }
}

/** `tile/<L>/<N>[.p/<W>]` (C2SP tlog-tiles), relative to the log's prefix. */
export function hashTilePath(tile: TileId): string {
  checkTile(tile, 63)
  return `tile/${tile.level}/${encodeTileIndex(tile.index)}${widthSuffix(tile.width)}`
}

/** `tile/entries/<N>[.p/<W>]` (C2SP tlog-tiles), relative to the log's prefix. */
export function entryBundlePath(index: number, width: number): string {
  checkTile({ level: 0, index, width }, 0)
  return `tile/entries/${encodeTileIndex(index)}${widthSuffix(width)}`
}

/** Index 1234067 is `x001/x234/067`: three-digit groups, all but the last prefixed with x. */
export function encodeTileIndex(index: number): string {
  if (!isSafeCount(index)) throw new RangeError('tile index must be a safe non-negative integer')
  const groups: string[] = []
  let rest = index
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'))
    rest = Math.floor(rest / 1000)
  } while (rest > 0)
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/')
}

const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/

/**
 * Parses a tile path relative to the prefix, accepting only the canonical spelling.
 * @throws TlogError TILE_PATH_MALFORMED.
 */
export function parseTilePath(path: string): TileResource {
  const match = TILE_PATH.exec(path)
  if (match === null) throw new TlogError('TILE_PATH_MALFORMED', 'not a tile path')
  const [, levelText, indexText, widthText] = match
  const groups = indexText!.split('/')
  // x000/… would be a second spelling of a smaller index; so would more groups than fit 2^53.
  if (groups.length > 1 && groups[0] === 'x000') throw new TlogError('TILE_PATH_MALFORMED', 'tile index has a leading zero group')
  if (groups.length > 6) throw new TlogError('TILE_PATH_MALFORMED', 'tile index out of range')
  const index = groups.reduce((n, group) => n * 1000 + Number(group.replace('x', '')), 0)
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText)
  if (!isSafeCount(index) || (widthText !== undefined && width >= TILE_WIDTH)) {
    throw new TlogError('TILE_PATH_MALFORMED', 'tile index or width out of range')
  }
  if (levelText === 'entries') return { kind: 'entries', index, width }
  const level = Number(levelText)
  if (level > 63) throw new TlogError('TILE_PATH_MALFORMED', 'tile level out of range')
  return { kind: 'hash', level, index, width }
}

/**
 * Annal stores each hash tile with its inner rows: row r holds the floor(W / 2^r) complete nodes
 * r levels above the tile's hashes, so a proof reads stored nodes instead of rehashing up to 255
 * of them. Row 0 is exactly the C2SP tile; the other rows follow it.
 */
export function storedTileHashCount(width: number): number {
  let count = 0
  for (let row = 0; row < TILE_HEIGHT; row++) count += width >> row
  return count
}

const WIDTH_BY_HASH_COUNT = new Map<number, number>(
  Array.from({ length: TILE_WIDTH + 1 }, (_, width) => [storedTileHashCount(width), width]))

/**
 * The width of a stored tile from its byte length.
 * @throws TlogError TILE_MALFORMED when the length fits no width (corrupt storage).
 */
export function storedTileWidth(stored: Uint8Array): number {
  const width = stored.length % HASH_SIZE === 0 ? WIDTH_BY_HASH_COUNT.get(stored.length / HASH_SIZE) : undefined
  if (width === undefined) throw new TlogError('TILE_MALFORMED', 'stored tile has an impossible length')
  return width
}

/** The hash at (row, position) of a stored tile, or undefined when the tile is not that wide. */
export function storedTileNode(stored: Uint8Array, row: number, position: number): Uint8Array | undefined {
  const width = storedTileWidth(stored)
  if (position >= width >> row) return undefined
  let offset = position
  for (let r = 0; r < row; r++) offset += width >> r
  return stored.subarray(offset * HASH_SIZE, (offset + 1) * HASH_SIZE)
}

/**
 * The C2SP tile of `width` hashes from a stored tile at least that wide (a view, not a copy).
 * @throws TlogError SIZE_OUT_OF_RANGE when the stored tile is narrower.
 */
export function hashTileBytes(stored: Uint8Array, width: number): Uint8Array {
  if (width > storedTileWidth(stored)) throw new TlogError('SIZE_OUT_OF_RANGE', 'tile is not that wide yet')
  return stored.subarray(0, width * HASH_SIZE)
}

/** Splits a stored tile into its rows of hashes (views into `stored`). */
export function decodeStoredTile(stored: Uint8Array): Uint8Array[][] {
  const width = storedTileWidth(stored)
  const rows: Uint8Array[][] = []
  let offset = 0
  for (let row = 0; row < TILE_HEIGHT; row++) {
    const hashes: Uint8Array[] = []
    for (let i = 0; i < width >> row; i++, offset += HASH_SIZE) {
      hashes.push(stored.subarray(offset, offset + HASH_SIZE))
    }
    rows.push(hashes)
  }
  return rows
}

/** C2SP entry bundle: each entry as a big-endian uint16 length, then its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const entry of entries) {
    if (entry.length === 0 || entry.length > MAX_ENTRY_SIZE) throw new RangeError('entry must be 1..65535 bytes')
    length += 2 + entry.length
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const entry of entries) {
    out[offset] = entry.length >> 8
    out[offset + 1] = entry.length & 0xff
    out.set(entry, offset + 2)
    offset += 2 + entry.length
  }
  return out
}

/**
 * Splits an entry bundle into entries (views into `bundle`).
 * @throws TlogError TILE_MALFORMED when a length runs past the end or the bundle holds over 256.
 */
export function decodeEntryBundle(bundle: Uint8Array): Uint8Array[] {
  const entries: Uint8Array[] = []
  let offset = 0
  while (offset < bundle.length) {
    if (offset + 2 > bundle.length || entries.length === TILE_WIDTH) {
      throw new TlogError('TILE_MALFORMED', 'entry bundle is malformed')
    }
    const length = (bundle[offset]! << 8) | bundle[offset + 1]!
    const end = offset + 2 + length
    if (end > bundle.length) throw new TlogError('TILE_MALFORMED', 'entry bundle is truncated')
    entries.push(bundle.subarray(offset + 2, end))
    offset = end
  }
  return entries
}

function widthSuffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`
}

function checkTile(tile: TileId, maxLevel: number): void {
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > maxLevel) throw new RangeError('tile level out of range')
  if (!Number.isInteger(tile.width) || tile.width < 1 || tile.width > TILE_WIDTH) throw new RangeError('tile width must be 1..256')
}
