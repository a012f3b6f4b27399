import { type NoteSigner, formatTlogProof, parseCheckpoint, parseNote, signCheckpoint } from '@annal/note'
import {
  HASH_SIZE, MAX_ENTRY_SIZE, type MerkleHasher, type NodeId, type ProofPlan, type StoredTile, TILE_WIDTH, type TileId, TlogError,
  TreeEdge, assembleProof, bytesEqual, bytesToHex, consistencyPlan, decodeEntryBundle, encodeEntryBundle, hashTileBytes,
  inclusionPlan, nodeLocation, planNodes, storedTileHashCount, storedTileNode, verifyConsistency,
} from '@annal/tlog'
import type { LRUCache } from 'lru-cache'
import { isStorageError, type StorageDriver, type Swap, type WriteOp } from '@annal/storage'
import { type Head, decodeHead, encodeHead } from './head.js'
import { type StoredCosignatures, decodeCosignatures, encodeCosignatures, mergeCosignatures } from './cosignatures.js'
import { EMPTY_OPEN_BUNDLE, type OpenBundle, bundleWrites, readOpenBundle, readOpenLeafTile } from './bundles.js'
import { bundleKey, checkpointKey, cosignaturesKey, headKey, idKey, indexStateKey, indexedKey, keySuffix, logRange, readUint64, tileKey, uint64 } from './keys.js'
import { IdLookup, type IdLookupOptions } from './id-lookup.js'
import type { AppendPart, Appender, Participant } from './appender.js'
import { StoreError, isStoreError } from './errors.js'
import { type EntryIndex, type EntryIndexer, type TermRange, addTermRows, indexesOf, matchingIndexes } from './terms.js'
import { type IndexState, IndexChange, decodeIndexState, encodeIndexState, withIndexer, withoutIndexer } from './index-state.js'
import { TimeEdge, type TimeWindow, timeRanges } from './time-index.js'

/** What a log says about itself; never its private key. */
export interface LogInfo {
  readonly name: string
  readonly origin: string
  /** The C2SP verifier key of the log's checkpoint signatures. */
  readonly verifierKey: string
}

export interface AppendedEntry {
  readonly index: number
  /** The RFC 6962 leaf hash in lowercase hex: the entry's id. */
  readonly id: string
  /** True when these bytes were already in the log; nothing was written for them. */
  readonly duplicate: boolean
}

export interface CheckpointInfo {
  readonly size: number
  readonly root: string
  /** The signed C2SP checkpoint note. */
  readonly note: string
}

export interface AppendResult {
  readonly entries: readonly AppendedEntry[]
  /** The checkpoint that includes every entry of the call. */
  readonly checkpoint: CheckpointInfo
}

export interface Entry {
  readonly index: number
  readonly id: string
  readonly data: Uint8Array
}

export interface InclusionProof {
  readonly index: number
  readonly treeSize: number
  readonly leafHash: Uint8Array
  readonly proof: Uint8Array[]
}

/** How an entry is named: its index, its full id, or an id prefix of at least 4 hex digits. */
export type EntryRef = number | string

/** What a log is at one size: the head, the right edge of the tree and the open bundle. */
interface LogState {
  readonly head: Head
  readonly headBytes: Uint8Array
  readonly edge: TreeEdge
  /** The rightmost, partial entry bundle: its entries (also served from here) and stored parts. */
  readonly open: OpenBundle
  readonly index: IndexState
  readonly time: TimeEdge
}

/** What the log's batches take: entries, or (alone in a call) a change of the index state. */
type LogItem = Uint8Array | IndexChange

/** The index change a call is, if it is one. */
const changeOf = (call: readonly LogItem[]): IndexChange | undefined => (call[0] instanceof IndexChange ? call[0] : undefined)

/** A batch decided on top of the state before it, ready to be written. */
interface StagedBatch {
  readonly results: readonly (readonly AppendedEntry[])[]
  readonly ticket: number
  /** The writes and the state after them; undefined when every entry was a duplicate. */
  readonly commit: {
    readonly before: LogState
    readonly after: LogState
    readonly ops: WriteOp[]
    readonly ids: readonly string[]
    readonly leafHashes: readonly Uint8Array[]
    /** The new ids and their indexes. */
    readonly assigned: Map<string, number>
  } | undefined
}

interface PreparedBatch {
  readonly entries: readonly Uint8Array[]
  readonly leafHashes: readonly Uint8Array[]
  readonly ids: readonly string[]
  /** The stored index of each id, read before the previous batch's write finished. */
  readonly known: readonly (number | undefined)[]
  /** Ids the id filter shows were never admitted: new, with no other lookup. */
  readonly unseen: readonly boolean[]
  readonly ticket: number
  /** What each entry is found by, when the ledger has an indexer. */
  readonly indexes: readonly EntryIndex[] | undefined
}

const ID_PATTERN = /^[0-9a-f]{4,64}$/
/** A full stored tile: every node of its 8 levels, 32 bytes each. */
const FULL_TILE_BYTES = storedTileHashCount(TILE_WIDTH) * HASH_SIZE
const MAX_CANDIDATES = 10
/** Reads of a moving head and its tiles before refresh gives up (see Log.refresh). */
const MAX_REFRESH_ATTEMPTS = 3

