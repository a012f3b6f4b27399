// The store benchmark's baseline: the rows a ledger append writes, written straight to LevelDB by
// the fastest path it has, with none of the ledger's work (no hashing, signing or lookups).
import { randomBytes } from 'node:crypto'
import { HASH_SIZE, TILE_WIDTH, encodeEntryBundle, storedTileHashCount } from '@annal/tlog'
import { Level } from 'level'

const LOG = 'bench'
const ORIGIN = `bench.example/${LOG}`
/** Key tags as the store's keys.ts has them. */
const TAG = { head: 0x48, tile: 0x54, bundle: 0x45, bundlePart: 0x42, leafTilePart: 0x50, checkpoint: 0x43, id: 0x49, indexed: 0x58 }
const INDEX_BATCH_ROWS = 10_000
const FULL_TILE_BYTES = storedTileHashCount(TILE_WIDTH) * HASH_SIZE
const SIGNATURE_BYTES = 4 + 64
const NOISE_BYTES = 2 ** 20
const ID_NOISE_BYTES = HASH_SIZE - 8
const utf8 = new TextEncoder()

/**
 * Writes, for each batch of entries, the rows Log.append writes for it (store/src log.ts,
 * bundles.ts, id-index.ts), under the same keys and with values of the same sizes:
 * - one synced chained batch (`db.batch().put(...).write({ sync: true })`, the path the ledger's
 *   LevelDriver takes): the entry bundles that filled (E, C2SP bundle encoding) and the deletes
 *   of their part rows, the open bundle's new part (B) and its leaf hashes' part (P), the hash
 *   tiles that filled and the open tiles above level 0 that changed (T, stored layout), the
 *   checkpoint note (C) and the head (H, JSON);
 * - behind it, the id rows (I: leaf hash -> index) and the indexed size (X) in unsynced chained
 *   batches of at most 10,000 rows, one in flight, as the id index writes them.
 * One synced write is in flight at a time and the next batch is built meanwhile, as the ledger's
 * sequencer stages a batch during the write before it. Hashes and signatures are random bytes;
 * an id row's key is unique and lands at random in the key space, as a leaf hash does.
 */
export class RawLog {
  readonly #db: Level<Uint8Array, Uint8Array>
  readonly #record: (index: number) => Uint8Array
  readonly #noise = randomBytes(NOISE_BYTES)
  readonly #idNoise = randomBytes(65536 * ID_NOISE_BYTES)
  #noiseAt = 0
  #size = 0
  #open: Uint8Array[] = []
  #parts: number[] = []
  #indexed = 0
  #durable = 0
  #indexing: Promise<void> | undefined

  private constructor(db: Level<Uint8Array, Uint8Array>, record: (index: number) => Uint8Array) {
    this.#db = db
    this.#record = record
  }

