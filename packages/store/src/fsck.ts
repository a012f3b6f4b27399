import { isNoteError, type NoteVerifier, openCheckpoint } from '@annal/note'
import {
  type MerkleHasher, type StoredTile, TILE_WIDTH, TreeEdge, bytesEqual, bytesToHex, isTlogError,
} from '@annal/tlog'
import { isStorageError, type StorageDriver } from '@annal/storage'
import { IndexCheck } from './fsck-index.js'
import { BundleReader, describeTileDifference } from './fsck-leaves.js'
import { type Head, decodeHead } from './head.js'
import { bundleKey, checkpointKey, headKey, keySuffix, logRange, partOf, readUint64, tileKey } from './keys.js'
import type { LogInfo } from './log.js'
import { isStoreError } from './errors.js'

export type FsckProblemKind = 'entry' | 'tile' | 'checkpoint' | 'index' | 'head'

/** One difference between what a log stores and what its entries and signed checkpoints imply. */
export interface FsckProblem {
  readonly kind: FsckProblemKind
  /** Where: `bundle 3`, `bundle 3 entry 17`, `tile 0/5`, `checkpoint 520`, `index <leaf hash hex>`, `head`. */
  readonly location: string
  readonly problem: string
}

/** Entries checked so far of the log's `total`. */
export interface FsckProgress {
  readonly checked: number
  readonly total: number
}

export interface FsckOptions {
  /** Called after every entry bundle; the last call has `checked === total`. */
  readonly onProgress?: (progress: FsckProgress) => void
}

export interface FsckCounts {
  readonly entries: number
  readonly tiles: number
  readonly checkpoints: number
  readonly indexRows: number
}

export interface FsckReport {
  readonly log: string
  /** The size checked: the head's, or the latest checkpoint's when the head is unreadable. */
  readonly size: number
  /** True when `problems` is empty. */
  readonly ok: boolean
  readonly checked: FsckCounts
  readonly problems: readonly FsckProblem[]
}

/** What fsck reads: one log through a storage driver, with the log's hasher and verifier key. */
export interface FsckTarget {
  readonly driver: StorageDriver
  readonly hasher: MerkleHasher
  readonly info: LogInfo
  readonly verifier: NoteVerifier
}

/** Where fsck's parts report problems. */
export interface FsckSink {
  report(kind: FsckProblemKind, location: string, problem: string): void
}

/**
 * A full integrity check of one log, like `git fsck`: recomputes every leaf hash from the entry
 * bundles, checks the id lookup both ways, rebuilds every tile and compares it byte for byte,
 * opens every stored checkpoint and compares its root with the tree recomputed at its size,
 * and checks the head. Collects every problem instead of stopping at the first. Streams bundle
 * by bundle: memory is O(log size) plus the checkpoint sizes, a fixed 256 KiB of index
 * counters, and the problems found. The driver gives no snapshot, so run it on a quiet log:
 * rows an append writes while fsck runs may be reported.
 * Throws only what the driver throws; everything found in the data is a problem in the report.
 */
export async function fsckLog(target: FsckTarget, options: FsckOptions = {}): Promise<FsckReport> {
  return new LogCheck(target, options).run()
}

class LogCheck implements FsckSink {
  readonly #target: FsckTarget
  readonly #onProgress: ((progress: FsckProgress) => void) | undefined
  readonly #problems: FsckProblem[] = []
  readonly #counts = { entries: 0, tiles: 0, checkpoints: 0, indexRows: 0 }
  readonly #index: IndexCheck
  readonly #bundles: BundleReader
  /** Level-0 tiles that differ from the recomputed ones, so no source of leaf hashes. */
  readonly #badLeafTiles = new Set<number>()
  #sizes: number[] = []
  #nextCheckpoint = 0
  /** The last checkpoint that opened and matched the recomputed tree. */
  #lastGood: number | undefined

  constructor(target: FsckTarget, options: FsckOptions) {
    this.#target = target
    this.#onProgress = options.onProgress
    this.#index = new IndexCheck(target, this)
    this.#bundles = new BundleReader(target, this, this.#index)
  }

  report(kind: FsckProblemKind, location: string, problem: string): void {
    this.#problems.push({ kind, location, problem })
  }

  async run(): Promise<FsckReport> {
    const head = await this.#readHead()
    this.#sizes = await this.#checkpointSizes()
    const size = head?.size ?? this.#sizes.at(-1) ?? 0
    const root = await this.#checkTree(size)
    for (const s of this.#sizes.slice(this.#nextCheckpoint)) {
      await this.#checkCheckpoint(s, undefined, s > size ? `is beyond the log size ${size}` : undefined)
    }
    this.#counts.indexRows = await this.#index.checkRows(size, (index) => this.#leafHashAt(index))
    await this.#checkStrays(size)
    if (head !== undefined) await this.#checkHead(head, root)
    return {
      log: this.#target.info.name, size, ok: this.#problems.length === 0, checked: { ...this.#counts },
      problems: this.#problems,
    }
  }

