import { type HashProvider, bytesToHex, hexToBytes } from '@annal/tlog'
import { type AppendPart, Appender, type Participant } from './appender.js'
import type { StorageDriver, Swap, WriteOp } from '@annal/storage'
import { StoredHashFilter } from './hash-filter.js'
import { RecentWrites } from './recent-writes.js'
import { objectKey, objectMetaKey, objectMetaRange } from './keys.js'
import { StoreError } from './errors.js'

/** What the ledger knows of an object, erased or not. */
export interface ObjectInfo {
  /** `sha256:<hex>` of the raw bytes. */
  readonly hash: string
  readonly size: number
  /** The media type it was stored with, if one was given. */
  readonly contentType?: string
  readonly storedAt: string
  readonly erasure?: ObjectErasure
}

export interface ObjectErasure {
  readonly erasedAt: string
  readonly reason: string
  /** Where the erasure is recorded: a log and the index of its erasure entry. */
  readonly log: string
  readonly index: number
}

export interface PutObjectResult {
  readonly hash: string
  readonly size: number
  readonly duplicate: boolean
}

/** An object to store, with the media type it came with. */
export interface NewObject {
  readonly bytes: Uint8Array
  readonly contentType?: string | undefined
}

/**
 * An object checked and hashed for storing, to hand to Ledger.append. Only ObjectStore.hashed
 * makes them: a digest given with bytes is trusted from nowhere else (a hand-made one could file
 * bytes under another hash).
 */
export class HashedObject {
  readonly bytes: Uint8Array
  readonly contentType: string | undefined
  readonly digest: Uint8Array
  /** `sha256:<hex>`. */
  readonly hash: string

  /** @internal Use ObjectStore.hashed. */
  constructor(key: typeof HASHED, bytes: Uint8Array, contentType: string | undefined, digest: Uint8Array) {
    if (key !== HASHED) throw new TypeError('objects to append come from objects.hashed')
    this.bytes = bytes
    this.contentType = contentType
    this.digest = digest
    this.hash = `sha256:${bytesToHex(digest)}`
  }
}

const HASHED = Symbol('hashed')

/** An erasure, as a batch item. */
interface ObjectErase {
  readonly erase: Uint8Array
  readonly erasure: ObjectErasure
}

/** What the object store is asked to do in a batch: store an object, or erase one. */
type ObjectItem = HashedObject | ObjectErase

/**
 * What a staged or recently written batch made of an object, or storage holds: the metadata
 * JSON of an object stored and not erased (a string, so that a batch of new objects allocates
 * nothing more per object), or the parsed metadata.
 */
type Known = string | { readonly erased: boolean; readonly info: ObjectInfo }

function infoOf(known: Known): ObjectInfo {
  return typeof known === 'string' ? JSON.parse(known) as ObjectInfo : known.info
}

function isErased(known: Known | undefined): boolean {
  return known !== undefined && typeof known !== 'string' && known.erased
}

interface PreparedObjects {
  readonly ticket: number
  /** Stored metadata rows of the objects looked up, by hex digest. */
  readonly found: ReadonlyMap<string, Uint8Array>
  /**
   * Per item, in call order: the filled filter never admitted it. Batches are admitted when
   * staged, before the next lookup, so such an object is in no batch before this one either.
   */
  readonly unseen: readonly boolean[]
}

interface StagedObjects {
  readonly ticket: number
  /** Per call: its puts' results, or its erasure's ObjectInfo. */
  readonly results: (PutObjectResult[] | ObjectInfo)[]
  readonly refused: ReadonlyMap<number, StoreError>
  readonly ops: readonly WriteOp[]
  /** On a shared database: the rows of objects stored for the first time, created only if absent. */
  readonly swaps: readonly Swap[]
  readonly decided: ReadonlyMap<string, Known>
  /** Digests of objects stored for the first time, for the filter. */
  readonly added: readonly Uint8Array[]
}

export interface ObjectStoreOptions {
  readonly maxObjectSize: number
  readonly clock: () => Date
  /** Memory for a filter of stored objects' hashes, so that storing a new object looks nothing up. 0: none. */
  readonly filterBytes?: number
  /** The ledger's appender, so that objects are written in the same batches as entries. Default: one of its own. */
  readonly appender?: Appender
  /**
   * Other processes store objects in the same database (StorageDriver.shared): a new object's
   * row is created only if no other process created it meanwhile, or the batch is sequenced
   * again and finds it there (a duplicate). Default false.
   */
  readonly shared?: boolean
}

/** The object store's name in the appender: log names start with a letter or digit, so no log has it. */
export const OBJECTS = ' objects'

