import type { RangeOptions, StorageDriver, Swap, Unlock, WriteOp } from './driver.js'
import { StorageError, isStorageError } from './errors.js'
import { faultCode, isStorageFault, isWriteFault } from './faults.js'

/** One write (write, compareAndSwap, compareAndSwapAll) that reached the database, and how it went. */
export interface DriverWrite {
  /** From the call to its settling. */
  readonly seconds: number
  /** False for `write(..., { sync: false })`. */
  readonly sync: boolean
  /** What it was rejected with; undefined when it was written. */
  readonly error: unknown
}

/** Whether a database can write now, and if not, since when and why. */
export interface WriteHealth {
  /** False from a write that failed for a reason outside its caller (isWriteFault) until the database recovered. */
  readonly ok: boolean
  /** When it became so (the driver's making, for one that never failed). */
  readonly since: Date
  /** While not ok: the error of the write that failed, or of the check that stopped recovery. */
  readonly error?: unknown
  /** While not ok: true while the driver retries by itself; false once a check stopped it for good. */
  readonly recovering?: boolean
}

export interface RecoveryOptions {
  /**
   * Opens the database again. After a write fault the driver closes its handle and opens a new
   * one with this before it writes again: LevelDB keeps failing a handle after a failed sync
   * or compaction, and after a failed log write it takes later writes that it then loses on
   * the next open. Without it, recovery probes through the same handle.
   */
  readonly reopen?: () => Promise<StorageDriver>
  /**
   * Whether the storage can write now, asked before the handle is closed to be reopened, so
   * that a database that still cannot write keeps serving reads (say, probeDirectory of its
   * directory with room for what reopening writes).
   */
  readonly probe?: () => Promise<void>
  /** Hears of each write that reached the database as it settles (not those refused while recovering); must not throw. */
  readonly onWrite?: (write: DriverWrite) => void
  /** Hears each change of health: a fault, a recovery, recovery stopped for good; must not throw. */
  readonly onHealth?: (health: WriteHealth) => void
  /** The first wait before a recovery attempt, doubling up to maxRetryMs. Default 100 ms. */
  readonly firstRetryMs?: number
  /** Default 5,000 ms. */
  readonly maxRetryMs?: number
}

/**
 * A driver that keeps a database's write health and recovers from write faults by itself.
 *
 * A write that fails for a reason outside Annal (no space, an I/O error: isWriteFault) makes
 * the driver refuse every write with STORAGE_UNWRITABLE, the failed one included (its own error
 * is the cause), until it has recovered; a write that succeeds on a handle after a fault was
 * seen on that handle is refused as well, since the database may lose it. Reads go on. It then
 * retries with a doubling wait: `probe`, then closes the handle and opens a new one with
 * `reopen` (reads wait for the new handle meanwhile), makes one synced write that changes
 * nothing (probeWrite), and runs the checks registered with afterReopen; once all pass, writes
 * go through again. A check that throws anything but a storage fault (isStorageFault; say, the
 * ledger finding that the database lost what it had acknowledged) stops recovery for good:
 * writes stay refused until the process restarts, and onHealth hears why.
 */
export class RecoveringDriver implements StorageDriver {
  /** As the driver's: a reopened handle is of the same database. */
  readonly shared: boolean | undefined
  readonly #lockable: boolean
  #inner: StorageDriver | undefined
  readonly #options: RecoveryOptions
  readonly #checks = new Set<() => Promise<void>>()
  #health: WriteHealth = { ok: true, since: new Date() }
  /** Counts handles: a write is judged by the handle it went to. */
  #handle = 0
  /** The last handle a write fault was seen on. */
  #faultedHandle = -1
  /** Set while the handle is closed and a new one opens: reads wait for it. */
  #reopening: Promise<void> | undefined
  #recovery: Promise<void> | undefined
  /** Ends the wait before the next recovery attempt, on close. */
  #wake: (() => void) | undefined
  #closed = false

  constructor(inner: StorageDriver, options: RecoveryOptions = {}) {
    this.shared = inner.shared
    this.#lockable = inner.lock !== undefined
    this.#inner = inner
    this.#options = options
    const { firstRetryMs = 100, maxRetryMs = 5_000 } = options
    if (!(firstRetryMs > 0) || !(maxRetryMs >= firstRetryMs)) throw new RangeError('retry waits must be positive, the first at most the longest')
  }

  get health(): WriteHealth {
    return this.#health
  }

  /**
   * Adds a check that runs after each recovery's probe write, before writes go through again:
   * the owner compares what the database holds with what it acknowledged, and takes up what it
   * finds. Reads work during it; writes are still refused. Returns the function that removes it.
   */
  afterReopen(check: () => Promise<void>): () => void {
    this.#checks.add(check)
    return () => this.#checks.delete(check)
  }