export interface LogContext {
  readonly driver: StorageDriver
  /** Other processes write the same database (StorageDriver.shared). */
  readonly shared: boolean
  readonly hasher: MerkleHasher
  readonly signer: NoteSigner
  /** Full tiles kept for proofs; none when absent. */
  readonly tiles: LRUCache<string, Uint8Array> | undefined
  /** The ledger's appender: every log's appends go through it. */
  readonly appender: Appender
  readonly ids: IdLookupOptions
  /** The ledger's indexer, if it has one (Ledger.indexWith). */
  readonly indexer: () => EntryIndexer | undefined
}

/** One append-only log of a ledger: sequenced appends, reads and proofs. */
export class Log {
  readonly info: LogInfo
  readonly #context: LogContext
  readonly #ids: IdLookup
  /** What is durable; every read uses it. */
  #state: LogState
  /** The state after the batches staged but not yet written, which the next batch builds on. */
  #tip: LogState | undefined
  /** Per batch staged but not yet written, in order: its new ids and their indexes. */
  readonly #unwritten: Map<string, number>[] = []
  /** Set once loaded, by #register. */
  #participant!: Participant<LogItem, AppendResult>
  /** Searches reading each generation of terms now, and who waits for none to be. */
  readonly #readers = new Map<number, number>()
  readonly #readersGone = new Map<number, (() => void)[]>()

  private constructor(info: LogInfo, context: LogContext, state: LogState, ids: IdLookup) {
    this.info = info
    this.#ids = ids
    this.#context = context
    this.#state = state
  }