  async #readHead(): Promise<Head | undefined> {
    const bytes = await this.#target.driver.get(headKey(this.#target.info.name))
    if (bytes === undefined) return void this.report('head', 'head', 'is missing')
    try {
      return decodeHead(bytes)
    } catch {
      return void this.report('head', 'head', 'is unreadable')
    }
  }

  /** Every stored checkpoint's size, ascending (the key order). */
  async #checkpointSizes(): Promise<number[]> {
    const { driver, info } = this.#target
    const sizes: number[] = []
    for await (const [key] of driver.range(logRange('checkpoint', info.name))) {
      const suffix = keySuffix(key, info.name)
      if (suffix.length === 8 && readUint64(suffix) <= Number.MAX_SAFE_INTEGER) sizes.push(readUint64(suffix))
      else this.report('checkpoint', `checkpoint key ${bytesToHex(suffix)}`, 'is not an 8-byte tree size')
    }
    return sizes
  }

  /** Streams the bundles into a fresh tree; returns its root at `size`, or undefined if it broke. */
  async #checkTree(size: number): Promise<Uint8Array | undefined> {
    let edge = TreeEdge.empty()
    await this.#checkpointsAt(edge)
    let openLeafTile: Uint8Array | undefined
    for (let bundle = 0; bundle * TILE_WIDTH < size; bundle++) {
      const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH)
      const leaves = await this.#bundles.leaves(bundle, width)
      if (leaves === undefined) return undefined
      this.#counts.entries += width
      edge = await this.#integrate(edge, leaves.hashes, leaves.storedTile)
      openLeafTile = leaves.storedTile
      this.#onProgress?.({ checked: edge.size, total: size })
    }
    // The open level-0 tile is stored in parts, which the last bundle's leaves were read with.
    await this.#compareTiles(edge.storedTiles(), openLeafTile)
    if (size === 0 || this.#counts.entries < size) this.#onProgress?.({ checked: size, total: size })
    return edge.root(this.#target.hasher)
  }

  /** Integrates `hashes`, split at checkpoint sizes so each is checked against its exact root. */
  async #integrate(edge: TreeEdge, hashes: readonly Uint8Array[], storedLeafTile: Uint8Array | undefined): Promise<TreeEdge> {
    let offset = 0
    while (offset < hashes.length) {
      const next = this.#sizes[this.#nextCheckpoint]
      const rest = hashes.length - offset
      const take = next !== undefined && next > edge.size && next - edge.size <= rest ? next - edge.size : rest
      const integration = edge.integrate(hashes.slice(offset, offset + take), this.#target.hasher)
      await this.#compareTiles(integration.fullTiles, storedLeafTile)
      edge = integration.edge
      offset += take
      await this.#checkpointsAt(edge)
    }
    return edge
  }

  async #checkpointsAt(edge: TreeEdge): Promise<void> {
    while (this.#sizes[this.#nextCheckpoint] === edge.size) {
      await this.#checkCheckpoint(edge.size, edge.root(this.#target.hasher))
      this.#nextCheckpoint++
    }
  }

  /** Compares recomputed tiles with the stored ones; `storedLeafTile` is level 0's, if already read. */
  async #compareTiles(tiles: readonly StoredTile[], storedLeafTile?: Uint8Array): Promise<void> {
    if (tiles.length === 0) return
    const name = this.#target.info.name
    const stored = await this.#target.driver.getMany(tiles.map((tile) => tileKey(name, tile.level, tile.index)))
    tiles.forEach((tile, i) => {
      this.#counts.tiles++
      const have = tile.level === 0 && storedLeafTile !== undefined ? storedLeafTile : stored[i]
      if (have !== undefined && bytesEqual(have, tile.data)) return
      if (tile.level === 0) this.#badLeafTiles.add(tile.index)
      const problem = have === undefined ? 'is missing' : describeTileDifference(have, tile)
      this.report('tile', `tile ${tile.level}/${tile.index}`, problem)
    })
  }

  /**
   * Opens the checkpoint stored at `size` and compares it with `root`, the recomputed root at
   * that size (undefined: not known). `extra` is a problem already known about it.
   */
  async #checkCheckpoint(size: number, root: Uint8Array | undefined, extra?: string): Promise<void> {
    const { driver, info, verifier } = this.#target
    const location = `checkpoint ${size}`
    const note = await driver.get(checkpointKey(info.name, size))
    this.#counts.checkpoints++
    if (extra !== undefined) this.report('checkpoint', location, extra)
    if (note === undefined) return this.report('checkpoint', location, 'vanished while fsck ran')
    let checkpoint
    try {
      checkpoint = openCheckpoint(note, [verifier])
    } catch (error) {
      return this.report('checkpoint', location, `does not open with the log's verifier key (${describe(error)})`)
    }
    if (checkpoint.size !== size) return this.report('checkpoint', location, `says tree size ${checkpoint.size}`)
    if (root === undefined) return
    if (bytesEqual(checkpoint.rootHash, root)) {
      this.#lastGood = size
      return
    }
    const consistency = this.#lastGood === undefined ? '' : `; it is not consistent with checkpoint ${this.#lastGood}`
    this.report('checkpoint', location,
      `signed root ${bytesToHex(checkpoint.rootHash)} differs from the recomputed root ${bytesToHex(root)}${consistency}`)
  }

  /** The head must be the latest checkpoint, signed, and name the recomputed root. */
  async #checkHead(head: Head, root: Uint8Array | undefined): Promise<void> {
    const { driver, info, verifier } = this.#target
    if (root !== undefined && !bytesEqual(head.root, root)) {
      this.report('head', 'head', `root ${bytesToHex(head.root)} differs from the recomputed root ${bytesToHex(root)}`)
    }
    const latest = this.#sizes.at(-1)
    if (latest !== head.size) {
      this.report('head', 'head', `is at size ${head.size} but the latest checkpoint is ${latest ?? 'missing'}`)
    } else {
      const stored = await driver.get(checkpointKey(info.name, latest))
      if (stored === undefined || !bytesEqual(stored, utf8.encode(head.checkpoint))) {
        this.report('head', 'head', `its checkpoint differs from stored checkpoint ${latest}`)
      }
    }
    try {
      const checkpoint = openCheckpoint(head.checkpoint, [verifier])
      if (checkpoint.size !== head.size || !bytesEqual(checkpoint.rootHash, head.root)) {
        this.report('head', 'head', 'its checkpoint names another size or root than the head')
      }
    } catch (error) {
      this.report('head', 'head', `its checkpoint does not open with the log's verifier key (${describe(error)})`)
    }
  }

  /** Bundles, bundle parts and tiles stored beyond what a tree of `size` holds. */
  async #checkStrays(size: number): Promise<void> {
    const { driver, info } = this.#target
    const bundles = logRange('bundle', info.name)
    for await (const [key] of driver.range({ ...bundles, gte: bundleKey(info.name, Math.ceil(size / TILE_WIDTH)) })) {
      this.report('entry', `bundle ${describeIndex(keySuffix(key, info.name))}`, `is stored beyond the log's ${size} entries`)
    }
    await this.#strayParts('bundlePart', size)
    await this.#strayParts('leafTilePart', size)
    const tiles = logRange('tile', info.name)
    let level = 0
    for (; level === 0 || Math.floor(size / TILE_WIDTH ** level) > 0; level++) {
      const count = Math.ceil(Math.floor(size / TILE_WIDTH ** level) / TILE_WIDTH)
      await this.#strayTiles(tileKey(info.name, level, count), lastTileKey(info.name, level), size)
    }
    await this.#strayTiles(tileKey(info.name, level, 0), tiles.lte, size)
  }

  /** Part rows (of the open bundle, or of its level-0 tile) anywhere but the open one below `size`. */
  async #strayParts(kind: 'bundlePart' | 'leafTilePart', size: number): Promise<void> {
    const { driver, info } = this.#target
    const open = size % TILE_WIDTH === 0 ? undefined : Math.floor(size / TILE_WIDTH)
    const names = kind === 'bundlePart'
      ? { problem: 'entry', row: (index: number) => `bundle ${index}`, key: 'bundle key', open: 'bundle' } as const
      : { problem: 'tile', row: (index: number) => `tile 0/${index}`, key: 'tile key', open: 'level-0 tile' } as const
    for await (const [key] of driver.range({ ...logRange(kind, info.name), keysOnly: true })) {
      const suffix = keySuffix(key, info.name)
      const part = partOf(suffix)
      if (part !== undefined && part.index === open && part.start < size % TILE_WIDTH) continue
      const where = part === undefined ? `${names.key} ${bytesToHex(suffix)}` : `${names.row(part.index)} part ${part.start}`
      this.report(names.problem, where, `is a part stored outside the open ${names.open} of a log of ${size} entries`)
    }
  }

  async #strayTiles(gte: Uint8Array, lte: Uint8Array, size: number): Promise<void> {
    const { driver, info } = this.#target
    for await (const [key] of driver.range({ gte, lte })) {
      const suffix = keySuffix(key, info.name)
      this.report('tile', `tile ${suffix[0]}/${describeIndex(suffix.subarray(1))}`, `is stored beyond a tree of size ${size}`)
    }
  }

  /** The leaf hash at `index` of the recomputed tree: from its level-0 tile if that checked out. */
  async #leafHashAt(index: number): Promise<Uint8Array | undefined> {
    const trusted = index < this.#counts.entries && !this.#badLeafTiles.has(Math.floor(index / TILE_WIDTH))
    return this.#bundles.leafHashAt(index, trusted)
  }
}

const utf8 = new TextEncoder()

function lastTileKey(log: string, level: number): Uint8Array {
  const key = tileKey(log, level, 0)
  key.fill(0xff, key.length - 8)
  return key
}

function describeIndex(suffix: Uint8Array): string {
  return suffix.length === 8 ? String(readUint64(suffix)) : `key ${bytesToHex(suffix)}`
}

function describe(error: unknown): string {
  const coded = isStoreError(error) || isStorageError(error) || isNoteError(error) || isTlogError(error)
  return coded ? `${error.code}: ${error.message}` : String(error)
}
