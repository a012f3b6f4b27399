import { createHash } from 'node:crypto'
import { type RangeOptions, type StorageDriver, StorageError, type Swap, type Unlock, type WriteOp } from '@annal/storage'
import postgres from 'postgres'
import { migrate } from './schema.js'

/** The PostgreSQL type id of bytea, for arrays of keys and values as parameters. */
const BYTEA = 17

/**
 * PostgreSQL's SQLSTATEs for a transaction it aborted to let another one go on (a deadlock, a
 * serialization failure): nothing of it was written, and running it again is safe.
 */
const RETRYABLE = new Set(['40P01', '40001'])
const MAX_ATTEMPTS = 5

/** The first page of a range read, in rows; each later page is twice the last, up to RANGE_PAGE_MAX. */
const RANGE_PAGE_MIN = 16
/**
 * Rows of a range read at most held at once. A row's value is at most a 64 KiB object or a
 * 16 KiB tile in every range the store reads, so a page stays within a few tens of MiB.
 */
const RANGE_PAGE_MAX = 512

export interface PostgresDriverOptions {
  /** Connections kept open at most. Default 10. */
  readonly maxConnections?: number
}

type Sql = postgres.Sql<Record<string, never>>
type Row = { key: Buffer; value: Buffer }

/**
 * The storage driver on PostgreSQL, for several `annal serve` processes on one database: every
 * key and value is a bytea row of one table (`annal_rows`), whose order (memcmp, then length) is
 * LevelDB's unsigned byte order. Writes are transactions; a compare-and-swap locks its rows and
 * updates them only where they still hold what was expected, so two processes can never both
 * advance a key. Because other processes write the same rows, it remembers nothing it read.
 */
export class PostgresDriver implements StorageDriver {
  readonly shared = true
  readonly #sql: Sql
  /** The locks held, each with its connection: closing gives them up first. */
  readonly #locks = new Set<Unlock>()
  #closed = false

  private constructor(sql: Sql) {
    this.#sql = sql
  }

