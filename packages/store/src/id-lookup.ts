import { bytesToHex } from '@annal/tlog'
import type { StorageDriver, WriteOp } from '@annal/storage'
import { StoredHashFilter } from './hash-filter.js'
import { RecentWrites } from './recent-writes.js'
import { idKey, idPrefixRange, indexedKey, keySuffix, logRange, readUint64, uint64 } from './keys.js'

export interface IdLookupOptions {
  /** Most entries that may wait unindexed before appends wait for the index. Default 100,000. */
  readonly maxLookupLag?: number
  /** Index rows written per background batch. Default 10,000. */
  readonly lookupBatchSize?: number
  /**
   * The largest stage of a per-log filter of the log's ids, so that appending a new entry does
   * not look its id up in storage (that lookup cost a third of the append rate). The filter
   * starts at 64 KiB and grows by stages as the log does (rounded down to a power of two, at
   * most 256 MiB a stage, less than twice this in all); filled in the background after the log
   * opens. Default 16 MiB; 0 turns it off.
   */
  readonly idFilterBytes?: number
  /**
   * The log's appends write its rows themselves (on a shared database, where another process
   * looks ids up in storage alone): nothing is held back or written behind, and there is no
   * filter. Default false.
   */
  readonly inline?: boolean
}

/**
 * Fewer rows than this wait up to INDEX_WRITE_DELAY_MS to share a write (lookups see them
 * meanwhile). Small appends then stop making an index write each; larger ones are written at
 * once, since holding them for a full lookupBatchSize made writes big enough to slow the
 * appends behind them (the store benchmark lost 5%).
 */
const INDEX_WRITE_ROWS = 256
const INDEX_WRITE_DELAY_MS = 20

/**
 * The id lookup (leaf hash -> index) of one log, written behind the log: appends commit only
 * entries, tiles and checkpoints, and rows follow in larger, unsynced batches, each with the
 * size it covers (`X`). Entries not yet indexed are held in memory, bounded by maxLookupLag, and
 * rebuilt from the bundles on open, so lookups by id are exact at every moment, crashes included.
 */
export class IdLookup {
  readonly #driver: StorageDriver
  readonly #log: string
  readonly #maxLag: number
  readonly #batchSize: number
  #indexedSize: number
  /** Committed entries without a stored row yet: id hex -> [index, leaf hash]. */
  readonly #unindexed = new Map<string, readonly [number, Uint8Array]>()
  /** Rows written while lookups that began before them were under way. */
  readonly #written = new RecentWrites<readonly [number, Uint8Array]>()
  #writing: Promise<void> | undefined
  /** Set while added rows wait for company (see writeSoon). */
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Rows that are written without waiting for more. */
  readonly #writeRowsAtOnce: number
  #failure: unknown
  /** Every id admitted since open and, once filled, every id with a stored row; undefined when off. */
  readonly #filter: StoredHashFilter | undefined
  readonly #inline: boolean

