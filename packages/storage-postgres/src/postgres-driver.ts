import { createHash } from 'node:crypto'
import { type RangeOptions, type StorageDriver, StorageError, type Swap, type Unlock, type WriteOp } from '@annal/storage'
import pg from 'pg'
import { SWAP_CONFLICT_STATE, migrate } from './schema.js'

/**
 * PostgreSQL's SQLSTATEs for a statement it aborted to let another one go on (a deadlock, a
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

/** The first key of Annal's advisory locks ("anl" in ASCII), so that they stay apart from other users' of the database. */
const LOCK_SPACE = 0x616e6c

export interface PostgresDriverOptions {
  /** Connections kept open at most. Default 10. */
  readonly maxConnections?: number
}

interface Row {
  readonly key: Buffer
  readonly value: Buffer
}

/**
 * The storage driver on PostgreSQL, for several `annal serve` processes on one database: every
 * key and value is a bytea row of one table (`annal_rows`), whose order (memcmp, then length) is
 * LevelDB's unsigned byte order. Each write is one call of a function (`annal_write`,
 * `annal_swap`): one statement, so one round trip and one transaction. A compare-and-swap locks
 * its rows and updates them only where they still hold what was expected, so two processes can
 * never both advance a key. Because other processes write the same rows, it remembers nothing
 * it read.
 */
export class PostgresDriver implements StorageDriver {
  readonly shared = true
  readonly #pool: pg.Pool
  /** The locks held, each with its connection: closing gives them up first. */
  readonly #locks = new Set<Unlock>()
  #closed = false

