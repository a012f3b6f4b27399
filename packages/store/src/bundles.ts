import {
  HASH_SIZE, TILE_WIDTH, concatBytes, decodeEntryBundle, decodeStoredTile, encodeEntryBundle,
} from '@annal/tlog'
import type { StorageDriver, WriteOp } from '@annal/storage'
import {
  bundleKey, bundlePartKey, bundlePartsRange, keySuffix, leafTilePartKey, leafTilePartsRange, partOf, tileKey,
} from './keys.js'
import { StoreError } from './errors.js'

// A full entry bundle is one row, written once. The open (rightmost, partial) bundle is stored
// as parts: each batch writes only its own entries, as a row keyed by the position they start
// at, and the parts are replaced by the full row once the bundle fills. Rewriting the whole
// partial bundle each batch cost up to 64 KiB of writes per batch at 256-byte entries, which
// dominated small batches (a few entries each, as concurrent HTTP appends make them).
// The open level-0 hash tile (the same 256 positions' leaf hashes) is stored the same way, in
// part rows of bare hashes; the tile integration writes the full tile, in stored layout, once.

/** The open bundle as stored: its entries, and the starts of the part rows of entries and of leaf hashes. */
export interface OpenBundle {
  readonly entries: readonly Uint8Array[]
  readonly parts: readonly number[]
  readonly hashParts: readonly number[]
}

export const EMPTY_OPEN_BUNDLE: OpenBundle = { entries: [], parts: [], hashParts: [] }

/**
 * The writes that add `added` (with their leaf hashes) to the open bundle `open`, at bundle index
 * `index`, and the new open bundle. A bundle that fills is written whole and its parts deleted.
 */
export function bundleWrites(log: string, index: number, open: OpenBundle, added: readonly Uint8Array[],
    addedHashes: readonly Uint8Array[]): { ops: WriteOp[]; open: OpenBundle } {
  const ops: WriteOp[] = []
  let entries = [...open.entries]
  let parts = [...open.parts]
  let hashParts = [...open.hashParts]
  let partStart = entries.length
  let hashes: Uint8Array[] = []
  added.forEach((entry, i) => {
    entries.push(entry)
    hashes.push(addedHashes[i]!)
    if (entries.length === TILE_WIDTH) {
      ops.push({ type: 'put', key: bundleKey(log, index), value: encodeEntryBundle(entries) })
      for (const start of parts) ops.push({ type: 'del', key: bundlePartKey(log, index, start) })
      for (const start of hashParts) ops.push({ type: 'del', key: leafTilePartKey(log, index, start) })
      index++
      entries = []
      parts = []
      hashParts = []
      hashes = []
      partStart = 0
    }
  })
  if (entries.length > partStart) {
    ops.push({ type: 'put', key: bundlePartKey(log, index, partStart), value: encodeEntryBundle(entries.slice(partStart)) })
    ops.push({ type: 'put', key: leafTilePartKey(log, index, partStart), value: concatBytes(...hashes) })
    parts.push(partStart)
    hashParts.push(partStart)
  }
  return { ops, open: { entries, parts, hashParts } }
}

/**
 * The first `count` entries of bundle `index` when it is the open one: a whole-bundle row if one
 * exists (ledgers written before parts kept the open bundle in one row), then its parts in order.
 * Parts starting at or beyond `count` are not read (fsck reports them). Undefined when nothing
 * is stored. Throws CORRUPTION when a part does not start where the entries before it end.
 */
export async function readOpenBundle(driver: StorageDriver, log: string, index: number,
    count: number): Promise<Pick<OpenBundle, 'entries' | 'parts'> | undefined> {
  const whole = await driver.get(bundleKey(log, index))
  const entries = whole === undefined ? [] : decodeEntryBundle(whole)
  const parts: number[] = []
  for await (const [key, value] of driver.range(bundlePartsRange(log, index))) {
    const start = partOf(keySuffix(key, log))!.start
    if (start >= count) break
    if (start !== entries.length) {
      throw new StoreError('CORRUPTION', `bundle ${index} has a part at ${start} after ${entries.length} entries`)
    }
    entries.push(...decodeEntryBundle(value))
    parts.push(start)
  }
  return whole === undefined && parts.length === 0 ? undefined : { entries: entries.slice(0, count), parts }
}

/**
 * The first `count` leaf hashes of level-0 tile `index` when it is the open one, and the starts of
 * their part rows: a whole stored tile if one exists (ledgers written before tile parts kept the
 * open tile in one row), then the parts in order. Undefined when they do not cover `count`.
 * Throws CORRUPTION when a part does not start where the hashes before it end.
 */
export async function readOpenLeafTile(driver: StorageDriver, log: string, index: number,
    count: number): Promise<{ hashes: Uint8Array[]; parts: number[] } | undefined> {
  const whole = await driver.get(tileKey(log, 0, index))
  const hashes = whole === undefined ? [] : decodeStoredTile(whole)[0]!
  const parts: number[] = []
  for await (const [key, value] of driver.range(leafTilePartsRange(log, index))) {
    const start = partOf(keySuffix(key, log))!.start
    if (start >= count) break
    if (start !== hashes.length || value.length % HASH_SIZE !== 0) {
      throw new StoreError('CORRUPTION', `tile 0/${index} has a malformed part at ${start} after ${hashes.length} hashes`)
    }
    for (let at = 0; at < value.length; at += HASH_SIZE) hashes.push(value.subarray(at, at + HASH_SIZE))
    parts.push(start)
  }
  return hashes.length < count ? undefined : { hashes: hashes.slice(0, count), parts }
}
