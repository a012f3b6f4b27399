import type { Appender, Participant } from './appender.js'
import type { StorageDriver, WriteOp } from '@annal/storage'
import { tableKey, tableKeyOf, tableRange } from './keys.js'

/** A row made by RowTable.row, to write with an append (Ledger.append's `rows`). */
export class TableRow {
  /** @internal */
  readonly op: WriteOp

  /** @internal Use RowTable.row. */
  constructor(key: typeof MADE, op: WriteOp) {
    if (key !== MADE) throw new TypeError('rows to append come from RowTable.row')
    this.op = op
  }
}

const MADE = Symbol('row')

/** The appender's name for the rows participant; no log name starts with a space. */
export const ROWS = ' rows'

/**
 * Rows that a ledger's user keeps beside its logs, under a table name: read and deleted on
 * their own, written with an append, in the same atomic write as its entries, or on their own
 * (`write`) when no entry goes with them. The HTTP API keeps its idempotency records here, so
 * that a record exists exactly when its append does.
 * Keys are strings of at most 255 UTF-8 bytes; the store reads nothing in the rows.
 */
export class RowTable {
  readonly name: string
  readonly #driver: StorageDriver

  /** @internal Use Ledger.table. */
  constructor(driver: StorageDriver, name: string) {
    this.#driver = driver
    this.name = name
  }

  /** A row to hand to Ledger.append. @throws RangeError for a key of more than 255 bytes. */
  row(key: string, value: Uint8Array): TableRow {
    return new TableRow(MADE, { type: 'put', key: tableKey(this.name, key), value })
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#driver.get(tableKey(this.name, key))
  }

  /** The rows of `keys`, in their order (undefined where absent), in one read of the storage. */
  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return this.#driver.getMany(keys.map((key) => tableKey(this.name, key)))
  }

  /**
   * Every row whose key starts with `prefix`, in the byte order of the keys; with `keysOnly`,
   * their values are left unread (and empty).
   */
  async *rows(prefix = '', options: { readonly keysOnly?: boolean } = {}): AsyncIterable<readonly [string, Uint8Array]> {
    const range = { ...tableRange(this.name, prefix), keysOnly: options.keysOnly ?? false }
    for await (const [key, value] of this.#driver.range(range)) yield [tableKeyOf(this.name, key), value]
  }

  /**
   * Writes `rows` (from `row`) and deletes `deletes`, in one atomic write, synced unless `sync`
   * is false (then a crash may lose it, and the writes after it, but never part of it).
   */
  async write(rows: readonly TableRow[], deletes: readonly string[] = [], options: { readonly sync?: boolean } = {}): Promise<void> {
    const ops = [...rows.map((row) => row.op), ...deletes.map((key): WriteOp => ({ type: 'del', key: tableKey(this.name, key) }))]
    if (ops.length === 0) return
    await this.#driver.write(ops, { sync: options.sync ?? true })
  }

  /** Deletes rows (absent ones are no error), in one synced write. */
  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.#driver.write(keys.map((key) => ({ type: 'del', key: tableKey(this.name, key) })), { sync: true })
  }
}

/** Registers the rows participant: a call's rows are written with the call, or skipped with it. */
export function registerRows(appender: Appender): Participant<TableRow, undefined> {
  return appender.register<undefined, { ops: WriteOp[]; calls: number }, undefined, TableRow>(ROWS, {
    prepare: async () => undefined,
    waitForRoom: async () => undefined,
    stage: (calls, _prepared, skip) => ({
      ops: calls.flatMap((rows, i) => (skip.has(i) ? [] : rows.map((row) => row.op))), calls: calls.length,
    }),
    adopt: () => undefined,
    writes: ({ ops }) => (ops.length === 0 ? undefined : { ops }),
    written: ({ calls }) => new Array<undefined>(calls).fill(undefined),
    discard: () => undefined,
  })
}
