import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { nodeEd25519, nodeHasher } from '@annal/crypto-node'
import {
  type NoteProviders, type NoteSigner, type SignatureProvider, formatVerifierKey, generateKeyPair, isValidKeyName, parseSignerKey,
  parseVerifierKey, signCheckpoint,
} from '@annal/note'
import type { MerkleHasher } from '@annal/tlog'
import { LRUCache } from 'lru-cache'
import {
  DEFAULT_WRITE_BUFFER_BYTES, LevelDriver, RecoveringDriver, StorageError, faultCode, isStorageError, makeDirectory,
  probeDirectory, writeKeyFile, type RecoveryOptions, type StorageDriver, type Unlock, type WriteHealth,
} from '@annal/storage'
import { type FsckOptions, type FsckReport, fsckLog } from './fsck.js'
import { encodeHead } from './head.js'
import { allLogsRange, checkpointKey, headKey, indexStateKey, logKey, readUint64, reindexProgressKey } from './keys.js'
import { type AppendResult, Log, type LogContext, type LogInfo, checkEntries } from './log.js'
import { Appender, type Participant } from './appender.js'
import { type HashedObject, LedgerObjects, type ObjectInfo, type ObjectStore } from './objects.js'
import type { IdLookupOptions } from './id-lookup.js'
import type { SequencerOptions } from './sequencer.js'
import { RowTable, type TableRow, registerRows } from './rows.js'
import { type LedgerEvent, WriteWatch } from './write-watch.js'
import { StoreError, isStoreError } from './errors.js'
import type { EntryIndexer } from './terms.js'
import { type ReindexOptions, reindexLog } from './reindex.js'
import { IndexChange, encodeIndexState } from './index-state.js'

export interface LedgerOptions extends SequencerOptions, IdLookupOptions {
  /**
   * The first part of default origins, `<originPrefix>/<log name>`: what names this deployment,
   * such as its public URL's host and path, so that two ledgers on one machine differ. Checked
   * with checkOriginPrefix. Default: this machine's hostname.
   */
  readonly originPrefix?: string
  /** SHA-256 for the Merkle tree. Default: node:crypto. */
  readonly hasher?: MerkleHasher
  /** Ed25519 for checkpoint signatures. Default: node:crypto. */
  readonly signature?: SignatureProvider
  /** Full hash tiles kept in memory for proofs, per ledger. Default 4,096 (64 MiB: every tile of a 1M-entry log). */
  readonly tileCacheSize?: number
  /** The largest object `putObject` takes, in bytes. Default 16 MiB. */
  readonly maxObjectSize?: number
  /**
   * The largest stage of a filter of the stored objects' hashes, so that storing a new object
   * does not look it up first; it grows and is filled in the background after open, like the
   * id filters. Default 16 MiB; 0 turns it off.
   */
  readonly objectFilterBytes?: number
  readonly clock?: () => Date
  /**
   * LevelDB's limit on open table files. LevelDB maps the tables it reads into memory, so the
   * pages of up to this many 2 MiB tables count in the process's RSS (file-backed pages the
   * kernel can drop, not memory Annal holds). Default 1,000 (LevelDB's).
   */
  readonly maxOpenFiles?: number
  /**
   * LevelDB's write buffer (memtable). Objects and ids are keyed by hash, so every table flushed
   * from it overlaps the whole next level, and each flush rewrites that level: a larger buffer
   * flushes less often; but the larger the buffer, the more compaction is left after a burst of
   * appends, which slows the proofs that follow. 8 MiB was the best of the two in the server and
   * store benchmarks. Up to two are held in memory, and a restart after a crash replays up to
   * one. Default 8 MiB.
   */
  readonly writeBufferBytes?: number
  /**
   * A driver to keep the ledger in, instead of LevelDB in `<directory>/db`: a function that
   * opens it, which the ledger calls again to reopen it after a write fault (see
   * RecoveringDriver), or an opened driver, which it recovers through the same handle. The
   * ledger closes it. `maxOpenFiles` and `writeBufferBytes` are then the driver's business. On a
   * shared driver (several processes on one database), the id and object filters are off.
   */
  readonly driver?: StorageDriver | (() => Promise<StorageDriver>)
  /** Waits between attempts to recover from a write fault; see RecoveryOptions. */
  readonly recovery?: Pick<RecoveryOptions, 'firstRetryMs' | 'maxRetryMs'>
  /**
   * On a shared driver: how often, in ms, the ledger looks for logs and entries that other
   * processes added, when it is not appending (appending catches up at every turn). Default 1,000.
   */
  readonly followIntervalMs?: number
}