  /**
   * Connects to the database at `url` (postgres://user:password@host:port/database) and creates
   * or migrates Annal's tables.
   * @throws StorageError DATABASE_UNSUPPORTED when a newer Annal made the tables; what the
   *   client throws when the database cannot be reached or refuses the login.
   */
  static async open(url: string, options: PostgresDriverOptions = {}): Promise<PostgresDriver> {
    const { maxConnections = 10 } = options
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) throw new RangeError('maxConnections must be a positive integer')
    const sql: Sql = postgres(url, {
      max: maxConnections,
      // Schema notices (a table that exists already) are for a person at psql, not a server's log.
      onnotice: () => undefined,
      connection: { application_name: 'annal' },
    })
    try {
      await migrate(sql)
    } catch (error) {
      await sql.end({ timeout: 5 })
      throw error
    }
    return new PostgresDriver(sql)
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#checkOpen()
    const rows = await this.#sql<Row[]>`select value from annal_rows where key = ${key}`
    return rows.length === 0 ? undefined : view(rows[0]!.value)
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen()
    if (keys.length === 0) return []
    const rows = await this.#sql<Row[]>`select key, value from annal_rows where key = any(${this.#sql.array([...keys], BYTEA)})`
    const found = new Map(rows.map((row) => [row.key.toString('latin1'), view(row.value)]))
    return keys.map((key) => found.get(keyId(key)))
  }

  /**
   * Keyset pages: each page is one query that starts past the last key read, so a read holds no
   * connection between pages and a reader that stops early leaves nothing open. Pages grow from
   * a few rows, since most ranges the store reads are short or stop at the first row.
   */
  async *range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    this.#checkOpen()
    const reverse = options.reverse === true
    const keysOnly = options.keysOnly === true
    let remaining = options.limit ?? Number.POSITIVE_INFINITY
    let low = options.gte
    let high = options.lte
    let after: Uint8Array | undefined
    let page = RANGE_PAGE_MIN
    while (remaining > 0) {
      const take = Math.min(page, remaining)
      const rows = await this.#page(low, high, after, reverse, keysOnly, take)
      for (const row of rows) yield [view(row.key), keysOnly ? EMPTY : view(row.value)]
      if (rows.length < take) return
      remaining -= rows.length
      after = rows.at(-1)!.key
      if (reverse) high = after
      else low = after
      page = Math.min(page * 2, RANGE_PAGE_MAX)
    }
  }

  /** One page of a range: keys in [low, high], past `after` (exclusive) when given. */
  #page(low: Uint8Array, high: Uint8Array, after: Uint8Array | undefined, reverse: boolean, keysOnly: boolean,
      limit: number): Promise<Row[]> {
    const sql = this.#sql
    const columns = keysOnly ? sql`key` : sql`key, value`
    if (reverse) {
      const upper = after === undefined ? sql`key <= ${high}` : sql`key < ${after}`
      return sql<Row[]>`select ${columns} from annal_rows where key >= ${low} and ${upper} order by key desc limit ${limit}`
    }
    const lower = after === undefined ? sql`key >= ${low}` : sql`key > ${after}`
    return sql<Row[]>`select ${columns} from annal_rows where ${lower} and key <= ${high} order by key limit ${limit}`
  }

  /** One transaction; unsynced (`sync: false`) commits without waiting for the WAL flush. */
  async write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    this.#checkOpen()
    const { puts, dels } = lastOpPerKey(ops)
    if (puts.length === 0 && dels.length === 0) return
    await this.#transaction(async (tx) => {
      await settled([
        ...(options.sync ? [] : [tx`set local synchronous_commit = off`]),
        ...this.#applyStatements(tx, puts, dels),
      ])
    })
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array, ops: readonly WriteOp[]): Promise<void> {
    return this.compareAndSwapAll([{ key, expected, next }], ops)
  }

  /**
   * One transaction: locks the swapped rows in key order (two swaps of overlapping keys then
   * never deadlock), updates those that hold what was expected, inserts those expected absent
   * unless present, and writes the ops; if any swap found something else, rolls back. The
   * statements are sent together, without waiting for each other's answers.
   */
  async compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    this.#checkOpen()
    const ids = swaps.map(({ key }) => keyId(key))
    if (new Set(ids).size !== ids.length) throw new TypeError('a key is swapped at most once in one call')
    const { puts, dels } = lastOpPerKey(ops, new Set(ids))
    const sorted = [...swaps].sort((a, b) => Buffer.compare(a.key, b.key))
    const updates = sorted.filter((swap) => swap.expected !== undefined)
    const creates = sorted.filter((swap) => swap.expected === undefined)
    const sql = this.#sql
    await this.#transaction(async (tx) => {
      const statements: Promise<unknown>[] = []
      let updated: Promise<{ count: number }> | undefined
      let created: Promise<{ count: number }> | undefined
      if (updates.length > 0) {
        const keys = sql.array(updates.map((swap) => swap.key), BYTEA)
        statements.push(tx`select key from annal_rows where key = any(${keys}) order by key for update`)
        updated = tx`
          update annal_rows set value = swap.next
          from unnest(${keys}::bytea[], ${sql.array(updates.map((swap) => swap.expected!), BYTEA)}::bytea[],
            ${sql.array(updates.map((swap) => swap.next), BYTEA)}::bytea[]) as swap(key, expected, next)
          where annal_rows.key = swap.key and annal_rows.value = swap.expected`
        statements.push(updated)
      }
      if (creates.length > 0) {
        created = tx`
          insert into annal_rows (key, value)
          select * from unnest(${sql.array(creates.map((swap) => swap.key), BYTEA)}::bytea[],
            ${sql.array(creates.map((swap) => swap.next), BYTEA)}::bytea[])
          on conflict (key) do nothing`
        statements.push(created)
      }
      statements.push(...this.#applyStatements(tx, puts, dels))
      await settled(statements)
      const swapped = ((await updated)?.count ?? 0) + ((await created)?.count ?? 0)
      if (swapped !== swaps.length) throw new StorageError('SWAP_CONFLICT', 'a key no longer holds the expected value')
    })
  }

  /**
   * A session advisory lock, on a connection of its own for as long as it is held: PostgreSQL
   * gives it up when that connection ends, a holder that died included, and hands it to the
   * waiting sessions in the order they asked.
   */
  async lock(name: string): Promise<Unlock> {
    this.#checkOpen()
    const id = lockId(name)
    const connection = await this.#sql.reserve()
    try {
      await connection`select pg_advisory_lock(${LOCK_SPACE}, ${id})`
    } catch (error) {
      connection.release()
      throw error
    }
    const unlock: Unlock = async () => {
      if (!this.#locks.delete(unlock)) return
      try {
        await connection`select pg_advisory_unlock(${LOCK_SPACE}, ${id})`
      } finally {
        connection.release()
      }
    }
    this.#locks.add(unlock)
    return unlock
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#locks].map((unlock) => unlock()))
    await this.#sql.end({ timeout: 5 })
  }

  /** The statements that write `puts` and delete `dels` (at most one op per key between them). */
  #applyStatements(tx: postgres.TransactionSql<Record<string, never>>, puts: readonly WriteOp[], dels: readonly Uint8Array[]): Promise<unknown>[] {
    const sql = this.#sql
    const statements: Promise<unknown>[] = []
    if (puts.length > 0) {
      statements.push(tx`
        insert into annal_rows (key, value)
        select * from unnest(${sql.array(puts.map((op) => op.key), BYTEA)}::bytea[],
          ${sql.array(puts.map((op) => (op as { value: Uint8Array }).value), BYTEA)}::bytea[])
        on conflict (key) do update set value = excluded.value`)
    }
    if (dels.length > 0) statements.push(tx`delete from annal_rows where key = any(${sql.array([...dels], BYTEA)})`)
    return statements
  }

  /** Runs `body` in a transaction, again when PostgreSQL aborted it for another's sake. */
  async #transaction(body: (tx: postgres.TransactionSql<Record<string, never>>) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#sql.begin(body)
        return
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has((error as { code?: string }).code ?? '')) throw error
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('DATABASE_CLOSED', 'the database is closed')
  }
}

