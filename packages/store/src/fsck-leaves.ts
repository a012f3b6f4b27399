import {
  HASH_SIZE, type StoredTile, TILE_HEIGHT, TILE_WIDTH, TreeEdge, bytesEqual, bytesToHex, decodeEntryBundle, isTlogError,
  storedTileNode,
} from '@annal/tlog'
import { LRUCache } from 'lru-cache'
import type { FsckSink, FsckTarget } from './fsck.js'
import type { IndexCheck } from './fsck-index.js'
import { readOpenBundle, readOpenLeafTile } from './bundles.js'
import { bundleKey, tileKey } from './keys.js'
import { isStoreError } from './errors.js'

/** A bundle's entries as read, or why there are none. */
type StoredEntries = readonly Uint8Array[] | 'missing' | 'malformed'

/** The leaf hashes fsck integrates for one bundle, and the stored level-0 tile it read with them. */
export interface BundleLeaves {
  readonly hashes: Uint8Array[]
  readonly storedTile: Uint8Array | undefined
}

/**
 * Reads entry bundles and turns them into leaf hashes, reporting what is wrong with them. The
 * entries are the source of the tree, with one exception: where an entry's hash differs from the
 * stored level-0 tile, and the tile's hash is the one the id lookup records at that index while the
 * entry's is not, the entry's bytes are what changed. It is reported as the problem and the
 * tile's hash is integrated, so one damaged entry does not also fail every tile and checkpoint
 * above it. When the tile is what disagrees, the tile comparison reports it.
 */
export class BundleReader {
  readonly #target: FsckTarget
  readonly #sink: FsckSink
  readonly #index: IndexCheck
  /** Indexes whose entry was found damaged, with the leaf hash integrated instead. */
  readonly #replaced = new Map<number, Uint8Array>()
  readonly #tiles = new LRUCache<number, Uint8Array>({ max: 16 })

  constructor(target: FsckTarget, sink: FsckSink, index: IndexCheck) {
    this.#target = target
    this.#sink = sink
    this.#index = index
  }

  /**
   * The `width` leaf hashes of bundle `bundle`, checked against tile 0/`bundle` and the index.
   * Undefined (reported) when neither the bundle nor the tile holds them all.
   */
  async leaves(bundle: number, width: number): Promise<BundleLeaves | undefined> {
    const { driver, info } = this.#target
    const open = width < TILE_WIDTH
    const [stored, fullTile] = open ? [] : await driver.getMany([bundleKey(info.name, bundle), tileKey(info.name, 0, bundle)])
    const storedTile = open ? await this.#openLeafTile(bundle, width) : fullTile
    const entries = open ? await this.#openEntries(bundle, width) : decodeStored(stored)
    const fromEntries = this.#entryHashes(bundle, entries, width)
    const fromTile = tileLeaves(storedTile, width)
    const hashes: Uint8Array[] = []
    for (let p = 0; p < width; p++) {
      const hash = fromEntries[p] ?? fromTile[p]
      if (hash === undefined) {
        this.#sink.report('entry', `bundle ${bundle} entry ${p}`,
          `is in neither the bundle nor tile 0/${bundle}: the tree cannot be recomputed beyond entry ${bundle * TILE_WIDTH + p}`)
        return undefined
      }
      hashes.push(hash)
    }
    await this.#reconcile(bundle, hashes, fromTile)
    return { hashes, storedTile }
  }

  /**
   * The recomputed tree's leaf hash at `index`: from its stored level-0 tile when `tileChecked`
   * (it matched the recomputed one), else from its entry. Undefined when neither can be read.
   */
  async leafHashAt(index: number, tileChecked: boolean): Promise<Uint8Array | undefined> {
    const replaced = this.#replaced.get(index)
    if (replaced !== undefined) return replaced
    const { driver, hasher, info } = this.#target
    const bundle = Math.floor(index / TILE_WIDTH)
    if (tileChecked) {
      const tile = this.#tiles.get(bundle) ?? (await driver.get(tileKey(info.name, 0, bundle)))
      const hash = tileLeaf(tile, index % TILE_WIDTH)
      if (hash !== undefined) {
        this.#tiles.set(bundle, tile!)
        return hash
      }
    }
    const whole = decodeStored(await driver.get(bundleKey(info.name, bundle)))
    const entries = whole === 'missing' ? await this.#openEntries(bundle, TILE_WIDTH) : whole
    const entry = typeof entries === 'string' ? undefined : entries[index % TILE_WIDTH]
    return entry === undefined ? undefined : hasher.leaf(entry)
  }

  /** The open bundle's entries from its parts (and a whole row, as older ledgers stored it). */
  async #openEntries(bundle: number, width: number): Promise<StoredEntries> {
    const { driver, info } = this.#target
    try {
      return (await readOpenBundle(driver, info.name, bundle, width))?.entries ?? 'missing'
    } catch (error) {
      if (isTlogError(error, 'TILE_MALFORMED') || isStoreError(error, 'CORRUPTION')) return 'malformed'
      throw error
    }
  }

  /**
   * The open level-0 tile's stored hashes (its parts, and a whole row as older ledgers stored it),
   * in stored layout for comparing; undefined when they are missing or malformed.
   */
  async #openLeafTile(bundle: number, width: number): Promise<Uint8Array | undefined> {
    const { driver, hasher, info } = this.#target
    try {
      const stored = await readOpenLeafTile(driver, info.name, bundle, width)
      return stored && TreeEdge.empty().integrate(stored.hashes, hasher).edge.storedTiles()[0]!.data
    } catch (error) {
      if (isTlogError(error, 'TILE_MALFORMED') || isStoreError(error, 'CORRUPTION')) return undefined
      throw error
    }
  }

  /** Leaf hashes of the bundle's entries; undefined where it is missing, malformed or short. */
  #entryHashes(bundle: number, entries: StoredEntries, width: number): (Uint8Array | undefined)[] {
    const out: (Uint8Array | undefined)[] = new Array(width).fill(undefined)
    const location = `bundle ${bundle}`
    if (entries === 'missing') {
      this.#sink.report('entry', location, 'is missing')
      return out
    }
    if (entries === 'malformed') {
      this.#sink.report('entry', location, 'is not a well-formed entry bundle')
      return out
    }
    if (entries.length !== width) this.#sink.report('entry', location, `holds ${entries.length} entries, expected ${width}`)
    entries.slice(0, width).forEach((entry, p) => {
      if (entry.length === 0) this.#sink.report('entry', `${location} entry ${p}`, 'is empty')
      out[p] = this.#target.hasher.leaf(entry)
    })
    return out
  }

  /** Decides disputes between entry and tile (see the class comment), then checks each leaf's index row. */
  async #reconcile(bundle: number, hashes: Uint8Array[], fromTile: readonly (Uint8Array | undefined)[]): Promise<void> {
    const first = bundle * TILE_WIDTH
    const rows = await this.#index.lookup(hashes)
    const disputed = hashes.flatMap((hash, p) => (fromTile[p] !== undefined && !bytesEqual(fromTile[p], hash) ? [p] : []))
    const tileRows = await this.#index.lookup(disputed.map((p) => fromTile[p]!))
    disputed.forEach((p, k) => {
      if (tileRows[k] !== first + p || rows[p] === first + p) return
      const tileHash = fromTile[p]!
      this.#sink.report('entry', `bundle ${bundle} entry ${p}`,
        `hashes to ${bytesToHex(hashes[p]!)}, but tile 0/${bundle} and the index record leaf ${bytesToHex(tileHash)}`)
      hashes[p] = tileHash
      rows[p] = tileRows[k]
      this.#replaced.set(first + p, tileHash)
    })
    hashes.forEach((hash, p) => this.#index.expect(hash, first + p, rows[p], `bundle ${bundle} entry ${p}`))
  }
}