  /** Opens a database in `directory`; `record(i)` gives entry i's bytes. */
  static async open(directory: string, writeBufferSize: number, record: (index: number) => Uint8Array): Promise<RawLog> {
    const db = new Level<Uint8Array, Uint8Array>(directory, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize })
    await db.open()
    return new RawLog(db, record)
  }

  /** Appends entries up to index `to` in synced batches of `batchSize`; the id rows may still be on their way. */
  async append(to: number, batchSize: number): Promise<void> {
    let writing: Promise<void> | undefined
    while (this.#size < to) {
      const end = Math.min(to, this.#size + batchSize)
      const batch = this.#batch(end)
      await writing
      writing = batch.write({ sync: true }).then(() => {
        this.#durable = end
        this.#indexing ??= this.#writeIds()
      })
    }
    await writing
  }

  async close(): Promise<void> {
    await this.#indexing
    await this.#db.close()
  }

  /** The rows of entries size..end, in a chained batch not yet written. */
  #batch(end: number) {
    const batch = this.#db.batch()
    const from = this.#size
    for (let level = 0, span = TILE_WIDTH; span <= end; level++, span *= TILE_WIDTH) {
      for (let tile = Math.floor(from / span); tile < Math.floor(end / span); tile++) {
        batch.put(key(TAG.tile, Uint8Array.of(level), uint64(tile)), this.#random(FULL_TILE_BYTES))
      }
    }
    for (let level = 1; Math.floor(from / TILE_WIDTH ** level) < Math.floor(end / TILE_WIDTH ** level); level++) {
      const width = Math.floor(end / TILE_WIDTH ** level) % TILE_WIDTH
      const index = Math.floor(end / TILE_WIDTH ** (level + 1))
      if (width > 0) batch.put(key(TAG.tile, Uint8Array.of(level), uint64(index)), this.#random(storedTileHashCount(width) * HASH_SIZE))
    }
    let partStart = this.#open.length
    for (let i = from; i < end; i++) {
      this.#open.push(this.#record(i))
      if (this.#open.length === TILE_WIDTH) {
        const bundle = Math.floor(i / TILE_WIDTH)
        batch.put(key(TAG.bundle, uint64(bundle)), encodeEntryBundle(this.#open))
        for (const start of this.#parts) batch.del(key(TAG.bundlePart, uint64(bundle), uint16(start)))
        for (const start of this.#parts) batch.del(key(TAG.leafTilePart, uint64(bundle), uint16(start)))
        this.#open = []
        this.#parts = []
        partStart = 0
      }
    }
    if (this.#open.length > partStart) {
      const bundle = Math.floor(end / TILE_WIDTH)
      batch.put(key(TAG.bundlePart, uint64(bundle), uint16(partStart)), encodeEntryBundle(this.#open.slice(partStart)))
      batch.put(key(TAG.leafTilePart, uint64(bundle), uint16(partStart)), this.#random((this.#open.length - partStart) * HASH_SIZE))
      this.#parts.push(partStart)
    }
    const checkpoint = `${ORIGIN}\n${end}\n${this.#base64(HASH_SIZE)}\n\n— ${ORIGIN} ${this.#base64(SIGNATURE_BYTES)}\n`
    batch.put(key(TAG.checkpoint, uint64(end)), utf8.encode(checkpoint))
    const root = Buffer.from(this.#random(HASH_SIZE)).toString('hex')
    batch.put(key(TAG.head), utf8.encode(JSON.stringify({ size: end, root, checkpoint })))
    this.#size = end
    return batch
  }

  /** Writes the id rows of durable entries, a batch at a time, until none wait. */
  async #writeIds(): Promise<void> {
    while (this.#indexed < this.#durable) {
      const end = Math.min(this.#durable, this.#indexed + INDEX_BATCH_ROWS)
      // One off-heap array for the rows' keys and values, as the driver copies small ones into.
      const prefix = key(TAG.id)
      const rowBytes = prefix.length + HASH_SIZE + 8
      const slab = new Uint8Array((end - this.#indexed) * rowBytes)
      const batch = this.#db.batch()
      for (let i = this.#indexed, at = 0; i < end; i++, at += rowBytes) {
        slab.set(prefix, at)
        const noise = (i % 65536) * ID_NOISE_BYTES
        slab.set(this.#idNoise.subarray(noise, noise + ID_NOISE_BYTES), at + prefix.length)
        slab.set(uint64(i), at + prefix.length + ID_NOISE_BYTES)
        slab.set(uint64(i), at + prefix.length + HASH_SIZE)
        batch.put(slab.subarray(at, at + prefix.length + HASH_SIZE), slab.subarray(at + prefix.length + HASH_SIZE, at + rowBytes))
      }
      batch.put(key(TAG.indexed), uint64(end))
      await batch.write({ sync: false })
      this.#indexed = end
    }
    this.#indexing = undefined
  }

  /** `length` random bytes, a different stretch each call (so LevelDB cannot compress them). */
  #random(length: number): Uint8Array {
    this.#noiseAt = (this.#noiseAt + 4099) % (NOISE_BYTES - length)
    return this.#noise.subarray(this.#noiseAt, this.#noiseAt + length)
  }

  #base64(bytes: number): string {
    return Buffer.from(this.#random(bytes)).toString('base64')
  }
}

/** tag || log name || 0x00 || suffix, as keys.ts builds a log-scoped key. */
function key(tag: number, ...suffix: Uint8Array[]): Uint8Array {
  const name = utf8.encode(LOG)
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

function uint64(n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

function uint16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff)
}