  /** The driver's lock, taken on the handle now open (or the one being opened). */
  get lock(): ((name: string) => Promise<Unlock>) | undefined {
    if (!this.#lockable) return undefined
    return async (name) => {
      const driver = this.#inner ?? await this.#reader()
      return driver.lock!(name)
    }
  }

  // Reads go to the handle as they are (its driver gives its storage's read errors as
  // STORAGE_UNREADABLE), or wait for the one being opened.

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const inner = this.#inner
    return inner === undefined ? this.#reader().then((driver) => driver.get(key)) : inner.get(key)
  }

  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const inner = this.#inner
    return inner === undefined ? this.#reader().then((driver) => driver.getMany(keys)) : inner.getMany(keys)
  }

  range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    return this.#inner?.range(options) ?? this.#rangeAfterReopen(options)
  }

  async *#rangeAfterReopen(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    yield* (await this.#reader()).range(options)
  }

  write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    return this.#write(options.sync, (driver) => driver.write(ops, options))
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array, ops: readonly WriteOp[]): Promise<void> {
    return this.#write(true, (driver) => driver.compareAndSwap(key, expected, next, ops))
  }

  compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    return this.#write(true, (driver) => driver.compareAndSwapAll(swaps, ops))
  }

  /** Stops recovery (an attempt under way finishes first), then closes the handle. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#wake?.()
    await this.#recovery
    await this.#inner?.close()
    this.#inner = undefined
  }

  /** The handle once the one being opened is there. */
  async #reader(): Promise<StorageDriver> {
    for (;;) {
      if (this.#inner !== undefined) return this.#inner
      if (this.#closed) throw new StorageError('DATABASE_CLOSED', 'the database is closed')
      if (this.#reopening === undefined) {
        throw new StorageError('STORAGE_UNREADABLE', 'the database was closed to recover and could not be opened again yet', {
          cause: this.#health.error,
        })
      }
      await this.#reopening
    }
  }

  async #write(sync: boolean, write: (driver: StorageDriver) => Promise<void>): Promise<void> {
    const inner = this.#inner
    if (this.#closed) throw new StorageError('DATABASE_CLOSED', 'the database is closed')
    if (!this.#health.ok || inner === undefined) throw this.#refusal()
    const handle = this.#handle
    const start = performance.now()
    let failure: unknown
    try {
      await write(inner)
    } catch (error) {
      failure = error
    }
    this.#options.onWrite?.({ seconds: (performance.now() - start) / 1000, sync, error: failure })
    if (failure !== undefined) {
      if (!isWriteFault(failure) || this.#closed) throw failure
      this.#fault(failure, handle)
      if (isStorageError(failure, 'STORAGE_UNWRITABLE')) throw failure
      throw new StorageError('STORAGE_UNWRITABLE', `the database refused a write (${faultCode(failure)})`, { cause: failure })
    }
    if (this.#faultedHandle >= handle) throw this.#refusal()
  }

  #refusal(): StorageError {
    const { ok, error, recovering } = this.#health
    if (ok) return new StorageError('STORAGE_UNWRITABLE', 'the write went to a handle that failed meanwhile; retry')
    const code = faultCode(error)
    return new StorageError('STORAGE_UNWRITABLE', recovering === false
      ? `the database cannot write (${code}), and recovery stopped`
      : `the database cannot write now (${code}); writes resume once it can`, { cause: error })
  }

  #fault(error: unknown, handle: number): void {
    if (handle < this.#handle) return // its handle is closed already
    this.#faultedHandle = handle
    if (!this.#health.ok) return
    this.#setHealth({ ok: false, since: new Date(), error, recovering: true })
    this.#recovery = this.#recover()
  }

  #setHealth(health: WriteHealth): void {
    this.#health = health
    this.#options.onHealth?.(health)
  }

  async #recover(): Promise<void> {
    const { firstRetryMs = 100, maxRetryMs = 5_000 } = this.#options
    for (let wait = firstRetryMs; ; wait = Math.min(maxRetryMs, wait * 2)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
      if (this.#closed) return
      try {
        await this.#attempt()
      } catch (error) {
        if (this.#closed) return
        if (isStorageFault(error)) continue
        this.#setHealth({ ...this.#health, error, recovering: false })
        return
      }
      if (this.#closed) return
      this.#setHealth({ ok: true, since: new Date() })
      return
    }
  }

  /** Probes, reopens, writes nothing synced, and runs the checks; throws what failed. */
  async #attempt(): Promise<void> {
    const { reopen, probe } = this.#options
    if (reopen !== undefined) {
      await probe?.()
      await this.#reopen(reopen)
    } else {
      // The same handle from now on counts as a new one: writes sent before this attempt stay suspect.
      this.#handle++
    }
    const inner = this.#inner
    if (inner === undefined) throw new StorageError('DATABASE_CLOSED', 'the database is closed')
    try {
      await probeWrite(inner)
    } catch (error) {
      this.#faultedHandle = this.#handle
      throw error
    }
    for (const check of this.#checks) await check()
  }

  async #reopen(reopen: () => Promise<StorageDriver>): Promise<void> {
    const old = this.#inner
    this.#inner = undefined
    this.#handle++
    let opened!: () => void
    this.#reopening = new Promise((resolve) => { opened = resolve })
    try {
      // LevelDB lets one handle a process have a database: the old one goes first. Its reads
      // and writes in flight finish before it closes; its iterators end with an error.
      await old?.close().catch(() => undefined)
      if (this.#closed) return
      this.#inner = await reopen()
    } finally {
      this.#reopening = undefined
      opened()
    }
  }
}

/**
 * A readiness reason for a database that cannot write (undefined while it can), naming the
 * error by its code only (faultCode): `storage: writes fail since <time>: ENOSPC`, or, once
 * recovery stopped for good, `storage: writes stopped since <time>: CORRUPTION; restart after
 * finding out why`.
 */
export function writeHealthReason(health: WriteHealth): string | undefined {
  if (health.ok) return undefined
  const since = health.since.toISOString()
  const code = faultCode(health.error)
  return health.recovering === false
    ? `storage: writes stopped since ${since}: ${code}; restart after finding out why`
    : `storage: writes fail since ${since}: ${code}`
}

/**
 * A key no user of a driver writes (Annal's keys start with a letter): `probeWrite` deletes it,
 * a synced write that changes nothing.
 */
const PROBE_KEY = Uint8Array.of(0)

/** One synced write that changes nothing, to learn whether the database can write now. */
function probeWrite(driver: StorageDriver): Promise<void> {
  return driver.write([{ type: 'del', key: PROBE_KEY }], { sync: true })
}