const EMPTY = new Uint8Array(0)

/** The first key of Annal's advisory locks ("anl" in ASCII), so that they stay apart from other users' of the database. */
const LOCK_SPACE = 0x616e6c

/** A lock's name as the second key of a two-key advisory lock: 32 bits of its SHA-256. */
function lockId(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0)
}

/**
 * Waits for every statement sent together, then throws the first failure: once one fails, the
 * rest of its transaction fails too, and each rejection must be heard.
 */
async function settled(statements: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(statements)
  const failed = results.find((result) => result.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

/**
 * The ops that decide each key's final value, as puts and deletes: a batch's effect on a key is
 * its last op on it, and one statement may change a row only once. Keys in `skip` (swapped in
 * the same transaction, which wins) are left out.
 * @throws TypeError for an op that is not a put of Uint8Array key and value or a del of a Uint8Array key.
 */
function lastOpPerKey(ops: readonly WriteOp[], skip: ReadonlySet<string> = new Set()): { puts: WriteOp[]; dels: Uint8Array[] } {
  const last = new Map<string, WriteOp>()
  for (const op of ops) {
    const valid = op !== null && typeof op === 'object' && op.key instanceof Uint8Array &&
      (op.type === 'del' || (op.type === 'put' && op.value instanceof Uint8Array))
    if (!valid) throw new TypeError('a write is a put of Uint8Array key and value, or a del of a Uint8Array key')
    const id = keyId(op.key)
    if (skip.has(id)) continue
    last.delete(id)
    last.set(id, op)
  }
  const puts: WriteOp[] = []
  const dels: Uint8Array[] = []
  for (const op of last.values()) {
    if (op.type === 'put') puts.push(op)
    else dels.push(op.key)
  }
  return { puts, dels }
}

function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

// The client hands back Buffers; the rest of Annal deals in plain Uint8Arrays.
function view(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