const OBJECT_HASH = /^sha256:([0-9a-f]{64})$/
/**
 * Objects up to this size are stored in their metadata row (one key per object: an event costs
 * one row less to write and one read less to serve); larger ones in a row of their own.
 */
export const INLINE_OBJECT_BYTES = 64 * 1024
/**
 * The metadata row (`M`): a kind byte, the metadata JSON's length (4 bytes, big-endian), the
 * JSON, then for kind INLINE the object's bytes; for kind META the bytes are in an `O` row.
 */
const ROW_META = 0x01
const ROW_INLINE = 0x02
const ROW_HEADER = 5
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** The content-addressed object store of a ledger (`ledger.objects`): payloads stored once by hash. */
export interface ObjectStore {
  /**
   * Stores `bytes` durably under their SHA-256 unless already there.
   * @throws StoreError OBJECT_TOO_LARGE; OBJECT_ERASED when these bytes were erased (they stay gone).
   */
  put(bytes: Uint8Array, contentType?: string): Promise<PutObjectResult>
  /** Several objects in one synced write, checked whole first. @throws StoreError OBJECT_TOO_LARGE, OBJECT_ERASED. */
  putMany(objects: readonly NewObject[]): Promise<PutObjectResult[]>
  /** Objects checked and hashed, ready for putMany or Ledger.append. @throws StoreError OBJECT_TOO_LARGE. */
  hashed(objects: readonly NewObject[]): HashedObject[]
  /** @throws StoreError ID_MALFORMED, OBJECT_NOT_FOUND. */
  info(hash: string): Promise<ObjectInfo>
  /** @throws StoreError ID_MALFORMED, OBJECT_NOT_FOUND, OBJECT_ERASED. */
  get(hash: string): Promise<Uint8Array>
  /** The bytes and what is known of them, in one read. @throws as get. */
  read(hash: string): Promise<{ readonly bytes: Uint8Array; readonly info: ObjectInfo }>
}

/**
 * Content-addressed blobs beside the logs, stored once however often they are referred to.
 * An object can be erased (its bytes deleted) while the entries that commit to its hash stay.
 *
 * Stores and erasures go through the ledger's appender, in the same batches (and the same
 * atomic write) as entries: an event, its object and its access record land together. Each
 * batch decides on top of the batches staged before it, as a log does, so deduplication is
 * exact and erased bytes are never stored again: an object is written only if neither storage
 * nor a batch staged or written since the lookup holds it.
 */
export class LedgerObjects implements ObjectStore {
  readonly #driver: StorageDriver
  readonly #hash: HashProvider
  readonly #maxObjectSize: number
  readonly #clock: () => Date
  readonly #shared: boolean
  readonly #participant: Participant<ObjectItem, PutObjectResult[] | ObjectInfo>
  /** Every stored object's digest once filled; added to when a batch storing it is staged. */
  readonly #filter: StoredHashFilter | undefined
  /** Per batch staged but not yet written, in order: what it makes of each object it touches. */
  #staged: ReadonlyMap<string, Known>[] = []
  /** Written batches that lookups started before their write may not have seen. */
  readonly #written = new RecentWrites<Known>()

