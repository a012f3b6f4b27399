import { concatBytes } from '@annal/tlog'

// The key layout, one tag byte per kind. Log-scoped keys are tag || log name || 0x00 || suffix;
// numbers are big-endian so that byte order is numeric order.
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

const TAG = {
  log: 0x4c, // L name -> log metadata (JSON)
  head: 0x48, // H name -> the log head (JSON): size, root, latest checkpoint
  tile: 0x54, // T name 0 level(1) index(8) -> stored hash tile
  bundle: 0x45, // E name 0 index(8) -> full entry bundle
  bundlePart: 0x42, // B name 0 index(8) start(2) -> entries of the open bundle from `start`, as a bundle
  leafTilePart: 0x50, // P name 0 index(8) start(2) -> leaf hashes of the open level-0 tile from `start`
  checkpoint: 0x43, // C name 0 size(8) -> signed checkpoint note
  cosignatures: 0x57, // W name 0 size(8) -> witness cosignature lines of that checkpoint (UTF-8)
  id: 0x49, // I name 0 leafHash(32) -> index(8)
  indexed: 0x58, // X name 0 -> size(8): every entry below it has its I row
  object: 0x4f, // O sha256(32) -> object bytes, for objects not stored inline in their M row
  objectMeta: 0x4d, // M sha256(32) -> object metadata, and small objects' bytes (objects.ts)
  table: 0x52, // R table 0 key -> a RowTable's row (rows.ts)
  term: 0x51, // Q name 0 length(1) term index(8) -> nothing: the entry at index has that search term (terms.ts); even generations
  termOdd: 0x71, // q: as Q, for the odd generations of a log's search terms (index-state.ts)
  indexState: 0x4e, // N name 0 -> the log's index state (JSON); N name 0 0x01 -> a reindex's progress(8)
  time: 0x53, // S name 0 level(1) node(8) [0x01] -> the [min, max] of the times of a node's entries (time-index.ts)
} as const

/** A safe integer as 8 big-endian bytes. */
export function uint64(n: number): Uint8Array {
  const out = new Uint8Array(8)
  let high = Math.floor(n / 2 ** 32)
  let low = n % 2 ** 32
  for (let i = 7; i >= 4; i--, low = Math.floor(low / 256)) out[i] = low % 256
  for (let i = 3; i >= 0; i--, high = Math.floor(high / 256)) out[i] = high % 256
  return out
}

export function readUint64(bytes: Uint8Array): number {
  let n = 0
  for (let i = 0; i < 8; i++) n = n * 256 + bytes[i]!
  return n
}

// tag || name || 0x00 for each log and tag, kept because keys are built per entry on hot paths
// (looked up by the log's name and the tag byte, so building a key allocates only the key).
const prefixes = new Map<string, (Uint8Array | undefined)[]>()

function scoped(tag: number, log: string, suffix?: Uint8Array): Uint8Array {
  let byTag = prefixes.get(log)
  if (byTag === undefined) {
    if (prefixes.size > 4096) prefixes.clear()
    byTag = []
    prefixes.set(log, byTag)
  }
  let prefix = byTag[tag]
  if (prefix === undefined) {
    prefix = concatBytes(Uint8Array.of(tag), utf8.encode(log), Uint8Array.of(0))
    byTag[tag] = prefix
  }
  if (suffix === undefined) return prefix.slice()
  const out = new Uint8Array(prefix.length + suffix.length)
  out.set(prefix)
  out.set(suffix, prefix.length)
  return out
}

export const logKey = (log: string) => concatBytes(Uint8Array.of(TAG.log), utf8.encode(log))
export const allLogsRange = () => ({ gte: Uint8Array.of(TAG.log), lte: Uint8Array.of(TAG.log, 0xff) })
export const headKey = (log: string) => scoped(TAG.head, log)
export const tileKey = (log: string, level: number, index: number) =>
  scoped(TAG.tile, log, concatBytes(Uint8Array.of(level), uint64(index)))
export const bundleKey = (log: string, index: number) => scoped(TAG.bundle, log, uint64(index))
// A part row's suffix: the bundle or tile index (8 bytes) and the position it starts at (2).
const partKey = (tag: number, log: string, index: number, start: number) =>
  scoped(tag, log, concatBytes(uint64(index), Uint8Array.of(start >> 8, start & 0xff)))
const partsRange = (tag: number, log: string, index: number) =>
  ({ gte: partKey(tag, log, index, 0), lte: partKey(tag, log, index, 0xffff) })
export const bundlePartKey = (log: string, index: number, start: number) => partKey(TAG.bundlePart, log, index, start)
export const leafTilePartKey = (log: string, index: number, start: number) => partKey(TAG.leafTilePart, log, index, start)
/** The parts of one open bundle, in order of their start. */
export const bundlePartsRange = (log: string, index: number) => partsRange(TAG.bundlePart, log, index)
/** The hash parts of one open level-0 tile, in order of their start. */
export const leafTilePartsRange = (log: string, index: number) => partsRange(TAG.leafTilePart, log, index)
/** The index and start of a part row, from its key's suffix; undefined when the suffix is not 10 bytes. */
export function partOf(suffix: Uint8Array): { index: number; start: number } | undefined {
  return suffix.length === 10 ? { index: readUint64(suffix), start: (suffix[8]! << 8) | suffix[9]! } : undefined
}
export const checkpointKey = (log: string, size: number) => scoped(TAG.checkpoint, log, uint64(size))
export const cosignaturesKey = (log: string, size: number) => scoped(TAG.cosignatures, log, uint64(size))
export const indexedKey = (log: string) => scoped(TAG.indexed, log)
export const idKey = (log: string, leafHash: Uint8Array) => scoped(TAG.id, log, leafHash)
export const objectKey = (hash: Uint8Array) => concatBytes(Uint8Array.of(TAG.object), hash)
export const objectMetaKey = (hash: Uint8Array) => concatBytes(Uint8Array.of(TAG.objectMeta), hash)
/** Every object's metadata row (the last possible key is the tag and 32 bytes of 0xff). */
export const objectMetaRange = () => ({ gte: Uint8Array.of(TAG.objectMeta), lte: objectMetaKey(new Uint8Array(32).fill(0xff)) })