  private constructor(pool: pg.Pool) {
    this.#pool = pool
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
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, application_name: 'annal' })
    // An idle connection that the server ended (a restart, say) is dropped by the pool, which
    // opens another when one is asked for; the error is not this process's to die of.
    pool.on('error', () => undefined)
    try {
      await migrate(pool)
    } catch (error) {
      await pool.end()
      throw error
    }
    return new PostgresDriver(pool)
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const { rows } = await this.#query<Row>('select value from annal_rows where key = $1', [key])
    return rows.length === 0 ? undefined : view(rows[0]!.value)
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen()
    if (keys.length === 0) return []
    const { rows } = await this.#query<Row>('select key, value from annal_rows where key = any($1::bytea[])', [keys])
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
  async #page(low: Uint8Array, high: Uint8Array, after: Uint8Array | undefined, reverse: boolean, keysOnly: boolean,
      limit: number): Promise<Row[]> {
    const columns = keysOnly ? 'key' : 'key, value'
    const bounds = reverse
      ? `key >= $1 and key ${after === undefined ? '<=' : '<'} $2 order by key desc`
      : `key ${after === undefined ? '>=' : '>'} $1 and key <= $2 order by key`
    const values = reverse ? [low, after ?? high, limit] : [after ?? low, high, limit]
    return (await this.#query<Row>(`select ${columns} from annal_rows where ${bounds} limit $3`, values)).rows
  }

  async write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    const { puts, dels } = lastOpPerKey(ops)
    this.#checkOpen()
    if (puts.length === 0 && dels.length === 0) return
    await this.#query('select annal_write($1::bytea[], $2::bytea[], $3::bytea[], $4)',
      [puts.map((op) => op.key), puts.map((op) => op.value), dels, options.sync])
  }

  compareAndSwap(key: Uint8Array, expected: Uint8Array | undefined, next: Uint8Array, ops: readonly WriteOp[]): Promise<void> {
    return this.compareAndSwapAll([{ key, expected, next }], ops)
  }

  /**
   * One call of annal_swap: it locks the swapped rows in key order, updates those that hold what
   * was expected, inserts those expected absent unless present, and writes the ops; if any swap
   * found something else, it raises, and nothing of it is written.
   */
  async compareAndSwapAll(swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
    const ids = swaps.map(({ key }) => keyId(key))
    if (new Set(ids).size !== ids.length) throw new TypeError('a key is swapped at most once in one call')
    const { puts, dels } = lastOpPerKey(ops, new Set(ids))
    this.#checkOpen()
    const sorted = [...swaps].sort((a, b) => Buffer.compare(a.key, b.key))
    const updates = sorted.filter((swap) => swap.expected !== undefined)
    const creates = sorted.filter((swap) => swap.expected === undefined)
    try {
      await this.#query('select annal_swap($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[])', [
        updates.map((swap) => swap.key), updates.map((swap) => swap.expected!), updates.map((swap) => swap.next),
        creates.map((swap) => swap.key), creates.map((swap) => swap.next),
        puts.map((op) => op.key), puts.map((op) => op.value), dels,
      ])
    } catch (error) {
      if ((error as { code?: string }).code === SWAP_CONFLICT_STATE) {
        throw new StorageError('SWAP_CONFLICT', 'a key no longer holds the expected value', { cause: error })
      }
      throw error
    }
  }

  /**
   * A session advisory lock, on a connection of its own for as long as it is held: PostgreSQL
   * gives it up when that connection ends, a holder that died included, and hands it to the
   * waiting sessions in the order they asked.
   */
  async lock(name: string): Promise<Unlock> {
    this.#checkOpen()
    const id = lockId(name)
    const client = await this.#pool.connect()
    // A held connection that the server ends reports it here; the unlock then finds it closed.
    const ignore = (): void => undefined
    client.on('error', ignore)
    const release = (error?: Error): void => {
      client.off('error', ignore)
      client.release(error)
    }
    try {
      await client.query('select pg_advisory_lock($1, $2)', [LOCK_SPACE, id])
    } catch (error) {
      release(error as Error)
      throw error
    }
    const unlock: Unlock = async () => {
      if (!this.#locks.delete(unlock)) return
      try {
        await client.query('select pg_advisory_unlock($1, $2)', [LOCK_SPACE, id])
      } catch (error) {
        // The connection is gone, and the lock with it.
        release(error as Error)
        throw error
      }
      release()
    }
    this.#locks.add(unlock)
    return unlock
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#locks].map((unlock) => unlock()))
    await this.#pool.end()
  }

  /**
   * One statement on a pooled connection, again when PostgreSQL aborted it for another's sake.
   * A server that cannot take it now (down, starting up, out of disk) rejects it with
   * StorageError STORAGE_UNWRITABLE, the server's error the cause, so that what waits for the
   * storage to come back (RecoveringDriver) goes on waiting.
   */
  async #query<R extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<pg.QueryResult<R>> {
    this.#checkOpen()
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#pool.query<R>(text, values as unknown[])
      } catch (error) {
        if (isUnavailable(error)) throw new StorageError('STORAGE_UNWRITABLE', `the database is unavailable (${describe(error)})`, { cause: error })
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has((error as { code?: string }).code ?? '')) throw error
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('DATABASE_CLOSED', 'the database is closed')
  }
}

const EMPTY = new Uint8Array(0)

/**
 * SQLSTATE classes of a server that cannot serve now rather than of a statement at fault:
 * 08 connection exception, 53 insufficient resources (53100 disk full), 57P operator
 * intervention (shut down, starting up), 58 system error (58030 I/O error).
 */
const UNAVAILABLE_STATE = /^(?:08|53|57P|58)/

/** Whether `error` says the server is down or cannot take statements now (see UNAVAILABLE_STATE). */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return UNAVAILABLE_STATE.test(code) || /^E[A-Z]+$/.test(code)
  // pg ends a connection the server dropped with this message and no code.
  return error instanceof Error && /^Connection terminated/.test(error.message)
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : (error as Error).message
}

/** A lock's name as the second key of a two-key advisory lock: 32 bits of its SHA-256. */
function lockId(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0)
}

/**
 * The ops that decide each key's final value, as puts and deletes: a batch's effect on a key is
 * its last op on it, and one statement may change a row only once. Keys in `skip` (swapped in
 * the same transaction, which wins) are left out.
 * @throws TypeError for an op that is not a put of Uint8Array key and value or a del of a Uint8Array key.
 */
function lastOpPerKey(ops: readonly WriteOp[], skip: ReadonlySet<string> = new Set()):
    { puts: (WriteOp & { type: 'put' })[]; dels: Uint8Array[] } {
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
  const puts: (WriteOp & { type: 'put' })[] = []
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
