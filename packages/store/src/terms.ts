// Search terms: secondary index rows written in the same atomic write as the entries they index.
import type { StorageDriver, WriteOp } from '@annal/storage'
import { MAX_TERM_BYTES, allTermsRange, termIndexOf, termKey } from './keys.js'

/**
 * The search terms of an entry of `log`: opaque byte strings of 1 to MAX_TERM_BYTES bytes, each
 * a row keyed by term then index, so that the entries with a term are read in index order. A
 * function of the entry's bytes and of what the caller keeps beside the ledger, so that a
 * reindex computes the same rows as the appends did. It may answer with a promise (to read an
 * object, say); it runs before the entry's batch is staged, beside the write before it.
 */
export type EntryIndexer = (log: string, entry: Uint8Array) => readonly Uint8Array[] | Promise<readonly Uint8Array[]>

/** Each entry's terms, checked; awaited only when the indexer answered with a promise. */
export async function termsOf(indexer: EntryIndexer, log: string, entries: readonly Uint8Array[]): Promise<(readonly Uint8Array[])[]> {
  const answers = entries.map((entry) => indexer(log, entry))
  const terms = answers.some((answer) => answer instanceof Promise) ? await Promise.all(answers) : answers as (readonly Uint8Array[])[]
  for (const list of terms) list.forEach(checkTerm)
  return terms
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

/** Adds the rows of an entry's terms (checked) to `ops`; a term given twice is one row, written twice. */
export function addTermRows(ops: WriteOp[], log: string, terms: readonly Uint8Array[], index: number): void {
  for (const term of terms) {
    checkTerm(term)
    ops.push({ type: 'put', key: termKey(log, term, index), value: EMPTY })
  }
}

/**
 * The indexes in `range` of the entries that have every one of `terms`, in order: a leapfrog
 * join of the terms' rows, each read ahead a chunk at a time and skipped forward by seeking, so
 * a rare term bounds the work however common the others are. No terms: every index in range.
 */
export async function* matchingIndexes(driver: StorageDriver, log: string, terms: readonly Uint8Array[],
    range: TermRange): AsyncGenerator<number> {
  const { start, end, reverse = false } = range
  if (start >= end) return
  if (terms.length === 0) {
    if (reverse) for (let i = end - 1; i >= start; i--) yield i
    else for (let i = start; i < end; i++) yield i
    return
  }
  terms.forEach(checkTerm)
  const cursors = terms.map((term) => new TermCursor(driver, log, term, start, end, reverse))
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
  readonly #term: Uint8Array
  readonly #start: number
  readonly #end: number
  readonly #reverse: boolean
  #chunk: number[] = []
  #at = 0
  /** The chunk was the last of the range. */
  #last = false

  constructor(driver: StorageDriver, log: string, term: Uint8Array, start: number, end: number, reverse: boolean) {
    this.#driver = driver
    this.#log = log
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
      gte: termKey(this.#log, this.#term, low), lte: termKey(this.#log, this.#term, high),
      reverse: this.#reverse, limit: CHUNK, keysOnly: true,
    })
    this.#chunk = []
    for await (const [key] of rows) this.#chunk.push(termIndexOf(key))
    this.#at = 0
    this.#last = this.#chunk.length < CHUNK
  }
}

/** Rows deleted or written per write of a reindex. */
const REINDEX_BATCH = 4096

/**
 * Rewrites the term rows of the entries below `size` (read through `entries`) with `indexer`:
 * deletes them, then writes each entry's, a batch at a time, so memory stays bounded however
 * large the log. Rows of entries at `size` and past it, which appends write meanwhile, are left
 * alone. Unsynced but for the last write: a reindex cut short is run again.
 * @returns the number of entries reindexed.
 */
export async function rewriteTerms(driver: StorageDriver, log: string, size: number,
    entries: (start: number, limit: number) => Promise<readonly { readonly data: Uint8Array }[]>,
    indexer: EntryIndexer, onProgress?: (done: number) => void): Promise<number> {
  let deletes: WriteOp[] = []
  for await (const [key] of driver.range({ ...allTermsRange(log), keysOnly: true })) {
    if (termIndexOf(key) >= size) continue
    deletes.push({ type: 'del', key })
    if (deletes.length === REINDEX_BATCH) {
      await driver.write(deletes, { sync: false })
      deletes = []
    }
  }
  if (deletes.length > 0) await driver.write(deletes, { sync: false })
  for (let start = 0; start < size; start += REINDEX_BATCH) {
    const batch = await entries(start, Math.min(REINDEX_BATCH, size - start))
    const terms = await termsOf(indexer, log, batch.map((entry) => entry.data))
    const ops: WriteOp[] = []
    terms.forEach((list, i) => addTermRows(ops, log, list, start + i))
    await driver.write(ops, { sync: start + REINDEX_BATCH >= size })
    onProgress?.(start + batch.length)
  }
  return size
}
