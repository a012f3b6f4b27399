import type { Appender, Participant } from './appender.js'
import type { StorageDriver, Swap, WriteOp } from '@annal/storage'
import { StoreError } from './errors.js'
import { tableKey, tableKeyOf, tableRange } from './keys.js'

/** A row made by RowTable.row or RowTable.newRow, to write with an append (Ledger.append's `rows`). */
export class TableRow {
  /** @internal */
  readonly op: WriteOp & { readonly type: 'put' }
  /** @internal The row must not exist yet (RowTable.newRow). */
  readonly created: boolean

  /** @internal Use RowTable.row or RowTable.newRow. */
  constructor(key: typeof MADE, op: WriteOp & { readonly type: 'put' }, created = false) {
    if (key !== MADE) throw new TypeError('rows to append come from RowTable.row')
    this.op = op
    this.created = created
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

  /**
   * A row that must not exist yet, to hand to Ledger.append: the call is refused whole, in
   * every log it names, with StoreError ROW_EXISTS when the row exists (written by another
   * server of a shared database, say) or an earlier call of its batch writes it.
   * @throws RangeError for a key of more than 255 bytes.
   */
  newRow(key: string, value: Uint8Array): TableRow {
    return new TableRow(MADE, { type: 'put', key: tableKey(this.name, key), value }, true)
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

interface StagedRows {
  readonly ops: WriteOp[]
  /** New rows, on a shared database: created only if absent. */
  readonly swaps: Swap[]
  readonly calls: number
  readonly refused: ReadonlyMap<number, StoreError>
}

/**
 * Registers the rows participant: a call's rows are written with the call, or skipped with it.
 * New rows (RowTable.newRow) are looked up first; on a `shared` database they are also written
 * only if absent, so that a row another process wrote since the lookup loses the batch its
 * write, which is then sequenced again and refused.
 */
export function registerRows(appender: Appender, driver: StorageDriver, shared: boolean): Participant<TableRow, undefined> {
  return appender.register<ReadonlySet<string>, StagedRows, undefined, TableRow>(ROWS, {
    prepare: async (calls) => {
      const created = calls.flatMap((rows) => rows.filter((row) => row.created).map((row) => row.op.key))
      if (created.length === 0) return new Set<string>()
      const stored = await driver.getMany(created)
      return new Set(created.filter((_, i) => stored[i] !== undefined).map(rowId))
    },
    waitForRoom: async () => undefined,
    stage: (calls, existing, skip) => {
      const staged: StagedRows = { ops: [], swaps: [], calls: calls.length, refused: new Map() }
      const made = new Set(existing)
      calls.forEach((rows, i) => {
        if (skip.has(i)) return
        const created = rows.filter((row) => row.created)
        if (created.some((row) => made.has(rowId(row.op.key)))) {
          (staged.refused as Map<number, StoreError>).set(i, new StoreError('ROW_EXISTS', 'a row this call creates exists'))
          return
        }
        for (const row of rows) {
          if (row.created) made.add(rowId(row.op.key))
          if (row.created && shared) staged.swaps.push({ key: row.op.key, expected: undefined, next: row.op.value })
          else staged.ops.push(row.op)
        }
      })
      return staged
    },
    refusals: (staged) => staged.refused,
    adopt: () => undefined,
    writes: ({ ops, swaps }) => (ops.length === 0 && swaps.length === 0 ? undefined : { ops, swaps }),
    written: ({ calls }) => new Array<undefined>(calls).fill(undefined),
    discard: () => undefined,
  })
}

function rowId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}