const MAX_TABLE_KEY_BYTES = 255

/** A RowTable's key: tag || table || 0x00 || key (UTF-8). @throws RangeError for a key over 255 bytes. */
export function tableKey(table: string, key: string): Uint8Array {
  const bytes = utf8.encode(key)
  if (bytes.length > MAX_TABLE_KEY_BYTES) throw new RangeError(`a table key is at most ${MAX_TABLE_KEY_BYTES} bytes`)
  return scoped(TAG.table, table, bytes)
}

/** Every row of a RowTable whose key starts with `prefix`. */
export function tableRange(table: string, prefix = ''): { gte: Uint8Array; lte: Uint8Array } {
  const base = scoped(TAG.table, table, utf8.encode(prefix))
  return { gte: base, lte: concatBytes(base, new Uint8Array(MAX_TABLE_KEY_BYTES + 1).fill(0xff)) }
}

/** The key of a RowTable's row, from its stored key. */
export function tableKeyOf(table: string, key: Uint8Array): string {
  return utf8Decoder.decode(keySuffix(key, table))
}

/** The longest search term, in bytes: a term row's key stays small. */
export const MAX_TERM_BYTES = 64

/**
 * A term row's key: tag || log || 0x00 || term length || term || index(8). Each generation of
 * a log's terms has a tag of its parity, so that a reindex builds the next beside the one
 * searches read and the old one is dropped as one range.
 */
export function termKey(log: string, generation: number, term: Uint8Array, index: number): Uint8Array {
  return scoped(termTag(generation), log, concatBytes(Uint8Array.of(term.length), term, uint64(index)))
}

const termTag = (generation: number) => (generation % 2 === 0 ? TAG.term : TAG.termOdd)

/** Every term row of a log's generation (and of the other generations of its parity). */
export function allTermsRange(log: string, generation: number): { gte: Uint8Array; lte: Uint8Array } {
  const base = scoped(termTag(generation), log)
  return { gte: base, lte: concatBytes(base, new Uint8Array(1 + MAX_TERM_BYTES + 8).fill(0xff)) }
}

/** The row of a log's index state (index-state.ts). */
export const indexStateKey = (log: string) => scoped(TAG.indexState, log)
/** The row of a reindex's progress: the entries below it have their rows in the generation it builds. */
export const reindexProgressKey = (log: string) => scoped(TAG.indexState, log, Uint8Array.of(1))

/** A time row's key: the node's own row, or (`patch`) the row a reindex adds for part of it. */
export function timeKey(log: string, level: number, node: number, patch = false): Uint8Array {
  return scoped(TAG.time, log, patch ? concatBytes(Uint8Array.of(level), uint64(node), Uint8Array.of(1)) : concatBytes(Uint8Array.of(level), uint64(node)))
}

/** The time rows of nodes `first` to `last` of a level, patches included. */
export function timeRange(log: string, level: number, first: number, last: number): { gte: Uint8Array; lte: Uint8Array } {
  return { gte: timeKey(log, level, first), lte: timeKey(log, level, last, true) }
}

/** The node of a time row and whether it is a patch, from its key's suffix. */
export function timeNodeOf(suffix: Uint8Array): { node: number; patch: boolean } {
  return { node: readUint64(suffix.subarray(1, 9)), patch: suffix.length === 10 }
}

/** The entry index of a term row, from its key's last 8 bytes. */
export function termIndexOf(key: Uint8Array): number {
  return readUint64(key.subarray(key.length - 8))
}

/** All keys of one kind in a log, e.g. every checkpoint, in order. */
export function logRange(kind: 'tile' | 'bundle' | 'bundlePart' | 'leafTilePart' | 'checkpoint' | 'cosignatures' | 'id', log: string): { gte: Uint8Array; lte: Uint8Array } {
  const base = scoped(TAG[kind], log)
  return { gte: base, lte: concatBytes(base, new Uint8Array(41).fill(0xff)) }
}

/** The id lookup keys whose leaf hash starts with the hex digits `prefix` (any length 1..64). */
export function idPrefixRange(log: string, prefix: string): { gte: Uint8Array; lte: Uint8Array } {
  const low = new Uint8Array(32)
  const high = new Uint8Array(32).fill(0xff)
  for (let i = 0; i < prefix.length; i++) {
    const nibble = Number.parseInt(prefix[i]!, 16)
    const byte = i >> 1
    if (i % 2 === 0) {
      low[byte] = nibble << 4
      high[byte] = (nibble << 4) | 0x0f
    } else {
      low[byte] = low[byte]! | nibble
      high[byte] = (high[byte]! & 0xf0) | nibble
    }
  }
  return { gte: idKey(log, low), lte: idKey(log, high) }
}

/** The suffix of a log-scoped key after tag, name and 0x00. */
export function keySuffix(key: Uint8Array, log: string): Uint8Array {
  return key.subarray(prefixLength(log))
}

// Kept as `prefixes` is: a pass over a log's keys (the id filter's at open) cuts one per key.
const prefixLengths = new Map<string, number>()

function prefixLength(log: string): number {
  let length = prefixLengths.get(log)
  if (length === undefined) {
    if (prefixLengths.size > 4096) prefixLengths.clear()
    length = 1 + utf8.encode(log).length + 1
    prefixLengths.set(log, length)
  }
  return length
}
