// The reindexes a server runs in the background, at most one a log: asked for over HTTP, started
// when a log's indexed fields gain one, and at start for a reindex a stop cut short, or a log
// whose index does not cover all its entries (kept before the log had an index state, or
// appended without an indexer) or a field over them.
import type { Ledger } from '@annal/store'
import type { SearchFields } from './search-fields.js'

/** A log's search index as the admin routes show it (docs/api.md). */
export interface IndexStatusJson {
  readonly log: string
  readonly indexed_fields: readonly string[]
  /** Every entry from this index on has its filters and time in the index. */
  readonly indexed_from: number
  /** Each indexed field: the index from which its entries have its rows (0: all of them). */
  readonly fields_indexed_from: Readonly<Record<string, number>>
  readonly reindex: { readonly done: number; readonly total: number; readonly running: boolean } | null
  /** Why the last reindex failed, until one succeeds. */
  readonly reindex_error: string | null
}

export class Reindexing {
  readonly #ledger: Ledger
  readonly #fields: SearchFields
  readonly #running = new Map<string, Promise<void>>()
  readonly #errors = new Map<string, string>()

  constructor(ledger: Ledger, fields: SearchFields) {
    this.#ledger = ledger
    this.#fields = fields
  }

  /** Starts reindexing log `name` in the background, in place of one running (resumed where it was if of the same fields). */
  start(name: string): void {
    const run: Promise<void> = this.#ledger.reindex(name, { config: this.#fields.config(name) }).then(() => {
      this.#errors.delete(name)
    }, (error: unknown) => {
      // Replaced by a later reindex of the log, or stopped as the ledger closed: the state is kept for the next.
      if (this.#running.get(name) === run && !this.#ledger.closed) this.#errors.set(name, (error as Error).message)
    }).finally(() => {
      if (this.#running.get(name) === run) this.#running.delete(name)
    })
    this.#running.set(name, run)
  }

  /** Starts the reindexes each log needs: one a stop cut short, or one to index all its entries, or a field over them. */
  resume(): void {
    for (const { name } of this.#ledger.logs()) {
      const state = this.#ledger.log(name).indexState
      if (state.build !== undefined || state.from > 0 || this.#fields.needsReindex(name, state)) this.start(name)
    }
  }

  /** Resolves when the reindex of log `name` running now, if any, has ended. */
  async settled(name: string): Promise<void> {
    await this.#running.get(name)
  }

  /** @throws StoreError LOG_NOT_FOUND. */
  async status(name: string): Promise<IndexStatusJson> {
    const log = this.#ledger.log(name)
    const state = log.indexState
    const fields = this.#fields.of(name)
    const progress = await this.#ledger.reindexProgress(name)
    // A log none of whose entries are covered yet is covered from the next one.
    const from = (index: number) => Math.min(Math.max(state.from, index), log.size)
    return {
      log: name,
      indexed_fields: fields,
      indexed_from: from(0),
      fields_indexed_from: Object.fromEntries(fields.map((field) => [field, from(this.#fields.indexedFrom(name, field, state))])),
      reindex: progress ?? null,
      reindex_error: this.#errors.get(name) ?? null,
    }
  }
}