/**
 * How long one process sequences appends on a shared database, in ms, while they keep coming,
 * before it lets the others have a turn: long enough for a few batches (a turn given up costs a
 * wait for the lock and a catch-up, and breaks the overlap of one batch's staging with the
 * write before it), short enough that another server's appends wait little. A turn of one
 * batch made two processes sequence a third slower than a turn of several.
 */
const TURN_MS = 200

/**
 * How long a turn is kept with no call waiting, in ms: callers answered at the end of a batch
 * (an HTTP client whose response just went out) often call again within it, and a turn given
 * up costs a wait behind the other processes' turns and a catch-up.
 */
const TURN_IDLE_MS = 2

/** The name of the lock that decides whose turn it is to sequence appends on a shared database. */
const SEQUENCER_LOCK = 'sequencer'

export interface CreateLogOptions {
  /**
   * The checkpoint origin line: unique in the ledger, at most MAX_ORIGIN_BYTES, a C2SP key name
   * (no spaces or `+`). Default `<originPrefix>/<name>`.
   */
  readonly origin?: string
  /** See EraseObjectOptions.beforeWrite. */
  readonly beforeWrite?: () => Promise<void>
}

export interface EraseObjectOptions {
  /** Why, in the erasure record: required, not blank. */
  readonly reason: string
  /** The log that takes the erasure record. */
  readonly log: string
  /** Who asked, in the erasure record (the HTTP API gives the request id, which its access record carries too). */
  readonly requestId?: string
  /**
   * Awaited once every check has passed and before anything is written or created; if it
   * throws, nothing is, and the call rejects with its error. The HTTP API commits the request's
   * access record here, so that no change happens whose record could not be kept.
   */
  readonly beforeWrite?: () => Promise<void>
}

const LOG_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/
const TABLE_NAME = /^[a-z][a-z0-9-]{0,62}$/

/**
 * The longest origin a log may have, in UTF-8 bytes: the origin is the first line of every
 * checkpoint, which witnesses take in requests of a few KiB, and a name, not a document.
 */
export const MAX_ORIGIN_BYTES = 256
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * A ledger: one directory holding a LevelDB database with any number of named logs and a
 * content-addressed object store, plus each log's signing key in `keys/` (mode 0600).
 */
export class Ledger {
  readonly directory: string
  readonly objects: ObjectStore
  readonly #objects: LedgerObjects
  readonly #driver: RecoveringDriver
  readonly #options: LedgerOptions
  readonly #providers: NoteProviders
  readonly #tiles: LRUCache<string, Uint8Array> | undefined
  readonly #logs = new Map<string, Log>()
  readonly #appender: Appender
  /** Names whose createLog is in flight: a second call must not overwrite the first's key file. */
  readonly #creating = new Set<string>()
  /** Origins of the logs whose createLog is in flight. */
  readonly #creatingOrigins = new Set<string>()
  readonly #tables = new Map<string, RowTable>()
  readonly #rows: Participant<TableRow, undefined>
  readonly #writes = new WriteWatch((name) => this.#logs.has(name))
  #indexer: EntryIndexer | undefined
  /** The reindex running for each log, at most one. */
  readonly #reindexing = new Map<string, ReindexTask>()
  #closed = false
  /** Other processes write the same database (StorageDriver.shared). */
  readonly #shared: boolean
  /** Gives up the sequencer lock of the turn held, on a shared database. */
  #unlock: Unlock | undefined
  #following: ReturnType<typeof setTimeout> | undefined
  /** The load of new logs under way (see #loadNewLogs). */
  #loading: Promise<void> = Promise.resolve()

