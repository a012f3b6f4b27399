import type { RangeOptions, StorageDriver, Swap, Unlock, WriteOp } from '../driver.js'
import { readFault } from '../faults.js'

/**
 * What a set of FaultDrivers is told to fail, shared by the drivers a test opens one after the
 * other (a RecoveringDriver's reopen makes a new one on a new handle): a full disk stays full
 * across a reopen.
 */
export class Faults {
  #write: { readonly error: Error; after: number; readonly landed: boolean } | undefined
  #read: { readonly error: Error; after: number } | undefined

  /**
   * Writes from the `after`+1-th on (default: the next) reject with `error`, until heal. With
   * `landed`, each is written first and rejected after, as a failed sync may leave it.
   */
  failWrites(error: Error, options: { readonly after?: number; readonly landed?: boolean } = {}): void {
    this.#write = { error, after: options.after ?? 0, landed: options.landed ?? false }
  }

  /** Reads (get, getMany, range) from the `after`+1-th on reject with `error`, until heal. */
  failReads(error: Error, options: { readonly after?: number } = {}): void {
    this.#read = { error, after: options.after ?? 0 }
  }

  heal(): void {
    this.#write = undefined
    this.#read = undefined
  }

  /** The fault for the next write, counting it; undefined when it goes through. */
  nextWrite(): { readonly error: Error; readonly landed: boolean } | undefined {
    return next(this.#write)
  }

  /** The error for the next read, counting it; undefined when it goes through. */
  nextRead(): Error | undefined {
    return next(this.#read)?.error
  }
}

function next<F extends { after: number }>(fault: F | undefined): F | undefined {
  if (fault === undefined) return undefined
  if (fault.after > 0) {
    fault.after--
    return undefined
  }
  return fault
}

/**
 * A driver that passes every call to `inner` until its Faults say to fail: then writes (write,
 * compareAndSwap, compareAndSwapAll) reject with the given error, and reads with it as a
 * driver gives an I/O error (readFault: STORAGE_UNREADABLE, the error the cause). Like a LevelDB
 * handle, once a write of it failed it fails every later write with that error, healed or
 * not, until it is closed. For tests of what a full or failing disk does to the layers above.
 */
export class FaultDriver implements StorageDriver {
  readonly #inner: StorageDriver
  readonly faults: Faults
  /** The error of the write that failed on this handle, which every later write gets. */
  #failed: Error | undefined

  constructor(inner: StorageDriver, faults: Faults = new Faults()) {
    this.#inner = inner
    this.faults = faults
  }

  /** Faults.failWrites of this driver's faults. */
  failWrites(error: Error, options: { readonly after?: number; readonly landed?: boolean } = {}): void {
    this.faults.failWrites(error, options)
  }

  /** Faults.failReads of this driver's faults. */
  failReads(error: Error, options: { readonly after?: number } = {}): void {
    this.faults.failReads(error, options)
  }

  /** Faults.heal: later reads go through, and writes on a handle that never failed. */
  heal(): void {
    this.faults.heal()
  }

  get shared(): boolean | undefined {
    return this.#inner.shared
  }

  get lock(): ((name: string) => Promise<Unlock>) | undefined {
    const inner = this.#inner
    return inner.lock === undefined ? undefined : (name) => inner.lock!(name)
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#gateRead(() => this.#inner.get(key))
  }

  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.#gateRead(() => this.#inner.getMany(keys))
  }

  async *range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    const error = this.faults.nextRead()
    if (error !== undefined) throw readFault(error)
    yield* this.#inner.range(options)
  }

  write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    return this.#gateWrite(() => this.#inner.write(ops, options))
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array, ops: readonly WriteOp[]): Promise<void> {
    return this.#gateWrite(() => this.#inner.compareAndSwap(key, expected, next, ops))
  }

  compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    return this.#gateWrite(() => this.#inner.compareAndSwapAll(swaps, ops))
  }

  close(): Promise<void> {
    return this.#inner.close()
  }

  /** A read it fails rejects as a driver's does: an I/O error as STORAGE_UNREADABLE. */
  #gateRead<T>(read: () => Promise<T>): Promise<T> {
    const error = this.faults.nextRead()
    return error === undefined ? read() : Promise.reject(readFault(error))
  }

  async #gateWrite(write: () => Promise<void>): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed
    const fault = this.faults.nextWrite()
    if (fault === undefined) return write()
    this.#failed = fault.error
    if (fault.landed) await write()
    throw fault.error
  }
}

/** An error as Node reports a full disk (ENOSPC), for Faults.failWrites. */
export function noSpaceError(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
}

/** An error as LevelDB reports a failed read or write, with the OS error in its message only. */
export function levelIoError(message = 'IO error: /data/db/000005.ldb: Input/output error'): Error {
  return Object.assign(new Error(message), { code: 'LEVEL_IO_ERROR' })
}