  constructor(driver: StorageDriver, hash: HashProvider, options: ObjectStoreOptions) {
    this.#driver = driver
    this.#hash = hash
    this.#maxObjectSize = options.maxObjectSize
    this.#clock = options.clock
    this.#shared = options.shared === true
    this.#filter = StoredHashFilter.sized(options.filterBytes ?? 0, 'objectFilterBytes')
    const appender = options.appender ?? new Appender(driver, {})
    this.#participant = appender.register<PreparedObjects, StagedObjects, PutObjectResult[] | ObjectInfo, ObjectItem>(OBJECTS, {
      prepare: (calls) => this.#prepare(calls),
      waitForRoom: async () => {},
      stage: (calls, prepared, skip) => this.#stage(calls, prepared, skip),
      refusals: (staged) => staged.refused,
      adopt: (staged) => {
        for (const digest of staged.added) this.#filter?.add(digest)
        this.#staged.push(staged.decided)
      },
      writes: (staged) => (staged.ops.length === 0 && staged.swaps.length === 0 ? undefined : { ops: staged.ops, swaps: staged.swaps }),
      written: (staged) => {
        this.#written.release(staged.ticket)
        this.#written.written(this.#staged.shift()!)
        return staged.results
      },
      discard: () => {
        this.#staged = []
      },
    })
  }

  /**
   * Starts filling the filter from the stored metadata rows, in the background; until it is
   * filled every store looks its objects up. Resolves when filled (or stopped by close).
   */
  fillFilter(): Promise<void> {
    // Digests are added when their batch is staged: rows written after the pass began are in already.
    if (this.#filter === undefined) return Promise.resolve()
    return this.#filter.fill(this.#driver.range({ ...objectMetaRange(), keysOnly: true }), (key) => key.subarray(1))
  }

  /** Stops the filter's pass; the ledger calls it before closing the database. */
  async close(): Promise<void> {
    await this.#filter?.close()
  }

  /**
   * Stores `bytes` durably under their SHA-256 unless already there.
   * @throws StoreError OBJECT_TOO_LARGE; OBJECT_ERASED when these bytes were erased (they stay gone).
   */
  async put(bytes: Uint8Array, contentType?: string): Promise<PutObjectResult> {
    const [result] = await this.putMany([{ bytes, contentType }])
    return result!
  }

  /**
   * Objects checked and hashed, ready for putMany or Ledger.append.
   * @throws TypeError unless each is a Uint8Array; StoreError OBJECT_TOO_LARGE.
   */
  hashed(objects: readonly NewObject[]): HashedObject[] {
    return objects.map(({ bytes, contentType }) => {
      if (!(bytes instanceof Uint8Array)) throw new TypeError('an object is a Uint8Array')
      if (bytes.length > this.#maxObjectSize) throw new StoreError('OBJECT_TOO_LARGE', `objects are limited to ${this.#maxObjectSize} bytes`)
      return new HashedObject(HASHED, bytes, contentType, this.#hash.sha256(bytes))
    })
  }

  /**
   * Stores several objects in one synced write, shared with whatever else the ledger's appender
   * is writing (one fsync, not one per object or per caller). Checked whole first: one object
   * too large or erased refuses the call and writes nothing of it.
   * @throws StoreError OBJECT_TOO_LARGE, OBJECT_ERASED.
   */
  async putMany(objects: readonly NewObject[]): Promise<PutObjectResult[]> {
    const results = await this.#participant.append(this.hashed(objects))
    if (!Array.isArray(results)) throw new TypeError('a store answered as an erasure')
    return results
  }

  /**
   * The appender part that stores `objects` with the entries of the same call (Ledger.append).
   * @throws TypeError for an object that `hashed` did not make: its digest is only trusted from there.
   */
  part(objects: readonly HashedObject[]): AppendPart<PutObjectResult[] | ObjectInfo> {
    for (const object of objects) {
      if (!(object instanceof HashedObject)) throw new TypeError('objects to append come from objects.hashed')
    }
    return this.#participant.part(objects)
  }

  /** Looks up what the filter cannot rule out; changes nothing, so it may overlap the previous write. */
  async #prepare(calls: readonly (readonly ObjectItem[])[]): Promise<PreparedObjects> {
    const ticket = this.#written.ticket()
    const filter = this.#filter
    const asked: Uint8Array[] = []
    const unseen: boolean[] = []
    for (const call of calls) {
      for (const item of call) {
        const never = item instanceof HashedObject && filter !== undefined && filter.unseen(item.digest)
        unseen.push(never)
        if (!never) asked.push(item instanceof HashedObject ? item.digest : item.erase)
      }
    }
    const rows = asked.length === 0 ? [] : await this.#driver.getMany(asked.map(objectMetaKey))
    const found = new Map<string, Uint8Array>()
    asked.forEach((digest, i) => {
      if (rows[i] !== undefined) found.set(bytesToHex(digest), rows[i]!)
    })
    return { ticket, found, unseen }
  }

  /** What is known of an object: this batch's decisions, the batches before it, then storage. */
  #known(hex: string, ticket: number, decided: ReadonlyMap<string, Known>, found: ReadonlyMap<string, Uint8Array>): Known | undefined {
    const mine = decided.get(hex)
    if (mine !== undefined) return mine
    for (let i = this.#staged.length - 1; i >= 0; i--) {
      const known = this.#staged[i]!.get(hex)
      if (known !== undefined) return known
    }
    const missed = this.#written.missed(hex, ticket)
    if (missed !== undefined) return missed
    const row = found.get(hex)
    if (row === undefined) return undefined
    const { info } = decodeRow(row)
    return { erased: info.erasure !== undefined, info }
  }

  /**
   * Decides each call's rows on top of every batch staged before; a call with an erased object
   * (or erasing a missing one) is refused whole.
   */
  #stage(calls: readonly (readonly ObjectItem[])[], prepared: PreparedObjects, skip: ReadonlySet<number>): StagedObjects {
    const storedAt = JSON.stringify(this.#clock().toISOString())
    const decided = new Map<string, Known>()
    const refused = new Map<number, StoreError>()
    const results: (PutObjectResult[] | ObjectInfo)[] = []
    const ops: WriteOp[] = []
    const rows: NewRow[] = []
    const rowDigests: Uint8Array[] = []
    const swaps: Swap[] = []
    let at = 0
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c]!
      if (!skip.has(c)) {
        const error = this.#stageCall(call, prepared, at, storedAt, decided, results, c, { ops, rows, rowDigests })
        if (error !== undefined) refused.set(c, error)
      }
      at += call.length
    }
    encodeRows(rows).forEach((value, i) => {
      const key = objectMetaKey(rowDigests[i]!)
      if (this.#shared && rows[i]!.created) swaps.push({ key, expected: undefined, next: value })
      else ops.push({ type: 'put', key, value })
    })
    return { ticket: prepared.ticket, results, refused, ops, swaps, decided, added: rowDigests }
  }

  /**
   * One call's part of #stage: its decisions go into `decided` and its rows into `into`, or,
   * when the call is refused, nothing (the error is returned). A call is the puts of one
   * putMany or Ledger.append, or the one erasure of a markErased: a put call is checked for
   * erased objects before anything of it is decided, so a refusal has nothing to undo.
   */
  #stageCall(call: readonly ObjectItem[], prepared: PreparedObjects, first: number, storedAt: string,
      decided: Map<string, Known>, results: (PutObjectResult[] | ObjectInfo)[], c: number,
      into: { ops: WriteOp[]; rows: NewRow[]; rowDigests: Uint8Array[] }): StoreError | undefined {
    const { ticket, found, unseen } = prepared
    const item = call[0]!
    if (!(item instanceof HashedObject)) {
      const hex = bytesToHex(item.erase)
      const current = this.#known(hex, ticket, decided, found)
      if (current === undefined) return new StoreError('OBJECT_NOT_FOUND', 'no object has that hash')
      if (isErased(current)) {
        results[c] = infoOf(current)
        return undefined
      }
      const erased: ObjectInfo = { ...infoOf(current), erasure: item.erasure }
      decided.set(hex, { erased: true, info: erased })
      into.ops.push({ type: 'del', key: objectKey(item.erase) })
      into.rows.push({ meta: JSON.stringify(erased) })
      into.rowDigests.push(item.erase)
      results[c] = erased
      return undefined
    }
    const puts = call as readonly HashedObject[]
    // An object the filled filter never admitted is neither stored nor in an earlier batch; only
    // this batch may hold it (stored, or stored and erased by an earlier call).
    const known = puts.map(({ hash }, i) => {
      const hex = hash.slice(7)
      return unseen[first + i] === true ? decided.get(hex) : this.#known(hex, ticket, decided, found)
    })
    if (known.some(isErased)) return new StoreError('OBJECT_ERASED', 'an object with these bytes was erased')
    results[c] = puts.map(({ bytes, contentType, digest, hash }, i): PutObjectResult => {
      const hex = hash.slice(7)
      // Looked up again in this batch's decisions: an earlier object of the same call may be it.
      if ((known[i] ?? decided.get(hex)) !== undefined) return { hash, size: bytes.length, duplicate: true }
      // The same fields, in the same order, as JSON.stringify of an ObjectInfo, without building one.
      const meta = `{"hash":"${hash}","size":${bytes.length},"storedAt":${storedAt}${
        contentType === undefined ? '' : `,"contentType":${JSON.stringify(contentType)}`}}`
      decided.set(hex, meta)
      const inline = bytes.length <= INLINE_OBJECT_BYTES
      if (!inline) into.ops.push({ type: 'put', key: objectKey(digest), value: bytes })
      into.rows.push({ meta, inline: inline ? bytes : undefined, created: true })
      into.rowDigests.push(digest)
      return { hash, size: bytes.length, duplicate: false }
    })
    return undefined
  }

  /**
   * The object's metadata, including when and why it was erased.
   * @throws StoreError ID_MALFORMED, OBJECT_NOT_FOUND.
   */
  async info(hash: string): Promise<ObjectInfo> {
    return (await this.#row(parseObjectHash(hash))).info
  }

  /**
   * The object's bytes.
   * @throws StoreError ID_MALFORMED, OBJECT_NOT_FOUND, OBJECT_ERASED (the message says when and why).
   */
  async get(hash: string): Promise<Uint8Array> {
    return (await this.read(hash)).bytes
  }

  /**
   * The object's bytes and its metadata, from one read of its row (and one of its bytes, when
   * they are too large to live in the row).
   * @throws StoreError ID_MALFORMED, OBJECT_NOT_FOUND, OBJECT_ERASED (the message says when and why).
   */
  async read(hash: string): Promise<{ readonly bytes: Uint8Array; readonly info: ObjectInfo }> {
    const digest = parseObjectHash(hash)
    const { info, inline } = await this.#row(digest)
    if (info.erasure !== undefined) {
      throw new StoreError('OBJECT_ERASED', `erased at ${info.erasure.erasedAt}, recorded in ${info.erasure.log} entry ${info.erasure.index}`)
    }
    if (inline !== undefined) return { bytes: inline, info }
    const bytes = await this.#driver.get(objectKey(digest))
    if (bytes === undefined) throw new StoreError('CORRUPTION', 'an object lost its bytes')
    return { bytes, info }
  }

  /**
   * Deletes the bytes and records the erasure in the metadata, in order with every store around
   * it (through the appender). Erasing an erased object returns its record. Only the ledger calls this.
   * @throws StoreError ID_MALFORMED, OBJECT_NOT_FOUND.
   */
  async markErased(hash: string, erasure: ObjectErasure): Promise<ObjectInfo> {
    const digest = parseObjectHash(hash)
    const info = await this.#participant.append([{ erase: digest, erasure }])
    if (Array.isArray(info)) throw new TypeError('an erasure answered as a store')
    return info
  }

  /** @throws StoreError OBJECT_NOT_FOUND. */
  async #row(digest: Uint8Array): Promise<StoredRow> {
    const row = await this.#driver.get(objectMetaKey(digest))
    if (row === undefined) throw new StoreError('OBJECT_NOT_FOUND', 'no object has that hash')
    return decodeRow(row)
  }
}

