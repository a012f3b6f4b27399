import { createHash } from 'node:crypto'
import { type RowTable, type TableRow, isStoreError } from '@annal/store'
import { ApiError } from './errors.js'

/** A response remembered for an Idempotency-Key. */
export interface StoredResponse {
  readonly status: 200 | 201
  readonly contentType: string
  readonly body: string | Uint8Array<ArrayBuffer>
}

/**
 * What a key's row keeps: not the response, which can be megabytes, but where its entries are,
 * from which the log rebuilds it (see replayAppend).
 */
export interface IdempotencyRecord {
  /** A digest of the request, which a retry must match. */
  readonly request: string
  readonly log: string
  /** The id of the first entry the request appended; the rest follow it. */
  readonly first: string
  readonly count: number
  /** The media type of the events (NDJSON for a batch). */
  readonly type: string
  /** When the key is forgotten, in ms since the epoch. */
  readonly expires: number
}

/** What a first request stores with its append: the row for its key, once it knows its first entry. */
export type RecordRow = (record: Omit<IdempotencyRecord, 'request' | 'expires'>) => TableRow

interface Kept {
  readonly bytes: number
  readonly expires: number
}

const KEY = /^[\x21-\x7e]{1,255}$/
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/**
 * Idempotency-Keys, kept durably in a RowTable of the ledger: a first request writes its key's
 * row in the same atomic write as its entries, so after a crash or a restart a retry finds the
 * row exactly when the entries exist, and gets the first answer rather than a second append.
 * Rows are kept for `ttlMs` and up to `maxBytes` in all (the oldest go first); in memory, only
 * each row's size and expiry, and the requests still running, which a retry waits for.
 */
export class IdempotencyStore {
  readonly #table: RowTable
  readonly #maxBytes: number
  readonly #ttlMs: number
  readonly #clock: () => Date
  /** Rows by key, oldest first (they expire in the order they were written). */
  readonly #kept = new Map<string, Kept>()
  #bytes = 0
  readonly #running = new Map<string, { readonly request: string; readonly response: Promise<StoredResponse> }>()
  /** Other servers keep rows in the same table (a shared database): a row missing from #kept may exist. */
  readonly #shared: boolean

  private constructor(table: RowTable, maxBytes: number, ttlMs: number, clock: () => Date, shared: boolean) {
    this.#table = table
    this.#maxBytes = maxBytes
    this.#ttlMs = ttlMs
    this.#clock = clock
    this.#shared = shared
  }

  /**
   * Reads the sizes and expiries of the rows in `table`, and forgets those past their time or
   * over `maxBytes`. `shared`: other servers write the table too (Ledger.shared).
   */
  static async open(table: RowTable, maxBytes: number, ttlMs: number, clock: () => Date, shared = false): Promise<IdempotencyStore> {
    const store = new IdempotencyStore(table, maxBytes, ttlMs, clock, shared)
    const rows: (Kept & { key: string })[] = []
    for await (const [key, value] of table.rows()) {
      rows.push({ key, bytes: key.length + value.length, expires: decodeRecord(value).expires })
    }
    rows.sort((a, b) => a.expires - b.expires)
    for (const { key, bytes, expires } of rows) store.#keep(key, bytes, expires)
    await store.#forgetOld()
    return store
  }

  /**
   * Runs `run` once per `scope` + `key`: a retry with the same `request` (a digest of the
   * request) gets `replay` of the stored record, or waits for the first if it is still running.
   * `run` must write the row that `recordRow` makes with its append.
   * @throws ApiError REQUEST_MALFORMED for a bad key; IDEMPOTENCY_KEY_REUSED for another request under the key.
   */
  async once(scope: string, key: string, request: string, run: (recordRow: RecordRow) => Promise<StoredResponse>,
      replay: (record: IdempotencyRecord) => Promise<StoredResponse>): Promise<{ response: StoredResponse; replayed: boolean }> {
    if (!KEY.test(key)) throw new ApiError('REQUEST_MALFORMED', 'an Idempotency-Key is 1-255 visible ASCII characters')
    // Hashed: a row's key has a bounded length and names no subject.
    const id = createHash('sha256').update(scope).update('\n').update(key).digest('hex')
    const running = this.#running.get(id)
    if (running !== undefined) {
      if (running.request !== request) throw reused()
      return { response: await running.response, replayed: true }
    }
    const response = this.#first(id, request, run, replay)
    const shared = response.then(({ response }) => response)
    // Awaited only by retries that come while it runs; the first caller sees its failure.
    shared.catch(() => undefined)
    this.#running.set(id, { request, response: shared })
    try {
      return await response
    } finally {
      this.#running.delete(id)
    }
  }

  /**
   * A key's first request, or the replay of a record stored meanwhile. The row is created only
   * if there is none (a record past its time is replaced): when another server's request under
   * the key wrote it first, this one's append is refused whole and answered from that record.
   */
  async #first(id: string, request: string, run: (recordRow: RecordRow) => Promise<StoredResponse>,
      replay: (record: IdempotencyRecord) => Promise<StoredResponse>): Promise<{ response: StoredResponse; replayed: boolean }> {
    const now = this.#clock().getTime()
    const stored = this.#shared || this.#kept.has(id) ? await this.#table.get(id) : undefined
    if (stored !== undefined) {
      const record = decodeRecord(stored)
      if (now < record.expires) return this.#replay(record, request, replay)
    }
    const expires = now + this.#ttlMs
    let written: Uint8Array | undefined
    let response: StoredResponse
    try {
      response = await run((record) => {
        written = utf8.encode(JSON.stringify({ ...record, request, expires } satisfies IdempotencyRecord))
        return stored === undefined ? this.#table.newRow(id, written) : this.#table.row(id, written)
      })
    } catch (error) {
      const raced = isStoreError(error, 'ROW_EXISTS') ? await this.#table.get(id) : undefined
      if (raced === undefined) throw error
      return this.#replay(decodeRecord(raced), request, replay)
    }
    if (written !== undefined) {
      this.#keep(id, id.length + written.length, expires)
      await this.#forgetOld()
    }
    return { response, replayed: false }
  }

  async #replay(record: IdempotencyRecord, request: string, replay: (record: IdempotencyRecord) => Promise<StoredResponse>):
      Promise<{ response: StoredResponse; replayed: boolean }> {
    if (record.request !== request) throw reused()
    return { response: await replay(record), replayed: true }
  }

  #keep(id: string, bytes: number, expires: number): void {
    const old = this.#kept.get(id)
    if (old !== undefined) {
      this.#bytes -= old.bytes
      this.#kept.delete(id)
    }
    this.#kept.set(id, { bytes, expires })
    this.#bytes += bytes
  }

  /** Deletes the rows past their time, then the oldest while over the byte limit. */
  async #forgetOld(): Promise<void> {
    const now = this.#clock().getTime()
    const gone: string[] = []
    for (const [id, { bytes, expires }] of this.#kept) {
      if (expires > now && this.#bytes <= this.#maxBytes) break
      this.#kept.delete(id)
      this.#bytes -= bytes
      gone.push(id)
    }
    await this.#table.delete(gone)
  }
}

function reused(): ApiError {
  return new ApiError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another request')
}

function decodeRecord(bytes: Uint8Array): IdempotencyRecord {
  return JSON.parse(utf8Decoder.decode(bytes)) as IdempotencyRecord
}