  /** Hands the log's batch steps to the ledger's appender; once, when loaded. */
  #register(): void {
    this.#participant = this.#context.appender.register<PreparedBatch, StagedBatch, AppendResult, LogItem>(this.info.name, {
      prepare: (calls) => this.#prepare(calls),
      waitForRoom: () => this.#ids.waitForRoom(),
      stage: (calls, prepared, skip) => this.#stage(calls, prepared, skip),
      adopt: (staged) => this.#adopt(staged),
      writes: (staged) => this.#writes(staged),
      written: (staged) => this.#written(staged),
      discard: () => {
        this.#tip = undefined
        this.#unwritten.length = 0
      },
    })
  }

  /**
   * Loads a log's latest state: its head, right-edge tiles and open bundle (see readState).
   */
  static async load(info: LogInfo, context: LogContext): Promise<Log> {
    const headBytes = await context.driver.get(headKey(info.name))
    if (headBytes === undefined) throw new StoreError('CORRUPTION', `log ${info.name} has no head`)
    const state = await readState(info.name, context, headBytes)
    const { driver } = context
    const ids = new IdLookup(driver, info.name, await IdLookup.indexedSize(driver, info.name), { ...context.ids, inline: context.shared })
    const log = new Log(info, context, state, ids)
    await log.#reindex(ids.indexedSize)
    log.#register()
    void ids.fillFilter()
    return log
  }

  /**
   * After the database was reopened (a write had failed), checks what it holds against what this
   * log acknowledged, and takes it up: the durable tree must be the acknowledged one or extend
   * it (a write whose sync failed may have landed whole, entries its callers were told had not
   * been appended; they are the log's from now on). Reads tiles from the database, not the
   * cache. Writes are refused while it runs, so nothing moves the head meanwhile.
   * @throws StoreError CORRUPTION when the database lost or changed entries it had acknowledged.
   */
  async checkDurable(): Promise<void> {
    const acknowledged = this.#state
    const name = this.info.name
    const headBytes = await this.#context.driver.get(headKey(name))
    if (headBytes === undefined) throw new StoreError('CORRUPTION', `log ${name} has no head in the reopened database`)
    if (!bytesEqual(headBytes, acknowledged.headBytes)) {
      const { size, root } = acknowledged.head
      const held = decodeHead(headBytes).size
      if (held < size) throw new StoreError('CORRUPTION', `log ${name}: the database holds ${held} entries, ${size} were acknowledged`)
      const durable = await readState(name, this.#context, headBytes)
      const plan = consistencyPlan(size, durable.head.size)
      const proof = this.#assemble(plan, await this.#readNodes(planNodes(plan), durable.edge, false))
      try {
        verifyConsistency(size, durable.head.size, proof, root, durable.head.root, this.#context.hasher)
      } catch (error) {
        throw new StoreError('CORRUPTION', `log ${name}: the database's tree of ${durable.head.size} entries does not extend the acknowledged one of ${size}`, { cause: error })
      }
      this.#state = durable
      this.#tip = undefined
      this.#unwritten.length = 0
      await this.#reindex(size)
    }
    this.#ids.resume()
  }

  /**
   * On a shared database: takes up `headBytes`, the log's head as stored now, when another
   * process moved it. Only between batches (no batch of this log staged or being written): the
   * sequencer's turns and Sequencer.betweenBatches see to that.
   * @throws StoreError CORRUPTION when the head or the tiles and bundles it names are not readable.
   */
  async refresh(headBytes: Uint8Array | undefined): Promise<void> {
    if (this.#tip !== undefined || this.#unwritten.length > 0) throw new Error('a log is refreshed only between batches')
    for (let attempt = 1; ; attempt++) {
      if (headBytes === undefined) throw new StoreError('CORRUPTION', `log ${this.info.name} has no head`)
      if (bytesEqual(headBytes, this.#state.headBytes)) return
      try {
        const state = await readState(this.info.name, this.#context, headBytes)
        // A head never goes back: one read before a later one landed must not undo it.
        if (state.head.size > this.#state.head.size) this.#state = state
        return
      } catch (error) {
        // Read between batches but outside a turn, the head may have moved on between the read
        // of it and that of its tiles, which then no longer match it: read both again.
        if (!isStoreError(error, 'CORRUPTION') || attempt >= MAX_REFRESH_ATTEMPTS) throw error
        headBytes = await this.#context.driver.get(headKey(this.info.name))
      }
    }
  }

  /**
   * Puts the entries from `from` on, committed but not yet in the id lookup (before a stop, or
   * found durable after a reopen), in it. On a shared database appends write their rows
   * themselves: a ledger moved from LevelDB, whose rows were behind, has them written here.
   */
  async #reindex(from: number): Promise<void> {
    for (let start = from; start < this.size; start += TILE_WIDTH * 16) {
      const entries = await this.#entryData(start, Math.min(TILE_WIDTH * 16, this.size - start))
      const hashes = entries.map((entry) => this.#context.hasher.leaf(entry))
      if (this.#context.shared) {
        await this.#context.driver.write(idRows(this.info.name, hashes, start), { sync: true })
        continue
      }
      this.#ids.admit(hashes)
      this.#ids.add(hashes.map(bytesToHex), hashes, start)
    }
  }

  get size(): number {
    return this.#state.head.size
  }

  get checkpointInfo(): CheckpointInfo {
    const { head } = this.#state
    return { size: head.size, root: bytesToHex(head.root), note: head.checkpoint }
  }

  /**
   * Appends entries (1..65535 bytes each) and resolves after the batch holding them is durable,
   * with each entry's index and id and the signed checkpoint that includes them. Bytes already
   * in the log come back as duplicates. The call is checked whole before anything is sequenced.
   * @throws StoreError ENTRY_EMPTY, ENTRY_TOO_LARGE; HEAD_CONFLICT if another writer moved the head.
   */
  append(entries: readonly Uint8Array[]): Promise<AppendResult> {
    try {
      checkEntries(entries)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#participant.append(entries)
  }

  /** @internal This log's part of a call that appends to several (Ledger.append); entries checked by the caller. */
  part(entries: readonly Uint8Array[]): AppendPart<AppendResult> {
    return this.#participant.part(entries)
  }

  /** Resolves when every append submitted so far has settled and its id is indexed. */
  async drain(): Promise<void> {
    await this.#context.appender.drain()
    await this.#ids.drain()
  }

  /** Drains, and stops the log's background work; the ledger calls it before closing the database. */
  async close(): Promise<void> {
    await this.#context.appender.drain()
    // Id rows that cannot be written now (the database cannot write) are rebuilt from the
    // entries on the next open: they need not hold the close up.
    await this.#ids.drain().catch(() => undefined)
    await this.#ids.close()
  }

  /**
   * Applies `change` to the index state in a batch of its own (or with entries), written like
   * an append; resolves with the state it made once durable.
   * @internal For the ledger's reindex.
   */
  async changeIndex(change: IndexChange): Promise<IndexState> {
    await this.#participant.append([change])
    return change.staged!
  }

  /** What the log's search index covers, as durable now. */
  get indexState(): IndexState {
    return this.#state.index
  }

  /** Hashes a batch and looks its ids up; changes no state, so it may overlap the previous write. */
  async #prepare(calls: readonly (readonly LogItem[])[]): Promise<PreparedBatch> {
    const { hasher } = this.#context
    const entries = calls.filter((call) => changeOf(call) === undefined).flat() as Uint8Array[]
    const leafHashes = entries.map((entry) => hasher.leaf(entry))
    const ticket = this.#ids.ticket()
    const { indexes: known, unseen } = await this.#ids.stored(leafHashes)
    // Checked here, so that a bad term fails its batch before anything is staged.
    const indexer = this.#context.indexer()
    const indexes = indexer === undefined ? undefined : await indexesOf(indexer, this.info.name, entries)
    return { entries, leafHashes, ids: leafHashes.map(bytesToHex), known, unseen, ticket, indexes }
  }

  /**
   * Assigns indexes (existing ones for duplicates) on top of every batch staged before, and
   * builds the write: entries, tiles, bundles and a signed checkpoint. Changes nothing; the
   * appender adopts it once every log of the batch has staged its part.
   */
  #stage(calls: readonly (readonly LogItem[])[], batch: PreparedBatch, skip: ReadonlySet<number>): StagedBatch {
    const { entries: all, leafHashes, ids, known, unseen, ticket } = batch
    const before = this.#tip ?? this.#state
    const assigned = new Map<string, number>()
    const fresh: number[] = []
    const decide = (i: number): AppendedEntry => {
      const id = ids[i]!
      const earlier = unseen[i] ? assigned.get(id)
        : known[i] ?? this.#ids.pending(id, ticket) ?? this.#unwrittenIndex(id) ?? assigned.get(id)
      if (earlier !== undefined) return { index: earlier, id, duplicate: true }
      const index = before.head.size + fresh.length
      assigned.set(id, index)
      fresh.push(i)
      return { index, id, duplicate: false }
    }
    // A skipped call (refused by another part of its batch) gets no entries and no result.
    const results = new Array<AppendedEntry[]>(calls.length)
    const changes: IndexChange[] = []
    for (let c = 0, offset = 0; c < calls.length; c++) {
      const change = changeOf(calls[c]!)
      if (change !== undefined) {
        if (!skip.has(c)) changes.push(change)
        results[c] = []
        continue
      }
      const count = calls[c]!.length
      const entries = new Array<AppendedEntry>(skip.has(c) ? 0 : count)
      for (let i = 0; i < entries.length; i++) entries[i] = decide(offset + i)
      results[c] = entries
      offset += count
    }
    if (fresh.length === 0 && changes.length === 0) return { results, ticket, commit: undefined }
    const freshIds = fresh.map((i) => ids[i]!)
    const freshHashes = fresh.map((i) => leafHashes[i]!)
    const { after, ops } = fresh.length === 0 ? { after: before, ops: [] as WriteOp[] }
      : this.#integrate(before, fresh.map((i) => all[i]!), freshHashes)
    const indexed = this.#indexRows(before, after.head.size, fresh.map((i) => batch.indexes?.[i]), changes, ops)
    return { results, ticket, commit: { before, after: { ...after, ...indexed }, ops, ids: freshIds, leafHashes: freshHashes, assigned } }
  }

  /**
   * Adds to `ops` the index rows of the fresh entries after `before` (undefined when the batch
   * had no indexer) and the state `changes` make, in the entries' own write: the index is never
   * behind or ahead of the log. Term rows go to the generation searches read, and to the one a
   * reindex builds once it has begun; times go to the time index.
   */
  #indexRows(before: LogState, size: number, indexes: readonly (EntryIndex | undefined)[], changes: readonly IndexChange[],
      ops: WriteOp[]): { index: IndexState; time: TimeEdge } {
    const name = this.info.name
    const first = before.head.size
    const time = before.time.append(name, indexes.map((entry) => entry?.time))
    ops.push(...time.ops)
    let index = before.index
    const building = index.build?.below === undefined ? undefined : index.build.generation
    if (indexes.length > 0 && indexes[0] === undefined) index = withoutIndexer(index)
    else if (indexes.length > 0) {
      index = withIndexer(index, first)
      indexes.forEach((entry, j) => {
        addTermRows(ops, name, index.generation, entry!.terms, first + j)
        if (building !== undefined) addTermRows(ops, name, building, entry!.terms, first + j)
      })
    }
    for (const change of changes) {
      change.staged = index = change.apply(index, size)
      change.size = size
    }
    if (index !== before.index) ops.push({ type: 'put', key: indexStateKey(name), value: encodeIndexState(index) })
    return { index, time: time.edge }
  }

  /** Makes a staged batch the tip that the next one builds on. */
  #adopt(staged: StagedBatch): void {
    const { commit } = staged
    if (commit === undefined) return
    // Before any later batch's lookup: a later batch may only be told "never seen" if it was not.
    this.#ids.admit(commit.leafHashes)
    this.#tip = commit.after
    this.#unwritten.push(commit.assigned)
  }

  #unwrittenIndex(id: string): number | undefined {
    for (const batch of this.#unwritten) {
      const index = batch.get(id)
      if (index !== undefined) return index
    }
    return undefined
  }

  /** The state after appending `entries` to `before`, and the writes that store it (head last). */
  #integrate(before: LogState, entries: readonly Uint8Array[], leafHashes: readonly Uint8Array[]):
      { after: Omit<LogState, 'index' | 'time'>; ops: WriteOp[] } {
    const { hasher, signer } = this.#context
    const name = this.info.name
    const from = before.head.size
    const integration = before.edge.integrate(leafHashes, hasher)
    const size = integration.edge.size
    const checkpoint = signCheckpoint({ origin: this.info.origin, size, rootHash: integration.root, extensions: [] }, signer)
    const head: Head = { size, root: integration.root, checkpoint }
    const ops: WriteOp[] = []
    // The open level-0 tile is left out: its hashes are written in parts with the bundle's.
    for (const tile of [...integration.fullTiles, ...changedOpenTiles(integration.edge, from)]) {
      ops.push({ type: 'put', key: tileKey(name, tile.level, tile.index), value: tile.data })
    }
    const bundles = bundleWrites(name, Math.floor(from / TILE_WIDTH), before.open, entries, leafHashes)
    ops.push(...bundles.ops)
    // Another process looks this log's ids up in storage alone: they are written with the entries.
    if (this.#context.shared) ops.push(...idRows(name, leafHashes, from))
    ops.push({ type: 'put', key: checkpointKey(name, size), value: utf8.encode(checkpoint) })
    return { after: { head, headBytes: encodeHead(head), edge: integration.edge, open: bundles.open }, ops }
  }

  /** The head swap and rows of a staged batch: the appender writes them with the batch's other logs'. */
  #writes(staged: StagedBatch): { swaps: Swap[]; ops: readonly WriteOp[] } | undefined {
    // A batch of index changes alone swaps the head for the same head, so it too fails if another writer moved it.
    const { commit } = staged
    if (commit === undefined) return undefined
    return { swaps: [{ key: headKey(this.info.name), expected: commit.before.headBytes, next: commit.after.headBytes }], ops: commit.ops }
  }

  /** A staged batch is durable: it becomes the state every read uses, and its ids go to the index. */
  #written(staged: StagedBatch): AppendResult[] {
    const { commit } = staged
    if (commit !== undefined) {
      const { before, after } = commit
      this.#state = after
      if (this.#tip === after) this.#tip = undefined
      if (commit.ids.length > 0) this.#ids.add(commit.ids, commit.leafHashes, before.head.size)
      this.#unwritten.shift()
    }
    this.#ids.release(staged.ticket)
    const checkpoint = this.checkpointInfo
    return staged.results.map((entries) => ({ entries, checkpoint }))
  }

  /**
   * The entry named by index, full id or id prefix (>= 4 hex digits).
   * @throws SIZE_OUT_OF_RANGE, ID_MALFORMED, ID_AMBIGUOUS (message lists candidates), ENTRY_NOT_FOUND.
   */
  async entry(ref: EntryRef): Promise<Entry> {
    const index = await this.resolve(ref)
    const [data] = await this.#entryData(index, 1)
    return { index, id: bytesToHex(this.#context.hasher.leaf(data!)), data: data! }
  }

  /** Up to `limit` consecutive entries from `start`, within the current size. */
  async entries(start: number, limit: number): Promise<Entry[]> {
    checkIndex(start, this.size + 1)
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('limit must be a non-negative integer')
    const count = Math.min(limit, this.size - start)
    const data = await this.#entryData(start, count)
    return data.map((bytes, i) => ({ index: start + i, id: bytesToHex(this.#context.hasher.leaf(bytes)), data: bytes }))
  }

  /**
   * The indexes in `range` (clipped to the log's size) of the entries that have every one of
   * `terms` (see EntryIndexer), in order; with no terms, every index in range. With a time
   * `window`, only those in the level-0 nodes of the time index whose times meet it: a superset
   * of the entries whose time is in the window, which the caller checks one by one. Either way
   * this holds only for the entries the index covers, from `indexState.from` on.
   * @throws RangeError for a term that is empty or too long.
   */
  async *matching(terms: readonly Uint8Array[], range: TermRange, window: TimeWindow = {}): AsyncGenerator<number> {
    const { driver } = this.#context
    const name = this.info.name
    // Held until the search ends: a reindex drops the generation it replaced only once no search reads it.
    const { generation } = this.#state.index
    this.#readers.set(generation, (this.#readers.get(generation) ?? 0) + 1)
    try {
      const within = { ...range, end: Math.min(range.end, this.size) }
      if (window.from === undefined && window.to === undefined) {
        yield* matchingIndexes(driver, name, generation, terms, within)
        return
      }
      for await (const [start, end] of timeRanges(driver, name, window, within)) {
        yield* matchingIndexes(driver, name, generation, terms, { start, end, reverse: range.reverse })
      }
    } finally {
      const left = this.#readers.get(generation)! - 1
      if (left > 0) this.#readers.set(generation, left)
      else {
        this.#readers.delete(generation)
        for (const wake of this.#readersGone.get(generation) ?? []) wake()
        this.#readersGone.delete(generation)
      }
    }
  }

  /**
   * Resolves once no search reads `generation`.
   * @internal For the ledger's reindex.
   * @throws the reason of `signal` once it is aborted.
   */
  async readersGone(generation: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    if (!this.#readers.has(generation)) return
    await new Promise<void>((resolve, reject) => {
      const stop = () => reject(signal!.reason)
      signal?.addEventListener('abort', stop, { once: true })
      const waiting = this.#readersGone.get(generation) ?? []
      waiting.push(() => {
        signal?.removeEventListener('abort', stop)
        resolve()
      })
      this.#readersGone.set(generation, waiting)
    })
  }

  /** The index an entry reference names. See `entry` for what is thrown. */
  async resolve(ref: EntryRef): Promise<number> {
    if (typeof ref === 'number') {
      checkIndex(ref, this.size)
      return ref
    }
    if (typeof ref !== 'string' || !ID_PATTERN.test(ref)) throw new StoreError('ID_MALFORMED', 'an id is 4 to 64 lowercase hex digits')
    const matches = await this.candidates(ref)
    if (matches.length === 0) throw new StoreError('ENTRY_NOT_FOUND', 'no entry id starts with that prefix')
    if (matches.length > 1) {
      const list = matches.map((match) => match.id.slice(0, 16)).join(', ')
      throw new StoreError('ID_AMBIGUOUS', `prefix ${ref} matches ${matches.length === MAX_CANDIDATES ? 'at least ' : ''}${matches.length} entries: ${list}`)
    }
    return matches[0]!.index
  }

  /** Entries whose id starts with `prefix` (a full id too): ids and indexes, at most 10. */
  async candidates(prefix: string): Promise<{ id: string; index: number }[]> {
    if (typeof prefix !== 'string' || !ID_PATTERN.test(prefix)) throw new StoreError('ID_MALFORMED', 'an id is 4 to 64 lowercase hex digits')
    return this.#ids.matches(prefix, MAX_CANDIDATES)
  }

  /**
   * RFC 9162 inclusion proof of an entry in the tree of `treeSize` (default: current).
   * @throws TlogError SIZE_OUT_OF_RANGE, or as `entry` for the reference.
   */
  async inclusionProof(ref: EntryRef, treeSize: number = this.size): Promise<InclusionProof> {
    checkIndex(treeSize, this.size + 1)
    const index = await this.resolve(ref)
    const plan = inclusionPlan(index, treeSize)
    const leaf: NodeId = { level: 0, index }
    const hashes = await this.#readNodes([...planNodes(plan), leaf])
    return { index, treeSize, leafHash: hashes.get(nodeKey(leaf))!, proof: this.#assemble(plan, hashes) }
  }

  /**
   * A C2SP tlog-proof (c2sp.org/tlog-proof@v1) of an entry in `checkpoint`, a note this log
   * signed, written verbatim with whatever cosignatures it carries: the file the server's
   * GET entries/{ref}/proof serves and `annal proof` writes.
   * @throws TlogError SIZE_OUT_OF_RANGE unless the entry is below the checkpoint's size, or as
   * `entry` for the reference; NoteError NOTE_MALFORMED, CHECKPOINT_MALFORMED for the note.
   */
  async tlogProof(ref: EntryRef, checkpoint: string): Promise<string> {
    const { size } = parseCheckpoint(parseNote(checkpoint).text)
    const { index, proof } = await this.inclusionProof(ref, size)
    return formatTlogProof({ index, hashes: proof, checkpoint })
  }

  /**
   * RFC 9162 consistency proof from `oldSize` to `newSize` (default: current).
   * @throws TlogError SIZE_OUT_OF_RANGE unless 0 <= oldSize <= newSize <= size.
   */
  async consistencyProof(oldSize: number, newSize: number = this.size): Promise<Uint8Array[]> {
    checkIndex(newSize, this.size + 1)
    const plan = consistencyPlan(oldSize, newSize)
    return this.#assemble(plan, await this.#readNodes(planNodes(plan)))
  }

  /**
   * The signed checkpoint issued at `size` (default: the latest).
   * @throws TlogError SIZE_OUT_OF_RANGE when no checkpoint was issued at that size.
   */
  async checkpoint(size?: number): Promise<string> {
    if (size === undefined || size === this.size) return this.#state.head.checkpoint
    checkIndex(size, this.size + 1)
    const note = await this.#context.driver.get(checkpointKey(this.info.name, size))
    if (note === undefined) throw new TlogError('SIZE_OUT_OF_RANGE', 'no checkpoint was issued at that size')
    return utf8Decode(note)
  }

  /** Every checkpoint the log issued, oldest first, by size. */
  async *checkpoints(): AsyncIterable<{ readonly size: number; readonly note: string }> {
    for await (const [key, value] of this.#context.driver.range(logRange('checkpoint', this.info.name))) {
      yield { size: readUint64(keySuffix(key, this.info.name)), note: utf8Decode(value) }
    }
  }

  /**
   * The first checkpoint issued with entry `index` in it: the checkpoint of the batch that
   * appended the entry, which its append resolved with.
   * @throws TlogError SIZE_OUT_OF_RANGE unless 0 <= index < size.
   */
  async firstCheckpointWith(index: number): Promise<CheckpointInfo> {
    checkIndex(index, this.size)
    const { lte } = logRange('checkpoint', this.info.name)
    for await (const [key, value] of this.#context.driver.range({ gte: checkpointKey(this.info.name, index + 1), lte, limit: 1 })) {
      const note = utf8Decode(value)
      return { size: readUint64(keySuffix(key, this.info.name)), root: bytesToHex(parseCheckpoint(parseNote(note).text).rootHash), note }
    }
    throw new StoreError('CORRUPTION', `log ${this.info.name} has no checkpoint at or after its size`)
  }

  /**
   * Keeps witness cosignature lines (`— <name> <base64>`, with or without a newline) with the
   * checkpoint issued at `size`, merged with those kept: a line replaces the kept line of the
   * same key name and key ID. One synced compare-and-swap on the checkpoint's cosignature row.
   * Checks syntax only; the caller verifies the cosignatures before keeping them.
   * @throws SIZE_OUT_OF_RANGE (no checkpoint at `size`), NOTE_MALFORMED.
   */
  async addCosignatures(size: number, signatureLines: readonly string[]): Promise<void> {
    if (!Array.isArray(signatureLines)) throw new TypeError('signatureLines must be an array of strings')
    const note = await this.checkpoint(size)
    const key = cosignaturesKey(this.info.name, size)
    for (let attempt = 0; ; attempt++) {
      const stored = await this.#context.driver.get(key)
      const merged = mergeCosignatures(note, decodeCosignatures(stored), signatureLines)
      try {
        await this.#context.driver.compareAndSwap(key, stored, encodeCosignatures(merged), [])
        return
      } catch (error) {
        // Another writer added lines between our read and our swap: merge again.
        if (!isStorageError(error, 'SWAP_CONFLICT') || attempt >= 4) throw error
      }
    }
  }

  /**
   * The cosignature lines kept for the checkpoint at `size` (each ending in a newline).
   * @throws TlogError SIZE_OUT_OF_RANGE for a size above the log's.
   */
  async cosignatures(size: number): Promise<string[]> {
    checkIndex(size, this.size + 1)
    return decodeCosignatures(await this.#context.driver.get(cosignaturesKey(this.info.name, size)))
  }

  /**
   * The checkpoint issued at `size` (default: the latest) with the kept cosignature lines
   * after the log's signature, in one signature block (signed-note §Format).
   * @throws TlogError SIZE_OUT_OF_RANGE when no checkpoint was issued at that size.
   */
  async cosignedCheckpoint(size: number = this.size): Promise<string> {
    const note = await this.checkpoint(size)
    return note + (await this.cosignatures(size)).join('')
  }

  /** Sizes that have cosignatures kept, with their lines, newest first (`below`: sizes under it). */
  async *cosignatureHistory(below: number = Number.MAX_SAFE_INTEGER): AsyncIterable<StoredCosignatures> {
    if (!Number.isSafeInteger(below)) throw new RangeError('below must be a safe integer')
    if (below <= 0) return
    const { gte } = logRange('cosignatures', this.info.name)
    const lte = cosignaturesKey(this.info.name, below - 1)
    for await (const [key, value] of this.#context.driver.range({ gte, lte, reverse: true })) {
      yield { size: readUint64(keySuffix(key, this.info.name)), lines: decodeCosignatures(value) }
    }
  }

  /**
   * C2SP hash tile bytes, exactly as served at tile/<L>/<N>[.p/<W>].
   * @throws TlogError SIZE_OUT_OF_RANGE when the tree does not hold that tile yet.
   */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array> {
    const span = TILE_WIDTH ** level
    if ((index * TILE_WIDTH + width) * span > this.size) throw new TlogError('SIZE_OUT_OF_RANGE', 'the tree does not hold that tile')
    const open = this.#state.edge.openTileBytes(level, index, width)
    if (open !== undefined) return open
    const stored = await this.#context.driver.get(tileKey(this.info.name, level, index))
    if (stored === undefined) throw new StoreError('CORRUPTION', 'a tile the tree holds is missing')
    return hashTileBytes(stored, width)
  }

  /**
   * C2SP entry bundle bytes, exactly as served at tile/entries/<N>[.p/<W>].
   * @throws TlogError SIZE_OUT_OF_RANGE when the log does not hold that bundle yet.
   */
  async entryBundle(index: number, width: number): Promise<Uint8Array> {
    if (index * TILE_WIDTH + width > this.size) throw new TlogError('SIZE_OUT_OF_RANGE', 'the log does not hold that bundle')
    const { head, open } = this.#state
    if (index === Math.floor(head.size / TILE_WIDTH)) return encodeEntryBundle(open.entries.slice(0, width))
    const stored = await this.#context.driver.get(bundleKey(this.info.name, index))
    if (stored === undefined) throw new StoreError('CORRUPTION', 'a bundle the log holds is missing')
    const entries = decodeEntryBundle(stored)
    return entries.length === width ? stored : encodeEntryBundle(entries.slice(0, width))
  }

  async #entryData(start: number, count: number): Promise<Uint8Array[]> {
    if (count === 0) return []
    const first = Math.floor(start / TILE_WIDTH)
    const last = Math.floor((start + count - 1) / TILE_WIDTH)
    // The open bundle is read from memory now, before awaiting: a batch may fill it meanwhile.
    const { head, open: openBundle } = this.#state
    const openIndex = Math.floor(head.size / TILE_WIDTH)
    const open = last === openIndex ? openBundle.entries : []
    const full = Array.from({ length: Math.min(last, openIndex - 1) - first + 1 }, (_, i) => first + i)
    const stored = await this.#context.driver.getMany(full.map((i) => bundleKey(this.info.name, i)))
    const entries = stored.flatMap((bundle) => {
      if (bundle === undefined) throw new StoreError('CORRUPTION', 'a bundle the log holds is missing')
      return decodeEntryBundle(bundle)
    }).concat(open)
    const offset = start - first * TILE_WIDTH
    const out = entries.slice(offset, offset + count)
    if (out.length !== count) throw new StoreError('CORRUPTION', 'a bundle is shorter than the log')
    return out
  }

  #assemble(plan: ProofPlan, hashes: ReadonlyMap<string, Uint8Array>): Uint8Array[] {
    return assembleProof(plan, this.#hashOf(hashes), this.#context.hasher)
  }

  #hashOf(hashes: ReadonlyMap<string, Uint8Array>): (node: NodeId) => Uint8Array {
    return (node) => hashes.get(nodeKey(node))!
  }

  /**
   * Node hashes from the in-memory edge, the tile cache, then one batched read for the rest. The
   * nodes of a proof fall in a few tiles, so each tile is looked up in the cache once, not once a
   * node: a lookup builds its key and moves the tile to the front, which per node was the largest
   * cost of a proof.
   */
  async #readNodes(nodes: readonly NodeId[], edge: TreeEdge = this.#state.edge, cached = true): Promise<Map<string, Uint8Array>> {
    const hashes = new Map<string, Uint8Array>()
    const byTile = new Map<string, TileNodes>()
    for (const node of nodes) {
      const fromEdge = edge.nodeHash(node)
      if (fromEdge !== undefined) {
        hashes.set(nodeKey(node), fromEdge)
        continue
      }
      const { tileLevel, tileIndex, row, position } = nodeLocation(node)
      const cacheKey = `${this.info.name}/${tileLevel}/${tileIndex}`
      let tile = byTile.get(cacheKey)
      if (tile === undefined) byTile.set(cacheKey, tile = { cacheKey, level: tileLevel, index: tileIndex, nodes: [] })
      tile.nodes.push({ node, row, position })
    }
    const wanted: TileNodes[] = []
    for (const tile of byTile.values()) {
      // Only full tiles are cached, and a full tile holds every node that falls in it.
      const kept = cached ? this.#context.tiles?.get(tile.cacheKey) : undefined
      if (kept === undefined) wanted.push(tile)
      else for (const { node, row, position } of tile.nodes) hashes.set(nodeKey(node), storedTileNode(kept, row, position)!)
    }
    const tiles = await this.#context.driver.getMany(wanted.map((tile) => tileKey(this.info.name, tile.level, tile.index)))
    wanted.forEach((tile, i) => {
      const stored = tiles[i]
      if (stored === undefined) throw new StoreError('CORRUPTION', `tile ${tile.level}/${tile.index} is missing`)
      if (stored.length === FULL_TILE_BYTES) this.#context.tiles?.set(tile.cacheKey, stored)
      for (const { node, row, position } of tile.nodes) {
        const hash = storedTileNode(stored, row, position)
        if (hash === undefined) throw new StoreError('CORRUPTION', `tile ${tile.level}/${tile.index} is too narrow`)
        hashes.set(nodeKey(node), hash)
      }
    })
    return hashes
  }
}

/** The nodes a proof needs from one stored tile, with their places in it. */
interface TileNodes {
  /** The tile's key in the ledger's tile cache. */
  readonly cacheKey: string
  readonly level: number
  readonly index: number
  readonly nodes: { readonly node: NodeId; readonly row: number; readonly position: number }[]
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

function utf8Decode(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes)
}

function nodeKey(node: NodeId): string {
  return `${node.level}/${node.index}`
}

/**
 * A log's state at the head `headBytes`: the right-edge tiles, the open bundle, the index state
 * and the time index's edge, O(1) reads. The open level-0 tile is stored in parts beside the
 * open bundle's, and the edge is rebuilt from them; its root must be the head's.
 * @throws StoreError CORRUPTION when they do not match the head.
 */
async function readState(name: string, context: Pick<LogContext, 'driver' | 'hasher'>, headBytes: Uint8Array): Promise<LogState> {
  const { driver, hasher } = context
  const head = decodeHead(headBytes)
  const openCount = head.size % TILE_WIDTH
  const base = head.size - openCount
  const tiles = TreeEdge.tilesToOpen(base)
  const stored = await driver.getMany(tiles.map((tile) => tileKey(name, tile.level, tile.index)))
  const byLevel = new Map(tiles.map((tile, i) => [tile.level, stored[i]]))
  let edge = openEdge(name, base, (tile) => byLevel.get(tile.level))
  let open = EMPTY_OPEN_BUNDLE
  if (openCount > 0) {
    const index = base / TILE_WIDTH
    const [bundle, leafTile] = await Promise.all([
      readOpenBundle(driver, name, index, openCount), readOpenLeafTile(driver, name, index, openCount)])
    if (bundle === undefined) throw new StoreError('CORRUPTION', `log ${name} misses its last bundle`)
    if (bundle.entries.length !== openCount) throw new StoreError('CORRUPTION', `log ${name} last bundle does not match its size`)
    if (leafTile === undefined) throw new StoreError('CORRUPTION', `log ${name} head is ahead of its tiles`)
    edge = edge.integrate(leafTile.hashes, hasher).edge
    open = { ...bundle, hashParts: leafTile.parts }
  }
  if (!bytesEqual(edge.root(hasher), head.root)) throw new StoreError('CORRUPTION', `log ${name} tiles disagree with its head`)
  const [index, time] = await Promise.all([driver.get(indexStateKey(name)).then(decodeIndexState), TimeEdge.load(driver, name, head.size)])
  return { head, headBytes, edge, open, index, time }
}

/** The id lookup rows of entries from `first` on, and the size they reach (`X`). */
function idRows(log: string, leafHashes: readonly Uint8Array[], first: number): WriteOp[] {
  const ops: WriteOp[] = leafHashes.map((hash, i) => ({ type: 'put', key: idKey(log, hash), value: uint64(first + i) }))
  ops.push({ type: 'put', key: indexedKey(log), value: uint64(first + leafHashes.length) })
  return ops
}

function openEdge(log: string, size: number, readTile: (tile: TileId) => Uint8Array | undefined): TreeEdge {
  try {
    return TreeEdge.open(size, readTile)
  } catch (error) {
    throw new StoreError('CORRUPTION', `log ${log} head is ahead of its tiles`, { cause: error })
  }
}

/**
 * The open tiles above level 0 whose contents changed since a tree of `from` leaves: level L
 * changes when the size passes a multiple of 256^L, so the changed levels run from 1 up.
 */
function changedOpenTiles(edge: TreeEdge, from: number): StoredTile[] {
  let top = 0
  while (Math.floor(from / TILE_WIDTH ** (top + 1)) < Math.floor(edge.size / TILE_WIDTH ** (top + 1))) top++
  return top === 0 ? [] : edge.storedTiles(1, top)
}

/**
 * An append's entries, checked whole before anything is sequenced.
 * @throws TypeError unless a non-empty array of Uint8Arrays; StoreError ENTRY_EMPTY, ENTRY_TOO_LARGE.
 */
export function checkEntries(entries: readonly Uint8Array[]): void {
  if (!Array.isArray(entries) || entries.length === 0) throw new TypeError('append takes a non-empty array of entries')
  for (const entry of entries) {
    if (!(entry instanceof Uint8Array)) throw new TypeError('entries must be Uint8Arrays')
    if (entry.length === 0) throw new StoreError('ENTRY_EMPTY', 'an entry is empty')
    if (entry.length > MAX_ENTRY_SIZE) throw new StoreError('ENTRY_TOO_LARGE', `an entry exceeds ${MAX_ENTRY_SIZE} bytes`)
  }
}

function checkIndex(n: number, bound: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n >= bound) throw new TlogError('SIZE_OUT_OF_RANGE', 'index or size is out of range')
}