interface StoredRow {
  readonly info: ObjectInfo
  /** The bytes, when stored in the row. */
  readonly inline?: Uint8Array
}

interface NewRow {
  readonly meta: string
  readonly inline?: Uint8Array | undefined
  /** The object's first row (not an erasure's). */
  readonly created?: boolean
}

/** Metadata rows, laid out in one allocation per write rather than one (or a pool slice) per object. */
function encodeRows(rows: readonly NewRow[]): Uint8Array[] {
  const metaLengths = rows.map(({ meta }) => Buffer.byteLength(meta))
  let total = 0
  rows.forEach(({ inline }, i) => {
    total += ROW_HEADER + metaLengths[i]! + (inline?.length ?? 0)
  })
  const slab = Buffer.allocUnsafeSlow(total)
  let at = 0
  return rows.map(({ meta, inline }, i) => {
    const start = at
    slab[at] = inline === undefined ? ROW_META : ROW_INLINE
    slab.writeUInt32BE(metaLengths[i]!, at + 1)
    at += ROW_HEADER + slab.write(meta, at + ROW_HEADER)
    if (inline !== undefined) {
      slab.set(inline, at)
      at += inline.length
    }
    return new Uint8Array(slab.buffer, slab.byteOffset + start, at - start)
  })
}

function decodeRow(row: Uint8Array): StoredRow {
  if (row[0] !== ROW_META && row[0] !== ROW_INLINE) throw new StoreError('CORRUPTION', 'an object row is of no known kind')
  const end = ROW_HEADER + new DataView(row.buffer, row.byteOffset, row.byteLength).getUint32(1)
  if (end > row.length) throw new StoreError('CORRUPTION', 'an object row is truncated')
  const info = parseInfo(row.subarray(ROW_HEADER, end))
  if (row[0] === ROW_META) return { info }
  const inline = row.subarray(end)
  if (inline.length !== info.size) throw new StoreError('CORRUPTION', 'an object row holds the wrong number of bytes')
  return { info, inline }
}

function parseInfo(json: Uint8Array): ObjectInfo {
  try {
    return JSON.parse(utf8Decoder.decode(json)) as ObjectInfo
  } catch (error) {
    throw new StoreError('CORRUPTION', 'an object row does not hold its metadata', { cause: error })
  }
}

/** @throws StoreError ID_MALFORMED unless `sha256:` and 64 lowercase hex digits. */
export function parseObjectHash(hash: string): Uint8Array {
  const match = typeof hash === 'string' ? OBJECT_HASH.exec(hash) : null
  if (match === null) throw new StoreError('ID_MALFORMED', 'an object hash is sha256: and 64 lowercase hex digits')
  return hexToBytes(match[1]!)
}
