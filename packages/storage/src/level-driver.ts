import { bytesEqual } from '@annal/tlog'
import { Level } from 'level'
import type { RangeOptions, StorageDriver, Swap, WriteOp } from './driver.js'
import { StorageError } from './errors.js'
import { readFault } from './faults.js'

/**
 * classic-level's implementation of getMany, which abstract-level's public one calls after
 * validating, cloning and re-encoding every key. Annal uses none of the hooks, events,
 * sublevels or encodings that work serves, so the driver calls it directly. The versions are
 * pinned, and the conformance suite checks the behaviour.
 */
interface LevelImplementation {
  _getMany(keys: readonly Uint8Array[], options: { valueEncoding: 'view'; fillCache: boolean }): Promise<(Uint8Array | undefined)[]>
}

/** LevelDB's write buffer unless a ledger says otherwise (LedgerOptions.writeBufferBytes says why). */
export const DEFAULT_WRITE_BUFFER_BYTES = 8 * 2 ** 20

/**
 * The embedded LevelDB driver. LevelDB's own lock file keeps a second process (or a second
 * open in this one) out; within the process, compare-and-swap is serialized per key.
 */
export class LevelDriver implements StorageDriver {
  readonly #db: Level<Uint8Array, Uint8Array>
  readonly #implementation: LevelImplementation
  readonly #swaps = new Map<string, Promise<void>>()
  /**
   * The value each key last got from compareAndSwap, so the next swap of it compares without a
   * read (a read per batch showed in every profile of an HTTP append). The database is
   * this process's alone (LevelDB's lock), so only write() and other swaps' ops can change
   * such a key behind it, and they forget the keys they write (a write overlapping a swap of
   * the same key is outside the driver contract).
   */
  readonly #swapped = new Map<string, Uint8Array>()
  /** The byte lengths of keys ever swapped: write() only looks at keys of these lengths. */
  readonly #swappedLengths = new Set<number>()
  #closed = false

  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.#db = db
    this.#implementation = db as unknown as LevelImplementation
  }

  /**
   * Opens (creating if needed) the database in `directory`; `maxOpenFiles` and
   * `writeBufferBytes` as LedgerOptions says.
   * @throws StorageError DATABASE_LOCKED when another process or handle has it open.
   */
  static async open(directory: string, options: {
    readonly maxOpenFiles?: number | undefined
    readonly writeBufferBytes?: number | undefined
  } = {}): Promise<LevelDriver> {
    const { maxOpenFiles = 1000, writeBufferBytes = DEFAULT_WRITE_BUFFER_BYTES } = options
    if (!Number.isSafeInteger(maxOpenFiles) || maxOpenFiles < 16) throw new RangeError('maxOpenFiles must be an integer >= 16')
    if (!Number.isSafeInteger(writeBufferBytes) || writeBufferBytes < 2 ** 16 || writeBufferBytes > 2 ** 30) {
      throw new RangeError('writeBufferBytes must be an integer from 64 KiB to 1 GiB')
    }
    const db = new Level<Uint8Array, Uint8Array>(directory, {
      keyEncoding: 'view', valueEncoding: 'view', maxOpenFiles, writeBufferSize: writeBufferBytes,
    })
    try {
      await db.open()
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new StorageError('DATABASE_LOCKED', `${directory} is open in another process or handle`, { cause: error })
      }
      throw error
    }
    return new LevelDriver(db)
  }

  // Reads that LevelDB fails for a reason outside Annal (an I/O error) reject with
  // STORAGE_UNREADABLE, the LevelDB error the cause.

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return view(await this.#db.get(key))
    } catch (error) {
      throw readFault(error)
    }
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen()
    if (keys.length === 0) return []
    try {
      const values = await this.#implementation._getMany(keys, { valueEncoding: 'view', fillCache: true })
      return values.map(view)
    } catch (error) {
      throw readFault(error)
    }
  }

  async *range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    const keysOnly = options.keysOnly === true
    let iterator: AsyncIterable<[Uint8Array, Uint8Array]> & { close(): Promise<void> } | undefined
    try {
      // Made inside the try: a handle closed meanwhile throws here too.
      iterator = this.#db.iterator({
        gte: options.gte, lte: options.lte, limit: options.limit ?? -1, reverse: options.reverse ?? false, values: !keysOnly,
      })
      for await (const [key, value] of iterator) yield [view(key)!, keysOnly ? EMPTY : view(value)!]
    } catch (error) {
      throw readFault(error)
    } finally {
      await iterator?.close()
    }
  }

  async write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    this.#checkOpen()
    checkOps(ops)
    this.#forget(ops)
    if (ops.length > 0) await this.#commit(ops, options.sync)
  }

  /**
   * One atomic write, through a chained batch: one native call per operation, with the key and
   * value as its arguments, which costs about half of the array form, whose native side reads
   * each operation's fields as properties (abstract-level's array `batch` also clones every
   * operation). Concurrent writes are not gathered here: LevelDB groups the writers queued
   * behind one in flight by itself, without waiting for the event loop, and gathering them here
   * one write at a time made the store benchmark slower.
   */
  async #commit(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    const batch = this.#db.batch()
    const slab = new Slab(ops.reduce((sum, op) => sum + smallBytes(op.key) + (op.type === 'put' ? smallBytes(op.value) : 0), 0))
    for (const op of ops) {
      if (op.type === 'put') batch.put(slab.place(op.key), slab.place(op.value))
      else batch.del(slab.place(op.key))
    }
    await batch.write({ sync })
  }

  /** Forgets what swaps remembered of the keys `ops` write. */
  #forget(ops: readonly WriteOp[]): void {
    if (this.#swapped.size === 0) return
    for (const { key } of ops) {
      if (this.#swappedLengths.has(key.length)) this.#swapped.delete(keyId(key))
    }
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array,
      ops: readonly WriteOp[]): Promise<void> {
    return this.compareAndSwapAll([{ key, expected, next }], ops)
  }

  /** Swaps of a key run one after another; a swap of several keys waits for each key's last one. */
  compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    const ids = swaps.map(({ key }) => keyId(key))
    if (ids.length > 1 && new Set(ids).size !== ids.length) {
      return Promise.reject(new TypeError('a key is swapped at most once in one call'))
    }
    for (const { key } of swaps) this.#swappedLengths.add(key.length)
    const previous = ids.length === 1 ? this.#swaps.get(ids[0]!) ?? Promise.resolve()
      : Promise.all(ids.map((id) => this.#swaps.get(id)))
    const swap = previous.then(async () => {
      for (const [i, { key, expected }] of swaps.entries()) {
        const current = this.#swapped.has(ids[i]!) ? this.#swapped.get(ids[i]!) : view(await this.#db.get(key))
        const matches = current === undefined || expected === undefined
          ? current === expected
          : bytesEqual(current, expected)
        if (!matches) throw new StorageError('SWAP_CONFLICT', 'a key no longer holds the expected value')
      }
      this.#checkOpen()
      const all: WriteOp[] = [...ops, ...swaps.map(({ key, next }): WriteOp => ({ type: 'put', key, value: next }))]
      checkOps(all)
      this.#forget(all)
      await this.#commit(all, true)
      swaps.forEach(({ next }, i) => this.#swapped.set(ids[i]!, next.slice()))
    })
    const settled = swap.catch(() => undefined)
    for (const id of ids) this.#swaps.set(id, settled)
    void settled.then(() => {
      for (const id of ids) if (this.#swaps.get(id) === settled) this.#swaps.delete(id)
    })
    return swap
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#db.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('DATABASE_CLOSED', 'the database is closed')
  }
}

const EMPTY = new Uint8Array(0)

/**
 * V8 keeps typed arrays of at most this many bytes on its own heap, and handing one to native
 * code (a key or value given to a batch) makes V8 move it off the heap first: an allocation and
 * a copy each, and an array buffer for the garbage collector to sweep. Keys and small values
 * are such arrays.
 */
const ON_HEAP_BYTES = 64

function smallBytes(array: Uint8Array): number {
  return array.length <= ON_HEAP_BYTES ? array.length : 0
}

/**
 * One off-heap array that a write's small arrays are copied into before they reach native code,
 * so that they cost one move off the heap between them rather than one each, which took half
 * the time of a small put. The batch copies what it is given, so the slab need not outlive the
 * call.
 */
class Slab {
  readonly #bytes: Uint8Array
  #at = 0

  /** `size`: the bytes of the small arrays to place. */
  constructor(size: number) {
    // Itself larger than ON_HEAP_BYTES, so that it is off the heap from the start.
    this.#bytes = new Uint8Array(Math.max(size, ON_HEAP_BYTES + 1))
  }

  /** `array` itself when it is large, else a copy of it in the slab. */
  place(array: Uint8Array): Uint8Array {
    if (array.length > ON_HEAP_BYTES) return array
    const start = this.#at
    this.#bytes.set(array, start)
    this.#at += array.length
    return this.#bytes.subarray(start, this.#at)
  }
}

function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

/** Checked whole before anything is written (#commit takes any operation that is not a put for a del). */
function checkOps(ops: readonly WriteOp[]): void {
  for (const op of ops) {
    const valid = op !== null && typeof op === 'object' && op.key instanceof Uint8Array &&
      (op.type === 'del' || (op.type === 'put' && op.value instanceof Uint8Array))
    if (!valid) throw new TypeError('a write is a put of Uint8Array key and value, or a del of a Uint8Array key')
  }
}

// classic-level hands back Buffers; the rest of Annal deals in plain Uint8Arrays.
function view(bytes: Uint8Array | undefined): Uint8Array | undefined {
  return bytes === undefined ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