/** Row 0 of a stored level-0 tile, up to `width` hashes; undefined where it is absent or too narrow. */
function tileLeaves(stored: Uint8Array | undefined, width: number): (Uint8Array | undefined)[] {
  return Array.from({ length: width }, (_, position) => tileLeaf(stored, position))
}

/** The leaf hash at `position` of a stored level-0 tile; undefined when absent, too narrow or malformed. */
function tileLeaf(stored: Uint8Array | undefined, position: number): Uint8Array | undefined {
  if (stored === undefined) return undefined
  try {
    return storedTileNode(stored, 0, position)
  } catch (error) {
    if (isTlogError(error, 'TILE_MALFORMED')) return undefined
    throw error
  }
}

function decodeStored(bundle: Uint8Array | undefined): StoredEntries {
  if (bundle === undefined) return 'missing'
  try {
    return decodeEntryBundle(bundle)
  } catch (error) {
    if (isTlogError(error, 'TILE_MALFORMED')) return 'malformed'
    throw error
  }
}

/** Where a stored tile first differs from the recomputed one, and how many hashes differ. */
export function describeTileDifference(stored: Uint8Array, expected: StoredTile): string {
  if (stored.length !== expected.data.length) {
    return `holds ${stored.length} bytes, a tile of width ${expected.width} has ${expected.data.length}`
  }
  const differing: number[] = []
  for (let offset = 0; offset < stored.length; offset += HASH_SIZE) {
    if (!bytesEqual(stored.subarray(offset, offset + HASH_SIZE), expected.data.subarray(offset, offset + HASH_SIZE))) {
      differing.push(offset / HASH_SIZE)
    }
  }
  const first = differing[0]!
  let row = 0
  let position = first
  while (row < TILE_HEIGHT - 1 && position >= expected.width >> row) position -= expected.width >> row++
  const more = differing.length > 1 ? ` (${differing.length} hashes differ)` : ''
  const at = first * HASH_SIZE
  return `row ${row} position ${position} is ${bytesToHex(stored.subarray(at, at + HASH_SIZE))}, ` +
    `recomputed ${bytesToHex(expected.data.subarray(at, at + HASH_SIZE))}${more}`
}
