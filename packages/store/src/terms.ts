// Search terms: secondary index rows written in the same atomic write as the entries they index.
import type { StorageDriver, WriteOp } from '@annal/storage'
import { MAX_TERM_BYTES, allTermsRange, termIndexOf, termKey } from './keys.js'
import { checkTime } from './time-index.js'

/** What an entry is found by: its search terms, and its time if it has one. */
export interface EntryIndex {
  /**
   * Opaque byte strings of 1 to MAX_TERM_BYTES bytes, each a row keyed by term then index, so
   * that the entries with a term are read in index order.
   */
  readonly terms: readonly Uint8Array[]
  /** Milliseconds since the epoch, finite: the time index holds it (see Log.matching). */
  readonly time?: number
}

/**
 * What an entry of `log` is found by. A function of the entry's bytes and of what the caller
 * keeps beside the ledger, so that a reindex computes the same rows as the appends did. It may
 * answer with a promise (to read an object, say); it runs before the entry's batch is staged,
 * beside the write before it.
 */
export type EntryIndexer = (log: string, entry: Uint8Array) => EntryIndex | Promise<EntryIndex>

/**
 * Each entry's index, checked; awaited only when the indexer answered with a promise.
 * @throws RangeError for a term that is empty or too long, or a time that is not finite.
 */
export async function indexesOf(indexer: EntryIndexer, log: string, entries: readonly Uint8Array[]): Promise<EntryIndex[]> {
  const answers = entries.map((entry) => indexer(log, entry))
  const indexes = answers.some((answer) => answer instanceof Promise) ? await Promise.all(answers) : answers as EntryIndex[]
  for (const { terms, time } of indexes) {
    terms.forEach(checkTerm)
    checkTime(time)
  }
  return indexes
}

/** Where a search looks: indexes in [start, end), newest first when `reverse`. */
export interface TermRange {
  readonly start: number
  readonly end: number
  readonly reverse?: boolean
}

const EMPTY = new Uint8Array(0)
/** Rows read ahead per term: enough to skip through a dense term in few reads, few for a sparse one. */
const CHUNK = 256

/** @throws RangeError for a term that is empty or longer than MAX_TERM_BYTES. */
export function checkTerm(term: Uint8Array): void {
  if (!(term instanceof Uint8Array) || term.length === 0 || term.length > MAX_TERM_BYTES) {
    throw new RangeError(`a search term is 1 to ${MAX_TERM_BYTES} bytes`)
  }
}

/** Adds the rows of an entry's terms (checked) in `generation` to `ops`; a term given twice is one row, written twice. */
export function addTermRows(ops: WriteOp[], log: string, generation: number, terms: readonly Uint8Array[], index: number): void {
  for (const term of terms) {
    checkTerm(term)
    ops.push({ type: 'put', key: termKey(log, generation, term, index), value: EMPTY })
  }
}

/**
 * The indexes in `range` of the entries that have every one of `terms`, in order: a leapfrog
 * join of the terms' rows, each read ahead a chunk at a time and skipped forward by seeking, so
 * a rare term bounds the work however common the others are. No terms: every index in range.
 */
export async function* matchingIndexes(driver: StorageDriver, log: string, generation: number, terms: readonly Uint8Array[],
    range: TermRange): AsyncGenerator<number> {
  const { start, end, reverse = false } = range
  if (start >= end) return
  if (terms.length === 0) {
    if (reverse) for (let i = end - 1; i >= start; i--) yield i
    else for (let i = start; i < end; i++) yield i
    return
  }
  terms.forEach(checkTerm)
  const cursors = terms.map((term) => new TermCursor(driver, log, generation, term, start, end, reverse))
  let candidate: number | undefined = reverse ? end - 1 : start
  while (candidate !== undefined) {
    let agreed = 0
    for (let i = 0; agreed < cursors.length; i = (i + 1) % cursors.length) {
      const found: number | undefined = await cursors[i]!.seek(candidate)
      if (found === undefined) return
      if (found === candidate) agreed++
      else {
        candidate = found
        agreed = 1
      }
    }
    yield candidate
    candidate = reverse ? (candidate > start ? candidate - 1 : undefined) : (candidate + 1 < end ? candidate + 1 : undefined)
  }
}

/** One term's rows in a range, read a chunk at a time. */
class TermCursor {
  readonly #driver: StorageDriver
  readonly #log: string
  readonly #generation: number
  readonly #term: Uint8Array
  readonly #start: number
  readonly #end: number
  readonly #reverse: boolean
  #chunk: number[] = []
  #at = 0
  /** The chunk was the last of the range. */
  #last = false

  constructor(driver: StorageDriver, log: string, generation: number, term: Uint8Array, start: number, end: number, reverse: boolean) {
    this.#driver = driver
    this.#log = log
    this.#generation = generation
    this.#term = term
    this.#start = start
    this.#end = end
    this.#reverse = reverse
  }

  /** The first index at or past `target` in the cursor's direction, or undefined when none is left. */
  async seek(target: number): Promise<number | undefined> {
    const past = (n: number) => (this.#reverse ? n <= target : n >= target)
    while (this.#at < this.#chunk.length && !past(this.#chunk[this.#at]!)) this.#at++
    if (this.#at < this.#chunk.length) return this.#chunk[this.#at]
    // The last chunk held every row from where it was read, and targets only move forward.
    if (this.#last) return undefined
    await this.#read(target)
    return this.#chunk[0]
  }

  async #read(from: number): Promise<void> {
    const [low, high] = this.#reverse ? [this.#start, from] : [from, this.#end - 1]
    const rows = this.#driver.range({
      gte: termKey(this.#log, this.#generation, this.#term, low), lte: termKey(this.#log, this.#generation, this.#term, high),
      reverse: this.#reverse, limit: CHUNK, keysOnly: true,
    })
    this.#chunk = []
    for await (const [key] of rows) this.#chunk.push(termIndexOf(key))
    this.#at = 0
    this.#last = this.#chunk.length < CHUNK
  }
}

/** Rows deleted per write when a generation is cleared. */
const CLEAR_BATCH = 4096

/**
 * Deletes every term row of a log under `generation`'s tag, a batch at a time, so memory stays
 * bounded however many there are. Unsynced but for the last write: a clear cut short is run again.
 * @throws the reason of `signal` once it is aborted, between batches.
 */
export async function clearTerms(driver: StorageDriver, log: string, generation: number, signal?: AbortSignal): Promise<void> {
  let deletes: WriteOp[] = []
  for await (const [key] of driver.range({ ...allTermsRange(log, generation), keysOnly: true })) {
    deletes.push({ type: 'del', key })
    if (deletes.length === CLEAR_BATCH) {
      signal?.throwIfAborted()
      await driver.write(deletes, { sync: false })
      deletes = []
    }
  }
  if (deletes.length > 0) await driver.write(deletes, { sync: true })
}
