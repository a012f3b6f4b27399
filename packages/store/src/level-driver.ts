import { TlogError, bytesEqual } from '@annal/tlog'
import { Level } from 'level'
import type { RangeOptions, StorageDriver, WriteOp } from './driver.js'

/**
 * The embedded LevelDB driver. LevelDB's own lock file keeps a second process (or a second
 * open in this one) out; within the process, compare-and-swap is serialized per key.
 */
export class LevelDriver implements StorageDriver {
  readonly #db: Level<Uint8Array, Uint8Array>
  readonly #swaps = new Map<string, Promise<void>>()

  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.#db = db
  }

  /**
   * Opens (creating if needed) the database in `directory`.
   * @throws TlogError DATABASE_LOCKED when another process or handle has it open.
   */
  static async open(directory: string): Promise<LevelDriver> {
    const db = new Level<Uint8Array, Uint8Array>(directory, { keyEncoding: 'view', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new TlogError('DATABASE_LOCKED', 'the ledger is open in another process', { cause: error })
      }
      throw error
    }
    return new LevelDriver(db)
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return view(await this.#db.get(key))
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return []
    return (await this.#db.getMany(keys as Uint8Array[])).map(view)
  }

  async *range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    const iterator = this.#db.iterator({
      gte: options.gte, lte: options.lte, limit: options.limit ?? -1, reverse: options.reverse ?? false,
    })
    try {
      for await (const [key, value] of iterator) yield [view(key)!, view(value)!]
    } finally {
      await iterator.close()
    }
  }

  async write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    await this.#db.batch(ops as WriteOp[], { sync: options.sync })
  }

  async compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array,
      ops: readonly WriteOp[]): Promise<void> {
    const id = Buffer.from(key).toString('latin1')
    const previous = this.#swaps.get(id) ?? Promise.resolve()
    const swap = previous.then(async () => {
      const current = view(await this.#db.get(key))
      const matches = current === undefined || expected === undefined
        ? current === expected
        : bytesEqual(current, expected)
      if (!matches) throw new TlogError('HEAD_CONFLICT', 'the log head moved under this writer')
      await this.#db.batch([...ops, { type: 'put', key, value: next }] as WriteOp[], { sync: true })
    })
    const settled = swap.catch(() => undefined)
    this.#swaps.set(id, settled)
    void settled.then(() => {
      if (this.#swaps.get(id) === settled) this.#swaps.delete(id)
    })
    return swap
  }

  async close(): Promise<void> {
    await this.#db.close()
  }
}

// classic-level hands back Buffers; the rest of Annal deals in plain Uint8Arrays.
function view(bytes: Uint8Array | undefined): Uint8Array | undefined {
  return bytes === undefined ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