  constructor(driver: StorageDriver, log: string, indexedSize: number, options: IdLookupOptions = {}) {
    this.#driver = driver
    this.#log = log
    this.#indexedSize = indexedSize
    this.#maxLag = options.maxLookupLag ?? 100_000
    this.#batchSize = options.lookupBatchSize ?? 10_000
    if (!Number.isSafeInteger(this.#maxLag) || this.#maxLag < 1) throw new RangeError('maxLookupLag must be a positive integer')
    if (!Number.isSafeInteger(this.#batchSize) || this.#batchSize < 1) throw new RangeError('lookupBatchSize must be a positive integer')
    this.#inline = options.inline === true
    // Another process's ids never pass through this one's filter, so it could not say "new".
    this.#filter = this.#inline ? undefined : StoredHashFilter.sized(options.idFilterBytes ?? 16 * 2 ** 20, 'idFilterBytes')
    this.#writeRowsAtOnce = Math.min(INDEX_WRITE_ROWS, this.#batchSize, this.#maxLag)
  }

  /**
   * Starts adding the stored rows' ids to the filter, in the background (one pass over the
   * index, O(log size) memory): opening stays O(1), and lookups go to storage until it is done.
   * Resolves when the filter is filled (or its pass stopped by close).
   */
  fillFilter(): Promise<void> {
    // Ids are admitted when their batch is staged, before its write: rows written after this
    // pass began are in the filter already.
    if (this.#filter === undefined) return Promise.resolve()
    const rows = this.#driver.range({ ...logRange('id', this.#log), keysOnly: true })
    return this.#filter.fill(rows, (key) => keySuffix(key, this.#log))
  }

  /** Stops filling the filter and waits for the pass to end (before the database closes). */
  async close(): Promise<void> {
    await this.#filter?.close()
  }

  /** The size below which every entry has its stored row. */
  static async indexedSize(driver: StorageDriver, log: string): Promise<number> {
    const stored = await driver.get(indexedKey(log))
    return stored === undefined ? 0 : readUint64(stored)
  }

  get indexedSize(): number {
    return this.#indexedSize
  }

  /** Issues a ticket for a batch of stored lookups about to start. */
  ticket(): number {
    return this.#written.ticket()
  }

  /**
   * Stored rows for `hashes`: the index, or undefined; misses the in-memory tail (see `pending`).
   * `unseen[i]` is true when the filled filter shows hash i was never admitted nor stored: it is
   * then neither in storage nor anywhere in memory, and no other lookup is needed.
   */
  async stored(hashes: readonly Uint8Array[]): Promise<{ indexes: (number | undefined)[]; unseen: boolean[] }> {
    const filter = this.#filter
    const unseen = hashes.map((hash) => filter !== undefined && filter.unseen(hash))
    const asked = filter === undefined ? hashes : hashes.filter((_, i) => !unseen[i])
    const rows = asked.length === 0 ? [] : await this.#driver.getMany(asked.map((hash) => idKey(this.#log, hash)))
    let next = 0
    const indexes = hashes.map((_, i) => {
      if (unseen[i]) return undefined
      const row = rows[next++]
      return row === undefined ? undefined : readUint64(row)
    })
    return { indexes, unseen }
  }

  /**
   * Puts ids in the filter: every id must be admitted before it can be found anywhere (staged,
   * in the unindexed tail, or stored), since a filled filter that says no ends the search.
   */
  admit(leafHashes: readonly Uint8Array[]): void {
    if (this.#filter !== undefined) for (const hash of leafHashes) this.#filter.add(hash)
  }

  /**
   * The index of an id not (or not visibly) in storage for lookups made with `ticket`: the
   * unindexed tail, or rows written while those lookups ran.
   */
  pending(id: string, ticket: number): number | undefined {
    const row = this.#unindexed.get(id)
    if (row !== undefined) return row[0]
    return this.#written.missed(id, ticket)?.[0]
  }

  /** Forgets written rows that every lookup from `ticket` on can see in storage. */
  release(ticket: number): void {
    this.#written.release(ticket)
  }

  /** Adds committed entries (ids and leaf hashes in index order, admitted) and writes their rows in the background. */
  add(ids: readonly string[], leafHashes: readonly Uint8Array[], firstIndex: number): void {
    if (this.#inline) {
      // Written with the entries: only lookups that began before that write may have missed them.
      this.#written.written(new Map(ids.map((id, i) => [id, [firstIndex + i, leafHashes[i]!] as const])))
      this.#indexedSize = firstIndex + ids.length
      return
    }
    ids.forEach((id, i) => this.#unindexed.set(id, [firstIndex + i, leafHashes[i]!]))
    this.#writeSoon()
  }

  /**
   * Takes up writing rows again after the database recovered from a write fault, and the
   * filter's pass if the reopen cut it off.
   */
  resume(): void {
    if (this.#unindexed.size > 0) this.#writeSoon()
    void this.fillFilter()
  }

  /** Waits while the unindexed tail is at its bound. Throws what the last write failed with if it stays there. */
  async waitForRoom(): Promise<void> {
    if (this.#unindexed.size >= this.#maxLag) this.#writeNow()
    while (this.#unindexed.size >= this.#maxLag && this.#writing !== undefined) await this.#writing
    if (this.#unindexed.size >= this.#maxLag && this.#failure !== undefined) throw this.#failure
  }

  /** Resolves when every added entry has its row stored; throws what the last write failed with if not. */
  async drain(): Promise<void> {
    // A write in flight leaves the rows added meanwhile to a timer: they are written from here.
    for (;;) {
      if (this.#unindexed.size > 0) this.#writeNow()
      if (this.#writing === undefined) break
      await this.#writing
      if (this.#failure !== undefined) throw this.#failure
    }
  }

  /** Writes the rows now if enough are waiting, else within INDEX_WRITE_DELAY_MS. */
  #writeSoon(): void {
    if (this.#writing !== undefined) return
    if (this.#unindexed.size >= this.#writeRowsAtOnce) this.#writeNow()
    else this.#timer ??= setTimeout(() => this.#writeNow(), INDEX_WRITE_DELAY_MS).unref()
  }

  #writeNow(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#writing ??= this.#writeRows()
  }

  /** Entries whose id starts with `prefix`, stored and pending, at most `limit`. */
  async matches(prefix: string, limit: number): Promise<{ id: string; index: number }[]> {
    const found = new Map<string, number>()
    for (const [id, [index]] of this.#pendingEntries()) {
      if (found.size < limit && id.startsWith(prefix)) found.set(id, index)
    }
    for await (const [key, value] of this.#driver.range({ ...idPrefixRange(this.#log, prefix), limit })) {
      if (found.size >= limit) break
      found.set(bytesToHex(keySuffix(key, this.#log)), readUint64(value))
    }
    return [...found].map(([id, index]) => ({ id, index }))
  }

  *#pendingEntries(): Iterable<[string, readonly [number, Uint8Array]]> {
    yield* this.#unindexed
    yield* this.#written.entries()
  }

  /** Writes batches while enough rows wait; fewer, added meanwhile, wait for writeSoon. */
  async #writeRows(): Promise<void> {
    try {
      do {
        const batch = new Map<string, readonly [number, Uint8Array]>()
        for (const [id, row] of this.#unindexed) {
          if (batch.size === this.#batchSize) break
          batch.set(id, row)
        }
        const next = this.#indexedSize + batch.size
        const ops: WriteOp[] = []
        for (const [index, hash] of batch.values()) ops.push({ type: 'put', key: idKey(this.#log, hash), value: uint64(index) })
        ops.push({ type: 'put', key: indexedKey(this.#log), value: uint64(next) })
        // Unsynced: after a crash, whatever is missing is rebuilt from the bundles on open.
        await this.#driver.write(ops, { sync: false })
        this.#written.written(batch)
        for (const id of batch.keys()) this.#unindexed.delete(id)
        this.#indexedSize = next
        this.#failure = undefined
      } while (this.#unindexed.size >= this.#writeRowsAtOnce)
    } catch (error) {
      // The rows stay waiting; the next add, drain or resume tries again.
      this.#failure = error
    } finally {
      this.#writing = undefined
    }
    if (this.#unindexed.size > 0 && this.#failure === undefined) this.#writeSoon()
  }
}
