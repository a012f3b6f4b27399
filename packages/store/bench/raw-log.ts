// The store and server benchmarks' baseline: the rows ledger appends write, written straight to
// LevelDB by the fastest path it has, with none of the ledger's work (no hashing, signing or lookups).
import { randomBytes } from 'node:crypto'
import { HASH_SIZE, TILE_WIDTH, encodeEntryBundle, storedTileHashCount } from '@annal/tlog'
import { type ChainedBatch, Level } from 'level'

type Database = Level<Uint8Array, Uint8Array>
/** A chained batch of a raw database, to put rows into. */
export type RawBatch = ChainedBatch<Database, Uint8Array, Uint8Array>

/** Key tags as the store's keys.ts has them. */
const TAG = {
  head: 0x48, tile: 0x54, bundle: 0x45, bundlePart: 0x42, leafTilePart: 0x50, checkpoint: 0x43, id: 0x49, indexed: 0x58,
  objectMeta: 0x4d,
}
const INDEX_BATCH_ROWS = 10_000
const FULL_TILE_BYTES = storedTileHashCount(TILE_WIDTH) * HASH_SIZE
const SIGNATURE_BYTES = 4 + 64
const NOISE_BYTES = 2 ** 20
const KEY_NOISE_ROWS = 65536
const KEY_NOISE_BYTES = HASH_SIZE - 8
const utf8 = new TextEncoder()

/**
 * A LevelDB database written as the ledger writes its own: synced chained batches
 * (`db.batch().put(...).write({ sync: true })`, the path the ledger's LevelDriver takes), one
 * in flight at a time with the next built meanwhile, as the ledger's sequencer stages a batch
 * during the write before it. Hashes and signatures are random bytes.
 */
export class RawDatabase {
  readonly #db: Database
  readonly #logs: RawLog[] = []
  readonly #noise = randomBytes(NOISE_BYTES)
  readonly #keyNoise = randomBytes(KEY_NOISE_ROWS * KEY_NOISE_BYTES)
  #noiseAt = 0
  #objects = 0

  private constructor(db: Database) {
    this.#db = db
  }

  /**
   * A database that only makes rows, for a baseline that writes them elsewhere (PostgreSQL's):
   * its logs' `stage` and `hashKeys` work; `batch`, `writeSynced` and `close` must not be called.
   */
  static rowsOnly(): RawDatabase {
    return new RawDatabase(undefined as unknown as Database)
  }

