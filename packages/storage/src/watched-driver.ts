import type { RangeOptions, StorageDriver, Swap, Unlock, WriteOp } from './driver.js'
import { isStorageError } from './errors.js'

/** One write (write, compareAndSwap, compareAndSwapAll) and how it went. */
export interface DriverWrite {
  /** From the call to its settling. */
  readonly seconds: number
  /** False for `write(..., { sync: false })`. */
  readonly sync: boolean
  /** What it was rejected with; undefined when it was written. */
  readonly error: unknown
}

/** Whether a database could write, as of its last write that said so. */
export interface WriteHealth {
  /** False from a write that failed for a reason outside its caller (isWriteFault) until one succeeds. */
  readonly ok: boolean
  /** When it became so (the driver's wrapping, for one that never failed). */
  readonly since: Date
  /** While not ok: what the failed write was rejected with. */
  readonly error?: unknown
}

/**
 * A driver that keeps its WriteHealth and reports each write to `onWrite` when it settles, for
 * health checks and metrics; every call goes to `inner` unchanged. `onWrite` must not throw.
 */
export class WatchedDriver implements StorageDriver {
  readonly #inner: StorageDriver
  readonly #onWrite: (write: DriverWrite) => void
  #health: WriteHealth = { ok: true, since: new Date() }

  constructor(inner: StorageDriver, onWrite: (write: DriverWrite) => void = () => undefined) {
    this.#inner = inner
    this.#onWrite = onWrite
  }

  /** A lost compare-and-swap or a malformed write says nothing of the database: it leaves this as it was. */
  get health(): WriteHealth {
    return this.#health
  }

  get shared(): boolean | undefined {
    return this.#inner.shared
  }

  get lock(): ((name: string) => Promise<Unlock>) | undefined {
    const inner = this.#inner
    return inner.lock === undefined ? undefined : (name) => inner.lock!(name)
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#inner.get(key)
  }

  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.#inner.getMany(keys)
  }

  range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    return this.#inner.range(options)
  }

  write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    return this.#watch(options.sync, () => this.#inner.write(ops, options))
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array, ops: readonly WriteOp[]): Promise<void> {
    return this.#watch(true, () => this.#inner.compareAndSwap(key, expected, next, ops))
  }

  compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    return this.#watch(true, () => this.#inner.compareAndSwapAll(swaps, ops))
  }

  close(): Promise<void> {
    return this.#inner.close()
  }

  async #watch(sync: boolean, write: () => Promise<void>): Promise<void> {
    const start = performance.now()
    try {
      await write()
    } catch (error) {
      if (isWriteFault(error) && this.#health.ok) this.#health = { ok: false, since: new Date(), error }
      this.#onWrite({ seconds: (performance.now() - start) / 1000, sync, error })
      throw error
    }
    if (!this.#health.ok) this.#health = { ok: true, since: new Date() }
    this.#onWrite({ seconds: (performance.now() - start) / 1000, sync, error: undefined })
  }
}

/**
 * Whether a rejected write says that the database cannot write (no space, an I/O error, a
 * closed database), rather than that this write lost a compare-and-swap or was malformed.
 */
export function isWriteFault(error: unknown): boolean {
  return error !== undefined && !isStorageError(error, 'SWAP_CONFLICT') && !(error instanceof TypeError) && !(error instanceof RangeError)
}

/**
 * A key no user of a driver writes (Annal's keys start with a letter): `probeWrite` deletes it,
 * a synced write that changes nothing.
 */
const PROBE_KEY = Uint8Array.of(0)

/** One synced write that changes nothing, to learn whether the database can write now. */
export function probeWrite(driver: StorageDriver): Promise<void> {
  return driver.write([{ type: 'del', key: PROBE_KEY }], { sync: true })
}
