import { TILE_WIDTH, TlogError, decodeEntryBundle, encodeEntryBundle } from '@annal/tlog'
import type { StorageDriver, WriteOp } from './driver.js'
import { bundleKey, bundlePartKey, bundlePartsRange, keySuffix } from './keys.js'

// A full entry bundle is one row, written once. The open (rightmost, partial) bundle is stored
// as parts: each batch writes only its own entries, as a row keyed by the position they start
// at, and the parts are replaced by the full row once the bundle fills. Rewriting the whole
// partial bundle each batch cost up to 64 KiB of writes per batch at 256-byte entries, which
// dominated small batches (a few entries each, as concurrent HTTP appends make them).

/** The open bundle as stored: its entries and the start of each part row holding them. */
export interface OpenBundle {
  readonly entries: readonly Uint8Array[]
  readonly parts: readonly number[]
}

/** The writes that add `added` to the open bundle `open` (at bundle index `index`), and the new open bundle. */
export function bundleWrites(log: string, index: number, open: OpenBundle, added: readonly Uint8Array[]):
    { ops: WriteOp[]; open: OpenBundle } {
  const ops: WriteOp[] = []
  let entries = [...open.entries]
  let parts = [...open.parts]
  let partStart = entries.length
  for (const entry of added) {
    entries.push(entry)
    if (entries.length === TILE_WIDTH) {
      ops.push({ type: 'put', key: bundleKey(log, index), value: encodeEntryBundle(entries) })
      for (const start of parts) ops.push({ type: 'del', key: bundlePartKey(log, index, start) })
      index++
      entries = []
      parts = []
      partStart = 0
    }
  }
  if (entries.length > partStart) {
    ops.push({ type: 'put', key: bundlePartKey(log, index, partStart), value: encodeEntryBundle(entries.slice(partStart)) })
    parts.push(partStart)
  }
  return { ops, open: { entries, parts } }
}

/**
 * The first `count` entries of bundle `index` when it is the open one: a whole-bundle row if one
 * exists (ledgers written before parts kept the open bundle in one row), then its parts in order.
 * Parts starting at or beyond `count` are not read (fsck reports them). Undefined when nothing
 * is stored. Throws CORRUPTION when a part does not start where the entries before it end.
 */
export async function readOpenBundle(driver: StorageDriver, log: string, index: number,
    count: number): Promise<OpenBundle | undefined> {
  const whole = await driver.get(bundleKey(log, index))
  const entries = whole === undefined ? [] : decodeEntryBundle(whole)
  const parts: number[] = []
  for await (const [key, value] of driver.range(bundlePartsRange(log, index))) {
    const suffix = keySuffix(key, log)
    const start = (suffix[8]! << 8) | suffix[9]!
    if (start >= count) break
    if (start !== entries.length) {
      throw new TlogError('CORRUPTION', `bundle ${index} has a part at ${start} after ${entries.length} entries`)
    }
    entries.push(...decodeEntryBundle(value))
    parts.push(start)
  }
  return whole === undefined && parts.length === 0 ? undefined : { entries: entries.slice(0, count), parts }
}
