/** One write of a batch. */
export type WriteOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array }

/** One key of a compare-and-swap: set to `next` if it holds `expected` (undefined: absent). */
export interface Swap {
  readonly key: Uint8Array
  readonly expected: Uint8Array | undefined
  readonly next: Uint8Array
}

/** Bounds of a key range read, in byte order; `limit` caps the rows returned. */
export interface RangeOptions {
  readonly gte: Uint8Array
  readonly lte: Uint8Array
  readonly limit?: number
  readonly reverse?: boolean
  /** Read keys only: each row's value is then empty (for scans that need only the keys). */
  readonly keysOnly?: boolean
}

/** Gives up a lock taken with StorageDriver.lock. */
export type Unlock = () => Promise<void>

/**
 * What the ledger needs from a database. The sequencer and proof code talk to nothing else, so
 * a driver for a shared database can come later; each driver runs the conformance suite in
 * `testing/driver.suite.ts`. A read that the storage beneath fails (an I/O error) rejects with
 * StorageError STORAGE_UNREADABLE, the storage's error the cause; a write that fails so rejects
 * with the storage's error or a STORAGE_UNWRITABLE (RecoveringDriver tells them from a lost
 * swap by isWriteFault).
 */
export interface StorageDriver {
  /**
   * True when other processes may write the same database at the same time (a database server
   * that several `annal serve` share): the store then keeps nothing in memory that another
   * process could make stale, and re-reads what it builds on. Absent: this process's alone.
   */
  readonly shared?: boolean
  /**
   * For a shared database: waits until no other process holds the lock of that name, takes it
   * and resolves with what gives it up. A lock also ends when its holder's connection does, so
   * it decides turns, not safety: what must hold whatever the lock does is decided by a
   * compare-and-swap.
   */
  lock?(name: string): Promise<Unlock>
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Point reads in one round trip; undefined where a key is absent. */
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>
  range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]>
  /** Writes all of `ops` or none; with `sync`, durable when the promise resolves. */
  write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void>
  /**
   * Writes `ops` and sets `key` to `next` in one atomic, durable write, only if `key` still
   * holds `expected` (undefined: absent). Two writers can never both advance the same key.
   * A key that is swapped may also be changed by `write` or by another swap's `ops`, but not by
   * a `write` that overlaps a swap of it (the outcome of that race is not defined).
   * @throws StorageError SWAP_CONFLICT when `key` holds anything else.
   */
  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array,
    ops: readonly WriteOp[]): Promise<void>
  /**
   * compareAndSwap of several keys at once: writes `ops` and every swap in one atomic,
   * durable write only if every key still holds its `expected`; otherwise writes nothing.
   * @throws StorageError SWAP_CONFLICT when any key holds anything else.
   */
  compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void>
  close(): Promise<void>
}