  private constructor(directory: string, opened: Opened, options: LedgerOptions) {
    this.directory = directory
    const driver = this.#driver = new RecoveringDriver(opened.driver, {
      ...options.recovery, reopen: opened.reopen, probe: opened.probe, onWrite: this.#writes.wrote, onHealth: this.#writes.health,
    })
    driver.afterReopen(() => this.#checkDurable())
    this.#options = options
    this.#shared = opened.driver.shared === true
    this.#providers = { hash: (options.hasher ?? nodeHasher).provider, signature: options.signature ?? nodeEd25519 }
    this.#tiles = tileCache(options.tileCacheSize ?? 4096)
    const turns = this.#shared ? {
      begin: () => this.#beginTurn(), end: () => this.#endTurn(), turnMs: TURN_MS, idleMs: TURN_IDLE_MS,
      lost: (error: unknown) => isStoreError(error, 'HEAD_CONFLICT'),
    } : undefined
    this.#appender = new Appender(driver, { maxBatchSize: options.maxBatchSize, maxBatchWaitMs: options.maxBatchWaitMs },
      this.#writes.batch, turns)
    this.#rows = registerRows(this.#appender, driver, this.#shared)
    this.objects = this.#objects = new LedgerObjects(driver, this.#providers.hash, {
      appender: this.#appender, shared: this.#shared,
      maxObjectSize: options.maxObjectSize ?? 16 * 2 ** 20, clock: options.clock ?? (() => new Date()),
      // Another process's objects never pass through this one's filter, so it could not say "new".
      filterBytes: this.#shared ? 0 : options.objectFilterBytes ?? 16 * 2 ** 20,
    })
  }

  /**
   * Opens (creating if needed) the ledger in `directory`. Reads only each log's latest state.
   * @throws DATABASE_LOCKED when another process has it open; CORRUPTION; RangeError for a bad originPrefix.
   */
  static async open(directory: string, options: LedgerOptions = {}): Promise<Ledger> {
    if (options.originPrefix !== undefined) checkOriginPrefix(options.originPrefix)
    await makeDirectory(join(directory, 'keys'), 0o700)
    const opened = await openDriver(directory, options)
    let ledger: Ledger
    try {
      ledger = new Ledger(directory, opened, options)
    } catch (error) {
      await opened.driver.close()
      throw error
    }
    const driver = ledger.#driver
    try {
      await ledger.#loadNewLogs()
      void ledger.#objects.fillFilter()
    } catch (error) {
      await driver.close()
      throw error
    }
    if (ledger.#shared) ledger.#follow(options.followIntervalMs ?? 1000)
    return ledger
  }

  /**
   * Loads the logs stored but not loaded yet: all of them at open; on a shared database, those
   * other processes created, and its own new ones. One load at a time, so that none is loaded twice.
   */
  #loadNewLogs(): Promise<void> {
    const loading = this.#loading.then(async () => {
      for await (const [, value] of this.#driver.range(allLogsRange())) {
        const info = JSON.parse(utf8Decoder.decode(value)) as LogInfo
        if (!this.#logs.has(info.name)) this.#logs.set(info.name, await Log.load(info, await this.#context(info)))
      }
    })
    this.#loading = loading.catch(() => undefined)
    return loading
  }

  /** On a shared database: looks for other processes' logs and entries every `intervalMs` until closed. */
  #follow(intervalMs: number): void {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw new RangeError('followIntervalMs must be a positive integer')
    const next = () => {
      this.#following = setTimeout(() => {
        // A failed look (the database is down, say) is tried again at the next one.
        this.catchUp().catch(() => undefined).finally(() => {
          if (!this.#closed) next()
        })
      }, intervalMs)
      this.#following.unref()
    }
    next()
  }

  /**
   * On a shared database: takes up the logs and entries other processes added since this one
   * last looked (which it does every followIntervalMs, and whenever it appends). Resolves once
   * its reads show them. Does nothing on a database of this process's own.
   */
  async catchUp(): Promise<void> {
    if (!this.#shared) return
    this.#checkOpen()
    await this.#loadNewLogs()
    await this.#appender.betweenBatches(() => this.#catchUpLogs())
  }

  /** Brings every log's state up to its stored head, in one read of the heads; only between batches (Appender.betweenBatches). */
  async #catchUpLogs(): Promise<void> {
    const logs = [...this.#logs.values()]
    const heads = await this.#driver.getMany(logs.map((log) => headKey(log.info.name)))
    await Promise.all(logs.map((log, i) => log.refresh(heads[i])))
  }

  /** A turn to sequence appends on a shared database: the lock, then every log brought up to date. */
  async #beginTurn(): Promise<void> {
    this.#unlock = await this.#driver.lock?.(SEQUENCER_LOCK)
    try {
      await this.#catchUpLogs()
    } catch (error) {
      await this.#endTurn()
      throw error
    }
  }

  async #endTurn(): Promise<void> {
    const unlock = this.#unlock
    this.#unlock = undefined
    await unlock?.()
  }

  /** Every log, by name. */
  logs(): LogInfo[] {
    return [...this.#logs.values()].map((log) => log.info)
  }

  /** @throws StoreError LOG_NOT_FOUND. */
  log(name: string): Log {
    this.#checkOpen()
    const log = this.#logs.get(name)
    if (log === undefined) throw new StoreError('LOG_NOT_FOUND', 'no log has that name')
    return log
  }

  /**
   * A table of rows kept beside the logs (see RowTable), by a name of a-z, 0-9 and -.
   * @throws RangeError for a bad name.
   */
  table(name: string): RowTable {
    if (typeof name !== 'string' || !TABLE_NAME.test(name)) throw new RangeError('a table name is 1-63 of a-z, 0-9 and -, starting with a letter')
    let table = this.#tables.get(name)
    if (table === undefined) this.#tables.set(name, table = new RowTable(this.#driver, name))
    return table
  }

  /**
   * Appends to several logs at once, all or nothing: one atomic, synced write holds every
   * part (an event and the access record of the request that appended it, say), `objects`
   * (from `objects.hashed`; the event's payload, say) and `rows` (from RowTable.row), and each
   * part resolves as Log.append would, in order. Each log may appear once.
   * @throws StoreError LOG_NOT_FOUND, ENTRY_EMPTY, ENTRY_TOO_LARGE, HEAD_CONFLICT, OBJECT_ERASED (nothing
   *   is appended); TypeError for a log named twice.
   */
  async append(parts: readonly { readonly log: string; readonly entries: readonly Uint8Array[] }[],
      options: { readonly objects?: readonly HashedObject[]; readonly rows?: readonly TableRow[] } = {}): Promise<AppendResult[]> {
    if (!Array.isArray(parts) || parts.length === 0) throw new TypeError('append takes a non-empty array of parts')
    const logParts = parts.map((part) => {
      checkEntries(part.entries)
      return this.log(part.log).part(part.entries)
    })
    const objects = options.objects === undefined || options.objects.length === 0 ? [] : [this.#objects.part(options.objects)]
    const rows = options.rows === undefined || options.rows.length === 0 ? [] : [this.#rows.part(options.rows)]
    // Only the logs' parts answer with AppendResults; the objects' and rows' results are dropped.
    const results = await this.#appender.append([...logParts, ...objects, ...rows])
    return results.slice(0, parts.length) as AppendResult[]
  }

  /**
   * Gives every entry appended from now on, to any log, the search terms `indexer` finds in it,
   * written in the entry's own atomic write (see Log.matching). Set it right after opening,
   * before anything is appended; entries appended without it are indexed by `reindex`.
   */
  indexWith(indexer: EntryIndexer): void {
    if (typeof indexer !== 'function') throw new TypeError('indexWith takes a function')
    this.#indexer = indexer
  }

  /**
   * Rebuilds the search index of log `name` (its terms and its time index) with the ledger's
   * indexer, while appends go on: the rows are built beside the ones searches read, which they
   * replace in one atomic write once complete (see Log.indexState); appends made meanwhile are
   * indexed as they are written. Resumes a reindex of the same `config` that a stop or a crash
   * cut short; stops the one running for the log, if any, first. Memory stays bounded however
   * large the log.
   * @returns the number of entries reindexed: the log's size when the reindex began.
   * @throws LOG_NOT_FOUND; TypeError when the ledger has no indexer; the reason of `signal`, or
   *   an Error when another reindex of the log, or close(), stopped it.
   */
  async reindex(name: string, options: ReindexOptions = {}): Promise<number> {
    const log = this.log(name)
    const indexer = this.#indexer
    if (indexer === undefined) throw new TypeError('reindex needs an indexer (Ledger.indexWith)')
    const previous = this.#reindexing.get(name)
    previous?.controller.abort(new Error(`another reindex of log ${name} replaced this one`))
    const controller = new AbortController()
    const stop = () => controller.abort(options.signal!.reason)
    options.signal?.addEventListener('abort', stop, { once: true })
    const task: ReindexTask = { controller, progress: undefined, done: Promise.resolve(0) }
    task.done = (async () => {
      await previous?.done.catch(() => undefined)
      controller.signal.throwIfAborted()
      return reindexLog(this.#driver, log, indexer, {
        config: options.config, signal: controller.signal,
        onProgress: (done, total) => {
          task.progress = { done, total }
          options.onProgress?.(done, total)
        },
      })
    })()
    this.#reindexing.set(name, task)
    try {
      return await task.done
    } finally {
      if (this.#reindexing.get(name) === task) this.#reindexing.delete(name)
      options.signal?.removeEventListener('abort', stop)
    }
  }

  /**
   * A size of log `name` from which on every entry is indexed by the indexer as it is when this
   * is called: the size after a batch of the log staged after the call (a write of its own when
   * no append comes along). What an indexer newly indexes is found in the entries from there on.
   * @throws LOG_NOT_FOUND; what the write is rejected with.
   */
  async indexingFrom(name: string): Promise<number> {
    const change = new IndexChange((state) => state)
    await this.log(name).changeIndex(change)
    return change.size!
  }

  /**
   * How far the reindex of log `name` got: entries done of its total, and whether it runs in
   * this process (else a stop or a crash cut it short, and `reindex` with its config resumes
   * it). Undefined when none runs and none was cut short after it began.
   * @throws LOG_NOT_FOUND.
   */
  async reindexProgress(name: string): Promise<{ done: number; total: number; running: boolean } | undefined> {
    const log = this.log(name)
    const { build } = log.indexState
    const task = this.#reindexing.get(name)
    // Until it has begun, a reindex's total is the log's size now.
    if (task !== undefined) return { ...task.progress ?? { done: 0, total: log.size }, running: true }
    if (build?.below === undefined) return undefined
    const progress = await this.#driver.get(reindexProgressKey(name))
    return { done: progress === undefined ? 0 : readUint64(progress), total: build.below, running: false }
  }

  /**
   * Creates a log with a fresh Ed25519 key and an empty, signed tree.
   * @throws StoreError LOG_NAME_INVALID, LOG_EXISTS, ORIGIN_INVALID, ORIGIN_EXISTS.
   */
  async createLog(name: string, options: CreateLogOptions = {}): Promise<LogInfo> {
    this.#checkOpen()
    if (typeof name !== 'string' || !LOG_NAME.test(name)) {
      throw new StoreError('LOG_NAME_INVALID', 'a log name is 1-63 of a-z, 0-9 and -, starting with a letter or digit')
    }
    if (this.#logs.has(name) || this.#creating.has(name)) throw new StoreError('LOG_EXISTS', 'a log with that name exists')
    const origin = options.origin ?? `${this.#options.originPrefix ?? hostname()}/${name}`
    checkOrigin(origin)
    if (this.#creatingOrigins.has(origin) || [...this.#logs.values()].some((log) => log.info.origin === origin)) {
      throw new StoreError('ORIGIN_EXISTS', 'another log of this ledger has that origin')
    }
    this.#creating.add(name)
    this.#creatingOrigins.add(origin)
    try {
      await options.beforeWrite?.()
      return await this.#createLog(name, origin)
    } finally {
      this.#creating.delete(name)
      this.#creatingOrigins.delete(origin)
    }
  }

  /** Writes the key file, then the log's row, head and empty checkpoint in one compare-and-swap. */
  async #createLog(name: string, origin: string): Promise<LogInfo> {
    const keyFile = join(this.directory, 'keys', `${name}.key`)
    const info = this.#shared ? await this.#sharedKey(name, origin, keyFile) : await this.#newKey(name, origin, keyFile)
    const context = await this.#context(info)
    const hasher = this.#options.hasher ?? nodeHasher
    const checkpoint = signCheckpoint({ origin: info.origin, size: 0, rootHash: hasher.emptyRoot, extensions: [] }, context.signer)
    try {
      await this.#driver.compareAndSwap(headKey(name), undefined, encodeHead({ size: 0, root: hasher.emptyRoot, checkpoint }), [
        { type: 'put', key: logKey(name), value: utf8.encode(JSON.stringify(info)) },
        { type: 'put', key: checkpointKey(name, 0), value: utf8.encode(checkpoint) },
        // Empty, the log is indexed whole: every entry from 0 on is, unless appended without an indexer.
        { type: 'put', key: indexStateKey(name), value: encodeIndexState({ generation: 0, from: 0 }) },
      ])
    } catch (error) {
      // Another process of a shared database created it first.
      if (!this.#shared || !isStorageError(error, 'SWAP_CONFLICT')) throw error
      await this.#loadNewLogs()
      throw new StoreError('LOG_EXISTS', 'a log with that name exists', { cause: error })
    }
    if (this.#shared) await this.#loadNewLogs()
    else this.#logs.set(name, await Log.load(info, context))
    return info
  }

  async #newKey(name: string, origin: string, keyFile: string): Promise<LogInfo> {
    const keys = generateKeyPair(origin, { providers: this.#providers })
    await writeKeyFile(keyFile, `${keys.signerKey}\n`).catch(keyFileFault)
    return { name, origin, verifierKey: keys.verifierKey }
  }

  /**
   * On a shared database, servers that share the key directory may create one log at once: the
   * key file is created only if there is none, and a key found there is the log's (a server
   * creating it now, or one stopped while creating it, made it; its name is the origin).
   * Either way every server signs with the one key that the log's row names.
   */
  async #sharedKey(name: string, origin: string, keyFile: string): Promise<LogInfo> {
    await this.#loadNewLogs()
    if (this.#logs.has(name)) throw new StoreError('LOG_EXISTS', 'a log with that name exists')
    if ([...this.#logs.values()].some((log) => log.info.origin === origin)) {
      throw new StoreError('ORIGIN_EXISTS', 'another log of this ledger has that origin')
    }
    const keys = generateKeyPair(origin, { providers: this.#providers })
    try {
      await writeKeyFile(keyFile, `${keys.signerKey}\n`, { exclusive: true }).catch(keyFileFault)
      return { name, origin, verifierKey: keys.verifierKey }
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
    }
    const signer = await this.#loadSigner(name)
    return { name, origin: signer.name, verifierKey: formatVerifierKey(signer.verifier) }
  }

  /**
   * Erases an object's bytes (a GDPR erasure) after recording the erasure as an entry in
   * `log`: entries that commit to the object's hash, and every proof, stay valid. Erasing an
   * erased object returns its existing record (and calls no beforeWrite). Entries themselves
   * can never be erased.
   * @throws StoreError OBJECT_NOT_FOUND, ID_MALFORMED, LOG_NOT_FOUND; what beforeWrite throws.
   */
  async eraseObject(hash: string, options: EraseObjectOptions): Promise<ObjectInfo> {
    this.#checkOpen()
    if (typeof options.reason !== 'string' || options.reason.trim() === '') throw new TypeError('an erasure needs a reason')
    const meta = await this.objects.info(hash)
    if (meta.erasure !== undefined) return meta
    const log = this.log(options.log)
    await options.beforeWrite?.()
    const erasedAt = (this.#options.clock ?? (() => new Date()))().toISOString()
    const record = {
      type: 'annal.erasure/v1', object: meta.hash, reason: options.reason, erased_at: erasedAt,
      ...(options.requestId === undefined ? {} : { request_id: options.requestId }),
    }
    const appended = await log.append([utf8.encode(JSON.stringify(record))])
    return this.#objects.markErased(hash, { erasedAt, reason: options.reason, log: log.info.name, index: appended.entries[0]!.index })
  }

  /**
   * Checks log `name` end to end, like `git fsck`, reading only through the storage driver:
   * every entry's leaf hash and id lookup row, every tile, every stored checkpoint (signature,
   * size, root, consistency with the ones before it) and the head. Every problem is reported
   * with its location; none stops the check. Waits for appends in flight first; appends made
   * while it runs may show up as problems, so run it on a quiet log.
   * @throws LOG_NOT_FOUND, DATABASE_CLOSED; KEY_MALFORMED when the log's verifier key is.
   */
  async fsck(name: string, options: FsckOptions = {}): Promise<FsckReport> {
    const log = this.log(name)
    await log.drain()
    const verifier = parseVerifierKey(log.info.verifierKey, { providers: this.#providers })
    const hasher = this.#options.hasher ?? nodeHasher
    return fsckLog({ driver: this.#driver, hasher, info: log.info, verifier }, options)
  }

  /**
   * Whether the database can write now; see WriteHealth. After a write fails for a reason
   * outside Annal, every write is refused with STORAGE_UNWRITABLE until the ledger has reopened
   * its database and checked that it holds everything acknowledged (Log.checkDurable); watchers
   * hear each change.
   */
  get writeHealth(): WriteHealth {
    return this.#driver.health
  }

  /**
   * Whether other processes write the same database (StorageDriver.shared): what a process
   * keeps in memory of the ledger may then be behind, and is only a hint.
   */
  get shared(): boolean {
    return this.#shared
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Hears of each write to the database and each batch of appends as they settle (see
   * LedgerEvent); `watcher` must not throw and should be quick: it runs on the write path.
   * Returns the function that stops it.
   */
  watch(watcher: (event: LedgerEvent) => void): () => void {
    return this.#writes.watch(watcher)
  }

  /** Finishes appends in flight, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#following)
    for (const task of this.#reindexing.values()) task.controller.abort(new Error('the ledger closed'))
    await Promise.all([...this.#reindexing.values()].map((task) => task.done.catch(() => undefined)))
    await this.#appender.drain()
    await Promise.all([...this.#logs.values()].map((log) => log.close()))
    await this.#objects.close()
    await this.#driver.close()
  }

  /** After a reopen: each log's durable head against what it acknowledged; the filters' passes again. */
  async #checkDurable(): Promise<void> {
    for (const log of this.#logs.values()) await log.checkDurable()
    void this.#objects.fillFilter()
  }

  async #context(info: LogInfo): Promise<LogContext> {
    return {
      driver: this.#driver,
      shared: this.#shared,
      hasher: this.#options.hasher ?? nodeHasher,
      signer: await this.#loadSigner(info.name),
      tiles: this.#tiles,
      appender: this.#appender,
      indexer: () => this.#indexer,
      ids: {
        maxLookupLag: this.#options.maxLookupLag, lookupBatchSize: this.#options.lookupBatchSize,
        idFilterBytes: this.#options.idFilterBytes,
      },
    }
  }

  async #loadSigner(name: string): Promise<NoteSigner> {
    const text = await readFile(join(this.directory, 'keys', `${name}.key`), 'utf8').catch((error: unknown) => {
      throw new StoreError('CORRUPTION', `the signing key of log ${name} is missing`, { cause: error })
    })
    return parseSignerKey(text.trim(), { providers: this.#providers })
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('DATABASE_CLOSED', 'the ledger is closed')
  }
}

/** The storage's faults (a full disk, an I/O error) met writing a log's key file. */
const KEY_FILE_FAULTS: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EFBIG'])

/**
 * No room for a log's key file is the storage's fault, as no room for its rows would be:
 * StorageError STORAGE_UNWRITABLE, the error the cause. Anything else is rethrown as it is.
 */
function keyFileFault(error: unknown): never {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code !== 'string' || !KEY_FILE_FAULTS.has(code)) throw error
  throw new StorageError('STORAGE_UNWRITABLE', `the log's key file could not be written (${faultCode(error)})`, { cause: error })
}

/** A ledger's driver as first opened, and how to open it again after a write fault (see RecoveryOptions). */
interface Opened {
  readonly driver: StorageDriver
  readonly reopen: (() => Promise<StorageDriver>) | undefined
  readonly probe: (() => Promise<void>) | undefined
}

/**
 * LevelDB in `<directory>/db`, reopened once a probe of that directory finds room for what
 * reopening writes (LevelDB replays its log into a table of up to its write buffer's size); or
 * the driver the options give.
 */
async function openDriver(directory: string, options: LedgerOptions): Promise<Opened> {
  const given = options.driver
  if (given !== undefined && typeof given !== 'function') return { driver: given, reopen: undefined, probe: undefined }
  if (given !== undefined) return { driver: await given(), reopen: given, probe: undefined }
  const path = join(directory, 'db')
  const { maxOpenFiles, writeBufferBytes } = options
  const reopen = () => LevelDriver.open(path, { maxOpenFiles, writeBufferBytes })
  const probeBytes = writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES
  return { driver: await reopen(), reopen, probe: () => probeDirectory(path, probeBytes) }
}

/** A reindex running: how to stop it, how far it got, and its end. */
interface ReindexTask {
  readonly controller: AbortController
  progress: { done: number; total: number } | undefined
  done: Promise<number>
}

/**
 * C2SP tlog-checkpoint: the origin line has no Unicode spaces or `+`, and it is the name of the
 * log's key (a signed-note key name, which has neither).
 * @throws StoreError ORIGIN_INVALID.
 */
function checkOrigin(origin: string): void {
  if (typeof origin !== 'string' || utf8.encode(origin).length > MAX_ORIGIN_BYTES) {
    throw new StoreError('ORIGIN_INVALID', `an origin is at most ${MAX_ORIGIN_BYTES} bytes`)
  }
  if (!isValidKeyName(origin)) throw new StoreError('ORIGIN_INVALID', 'an origin has no spaces, control characters or +')
}

/** The longest log name: LOG_NAME takes 63 characters, each one byte. */
const MAX_LOG_NAME_BYTES = 63

/**
 * Checks that `<prefix>/<name>` is a valid origin for every log name: a C2SP key name, without
 * a scheme (C2SP tlog-checkpoint: a schema-less URL) or a trailing `/`, short enough to leave
 * room for the longest name within MAX_ORIGIN_BYTES.
 * @throws RangeError saying which rule it breaks.
 */
export function checkOriginPrefix(prefix: string): void {
  const room = MAX_ORIGIN_BYTES - 1 - MAX_LOG_NAME_BYTES
  if (typeof prefix !== 'string' || prefix === '') throw new RangeError('an origin prefix is not empty')
  if (utf8.encode(prefix).length > room) throw new RangeError(`an origin prefix is at most ${room} bytes`)
  if (!isValidKeyName(prefix)) throw new RangeError('an origin prefix has no spaces, control characters or +')
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(prefix)) throw new RangeError('an origin prefix has no scheme (annal.example.com/tenant, not https://annal.example.com/tenant)')
  if (prefix.endsWith('/')) throw new RangeError('an origin prefix does not end in /')
}

/** Full tiles kept for proofs, at most `size`; none for 0. */
function tileCache(size: number): LRUCache<string, Uint8Array> | undefined {
  if (!Number.isInteger(size) || size < 0) throw new RangeError('tileCacheSize must be a non-negative integer')
  return size === 0 ? undefined : new LRUCache({ max: size })
}
