import type { DriverWrite, WriteHealth } from '@annal/storage'
import type { AppendBatch } from './appender.js'

/**
 * What Ledger.watch hears: each write to the database, each batch of appends it held, and each
 * change of the database's write health (a fault, a recovery, recovery stopped for good).
 */
export type LedgerEvent =
  | { readonly kind: 'write'; readonly write: DriverWrite }
  | { readonly kind: 'health'; readonly health: WriteHealth }
  /** `entries`: per log in the batch, its entries (objects and rows are not counted). */
  | { readonly kind: 'batch'; readonly entries: ReadonlyMap<string, number>; readonly error: unknown }

/** The ledger's writes and batches as they settle, told to its watchers. */
export class WriteWatch {
  readonly #watchers = new Set<(event: LedgerEvent) => void>()
  readonly #isLog: (name: string) => boolean

  /** `isLog`: which of the appender's participants are logs. */
  constructor(isLog: (name: string) => boolean) {
    this.#isLog = isLog
  }

  watch(watcher: (event: LedgerEvent) => void): () => void {
    this.#watchers.add(watcher)
    return () => this.#watchers.delete(watcher)
  }

  wrote = (write: DriverWrite): void => {
    if (this.#watchers.size > 0) this.#tell({ kind: 'write', write })
  }

  health = (health: WriteHealth): void => {
    this.#tell({ kind: 'health', health })
  }

  batch = (batch: AppendBatch): void => {
    if (this.#watchers.size === 0) return
    const entries = new Map<string, number>()
    for (const [name, count] of batch.items) if (this.#isLog(name)) entries.set(name, count)
    this.#tell({ kind: 'batch', entries, error: batch.error })
  }

  #tell(event: LedgerEvent): void {
    for (const watcher of this.#watchers) watcher(event)
  }
}
