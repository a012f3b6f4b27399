import type { RangeOptions, StorageDriver, Swap, Unlock, WriteOp } from '../driver.js'

/**
 * A driver that passes every call to `inner` until told to fail its writes: then write,
 * compareAndSwap and compareAndSwapAll reject with the given error, after `after` more
 * writes have gone through, until `heal`. Reads always go through. For tests of what a full or
 * failing disk does to the layers above.
 */
export class FaultDriver implements StorageDriver {
  readonly #inner: StorageDriver
  #fault: { error: Error; after: number } | undefined

  constructor(inner: StorageDriver) {
    this.#inner = inner
  }

  /** Writes from the `after`+1-th on (default: the next) reject with `error`. */
  failWrites(error: Error, options: { readonly after?: number } = {}): void {
    this.#fault = { error, after: options.after ?? 0 }
  }

  heal(): void {
    this.#fault = undefined
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
    return this.#gate(() => this.#inner.write(ops, options))
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array, ops: readonly WriteOp[]): Promise<void> {
    return this.#gate(() => this.#inner.compareAndSwap(key, expected, next, ops))
  }

  compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    return this.#gate(() => this.#inner.compareAndSwapAll(swaps, ops))
  }

  close(): Promise<void> {
    return this.#inner.close()
  }

  #gate(write: () => Promise<void>): Promise<void> {
    const fault = this.#fault
    if (fault === undefined) return write()
    if (fault.after > 0) {
      fault.after--
      return write()
    }
    return Promise.reject(fault.error)
  }
}

/** An error as Node reports a full disk (ENOSPC), for FaultDriver.failWrites. */
export function noSpaceError(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
}