  static async open(directory: string, writeBufferSize: number): Promise<RawDatabase> {
    const db = new Level<Uint8Array, Uint8Array>(directory, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize })
    await db.open()
    return new RawDatabase(db)
  }

  /** A log in this database; `record(i)` gives entry i's bytes. */
  log(name: string, record: (index: number) => Uint8Array): RawLog {
    const log = new RawLog(this, name, record)
    this.#logs.push(log)
    return log
  }

  /**
   * Writes synced batches while `more()` holds: `build` puts one batch's rows and returns what
   * to do once that batch is durable.
   */
  async writeSynced(more: () => boolean, build: (batch: RawBatch) => () => void): Promise<void> {
    let writing: Promise<void> | undefined
    while (more()) {
      const batch = this.#db.batch()
      const durable = build(batch)
      await writing
      writing = batch.write({ sync: true }).then(durable)
    }
    await writing
  }

  /**
   * Puts an object metadata row (`M` and a digest) for each value, as the object store writes
   * one per new object; each key is new and lands at random in the key space, as a digest does.
   */
  putObjectRows(batch: RawBatch, values: readonly Uint8Array[]): void {
    const keys = this.hashKeys(Uint8Array.of(TAG.objectMeta), this.#objects, values.length)
    values.forEach((value, i) => batch.put(keys[i]!, value))
    this.#objects += values.length
  }

  async close(): Promise<void> {
    await Promise.all(this.#logs.map((log) => log.idle()))
    await this.#db.close()
  }

  /** @internal A chained batch for a log's rows. */
  batch(): RawBatch {
    return this.#db.batch()
  }

  /**
   * @internal Keys `prefix || 24 random bytes || uint64(n)` for `count` values of n from `first`:
   * unique, at random in the key space as hashes are, and in one off-heap array as the ledger's
   * driver copies small keys into.
   */
  hashKeys(prefix: Uint8Array, first: number, count: number): Uint8Array[] {
    const length = prefix.length + HASH_SIZE
    const slab = new Uint8Array(count * length)
    return Array.from({ length: count }, (_, i) => {
      const at = i * length
      const noise = ((first + i) % KEY_NOISE_ROWS) * KEY_NOISE_BYTES
      slab.set(prefix, at)
      slab.set(this.#keyNoise.subarray(noise, noise + KEY_NOISE_BYTES), at + prefix.length)
      slab.set(uint64(first + i), at + prefix.length + KEY_NOISE_BYTES)
      return slab.subarray(at, at + length)
    })
  }

  /** @internal `length` random bytes, a different stretch each call (so LevelDB cannot compress them). */
  random(length: number): Uint8Array {
    this.#noiseAt = (this.#noiseAt + 4099) % (NOISE_BYTES - length)
    return this.#noise.subarray(this.#noiseAt, this.#noiseAt + length)
  }
}

/**
 * Writes, for each batch of entries, the rows Log.append writes for it (store/src log.ts,
 * bundles.ts, id-lookup.ts), under the same keys and with values of the same sizes:
 * - in the synced batch: the entry bundles that filled (E, C2SP bundle encoding) and the deletes
 *   of their part rows, the open bundle's new part (B) and its leaf hashes' part (P), the hash
 *   tiles that filled and the open tiles above level 0 that changed (T, stored layout), the
 *   checkpoint note (C) and the head (H, JSON);
 * - behind it, the id rows (I: leaf hash -> index) and the indexed size (X) in unsynced chained
 *   batches of at most 10,000 rows, one in flight, as the id lookup writes them.
 */
export class RawLog {
  readonly #database: RawDatabase
  readonly #name: string
  readonly #origin: string
  readonly #record: (index: number) => Uint8Array
  #size = 0
  #open: Uint8Array[] = []
  #parts: number[] = []
  #indexed = 0
  #durable = 0
  #indexing: Promise<void> | undefined

  /** @internal Use RawDatabase.log. */
  constructor(database: RawDatabase, name: string, record: (index: number) => Uint8Array) {
    this.#database = database
    this.#name = name
    this.#origin = `bench.example/${name}`
    this.#record = record
  }

  get size(): number {
    return this.#size
  }

  /** Appends entries up to index `to` in synced batches of `batchSize` holding this log's rows alone. */
  append(to: number, batchSize: number): Promise<void> {
    return this.#database.writeSynced(() => this.#size < to, (batch) => {
      const end = Math.min(to, this.#size + batchSize)
      this.stage(batch, end)
      return () => this.durable(end)
    })
  }

  /** Puts the rows of entries size..end-1 into `batch`. */
  stage(batch: RawBatch, end: number): void {
    const from = this.#size
    for (let level = 0, span = TILE_WIDTH; span <= end; level++, span *= TILE_WIDTH) {
      for (let tile = Math.floor(from / span); tile < Math.floor(end / span); tile++) {
        batch.put(this.#key(TAG.tile, Uint8Array.of(level), uint64(tile)), this.#database.random(FULL_TILE_BYTES))
      }
    }
    for (let level = 1; Math.floor(from / TILE_WIDTH ** level) < Math.floor(end / TILE_WIDTH ** level); level++) {
      const width = Math.floor(end / TILE_WIDTH ** level) % TILE_WIDTH
      const index = Math.floor(end / TILE_WIDTH ** (level + 1))
      if (width > 0) {
        batch.put(this.#key(TAG.tile, Uint8Array.of(level), uint64(index)), this.#database.random(storedTileHashCount(width) * HASH_SIZE))
      }
    }
    let partStart = this.#open.length
    for (let i = from; i < end; i++) {
      this.#open.push(this.#record(i))
      if (this.#open.length === TILE_WIDTH) {
        const bundle = Math.floor(i / TILE_WIDTH)
        batch.put(this.#key(TAG.bundle, uint64(bundle)), encodeEntryBundle(this.#open))
        for (const start of this.#parts) batch.del(this.#key(TAG.bundlePart, uint64(bundle), uint16(start)))
        for (const start of this.#parts) batch.del(this.#key(TAG.leafTilePart, uint64(bundle), uint16(start)))
        this.#open = []
        this.#parts = []
        partStart = 0
      }
    }
    if (this.#open.length > partStart) {
      const bundle = Math.floor(end / TILE_WIDTH)
      batch.put(this.#key(TAG.bundlePart, uint64(bundle), uint16(partStart)), encodeEntryBundle(this.#open.slice(partStart)))
      batch.put(this.#key(TAG.leafTilePart, uint64(bundle), uint16(partStart)), this.#database.random((this.#open.length - partStart) * HASH_SIZE))
      this.#parts.push(partStart)
    }
    const checkpoint = `${this.#origin}\n${end}\n${this.#base64(HASH_SIZE)}\n\n— ${this.#origin} ${this.#base64(SIGNATURE_BYTES)}\n`
    batch.put(this.#key(TAG.checkpoint, uint64(end)), utf8.encode(checkpoint))
    const root = Buffer.from(this.#database.random(HASH_SIZE)).toString('hex')
    batch.put(this.#key(TAG.head), utf8.encode(JSON.stringify({ size: end, root, checkpoint })))
    this.#size = end
  }

  /**
   * Puts the id rows (I) of entries from..end-1 and the indexed size (X) into `batch`, as a
   * ledger on a shared database writes them with the entries.
   */
  stageIds(batch: { put(key: Uint8Array, value: Uint8Array): unknown }, from: number, end: number): void {
    const keys = this.#database.hashKeys(this.#key(TAG.id), from, end - from)
    keys.forEach((key, i) => batch.put(key, uint64(from + i)))
    batch.put(this.#key(TAG.indexed), uint64(end))
  }

  /** The entries below `end` are durable: their id rows follow. */
  durable(end: number): void {
    this.#durable = end
    this.#indexing ??= this.#writeIds()
  }

  /** Resolves once the id rows of every durable entry are written. */
  async idle(): Promise<void> {
    await this.#indexing
  }

  /** Writes the id rows of durable entries, a batch at a time, until none wait. */
  async #writeIds(): Promise<void> {
    while (this.#indexed < this.#durable) {
      const end = Math.min(this.#durable, this.#indexed + INDEX_BATCH_ROWS)
      const keys = this.#database.hashKeys(this.#key(TAG.id), this.#indexed, end - this.#indexed)
      const values = new Uint8Array(keys.length * 8)
      const batch = this.#database.batch()
      keys.forEach((key, i) => {
        values.set(uint64(this.#indexed + i), i * 8)
        batch.put(key, values.subarray(i * 8, i * 8 + 8))
      })
      batch.put(this.#key(TAG.indexed), uint64(end))
      await batch.write({ sync: false })
      this.#indexed = end
    }
    this.#indexing = undefined
  }

  #base64(bytes: number): string {
    return Buffer.from(this.#database.random(bytes)).toString('base64')
  }

  /** tag || log name || 0x00 || suffix, as keys.ts builds a log-scoped key. */
  #key(tag: number, ...suffix: Uint8Array[]): Uint8Array {
    const name = utf8.encode(this.#name)
    const out = new Uint8Array(2 + name.length + suffix.reduce((sum, part) => sum + part.length, 0))
    out[0] = tag
    out.set(name, 1)
    let at = 2 + name.length
    for (const part of suffix) {
      out.set(part, at)
      at += part.length
    }
    return out
  }
}

function uint64(n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

function uint16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff)
}
