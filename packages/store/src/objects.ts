import { type HashProvider, TlogError, bytesToHex, hexToBytes } from '@annal/tlog'
import type { StorageDriver, WriteOp } from './driver.js'
import { StoredHashFilter } from './hash-filter.js'
import { objectKey, objectMetaKey, objectMetaRange } from './keys.js'

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

interface QueuedPut {
  readonly objects: readonly NewObject[]
  readonly digests: readonly Uint8Array[]
  readonly resolve: (results: PutObjectResult[]) => void
  readonly reject: (error: unknown) => void
}

export interface ObjectStoreOptions {
  readonly maxObjectSize: number
  readonly clock: () => Date
  /** Memory for a filter of stored objects' hashes, so that storing a new object looks nothing up. 0: none. */
  readonly filterBytes?: number
}

const OBJECT_HASH = /^sha256:([0-9a-f]{64})$/
/**
 * Objects up to this size are stored in their metadata row (one key per object: an event costs
 * one row less to write and one read less to serve); larger ones in a row of their own.
 */
export const INLINE_OBJECT_BYTES = 64 * 1024
/**
 * The metadata row (`M`): a kind byte, the metadata JSON's length (4 bytes, big-endian), the
 * JSON, then for kind INLINE the object's bytes. Rows written before inline objects are the
 * bare JSON (their first byte is `{`), with the bytes in an `O` row.
 */
const ROW_META = 0x01
const ROW_INLINE = 0x02
const ROW_HEADER = 5
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Content-addressed blobs beside the logs, stored once however often they are referred to.
 * An object can be erased (its bytes deleted) while the entries that commit to its hash stay.
 */
export class ObjectStore {
  readonly #driver: StorageDriver
  readonly #hash: HashProvider
  readonly #maxObjectSize: number
  readonly #clock: () => Date
  /** Every stored object's digest once filled; added to before each write. */
  readonly #filter: StoredHashFilter | undefined
  /** Object writes and erasures, one at a time: each reads the metadata, then writes on it. */
  #writing: Promise<unknown> = Promise.resolve()
  /** putMany calls waiting for the next write. */
  #queued: QueuedPut[] = []

  constructor(driver: StorageDriver, hash: HashProvider, options: ObjectStoreOptions) {
    this.#driver = driver
    this.#hash = hash
    this.#maxObjectSize = options.maxObjectSize
    this.#clock = options.clock
    this.#filter = StoredHashFilter.sized(options.filterBytes ?? 0, 'objectFilterBytes')
  }

  /**
   * Starts filling the filter from the stored metadata rows, in the background; until it is
   * filled every store looks its objects up. Resolves when filled (or stopped by close).
   */
  fillFilter(): Promise<void> {
    // Digests are added before their write starts: rows written after the pass began are in already.
    if (this.#filter === undefined) return Promise.resolve()
    return this.#filter.fill(this.#driver.range({ ...objectMetaRange(), keysOnly: true }), (key) => key.subarray(1))
  }

  /** Stops the filter's pass; the ledger calls it before closing the database. */
  async close(): Promise<void> {
    await this.#filter?.close()
  }

  /**
   * Stores `bytes` durably under their SHA-256 unless already there.
   * @throws TlogError OBJECT_TOO_LARGE; OBJECT_ERASED when these bytes were erased (they stay gone).
   */
  async put(bytes: Uint8Array, contentType?: string): Promise<PutObjectResult> {
    const [result] = await this.putMany([{ bytes, contentType }])
    return result!
  }

  /**
   * Stores several objects in one synced write (one fsync, not one per object). Checked whole
   * first: one object too large or erased refuses the call and writes nothing. Calls that
   * arrive while a write is in flight are stored together in the next one (each call still
   * succeeds or fails whole), so concurrent callers share fsyncs instead of queueing for one each.
   * @throws TlogError OBJECT_TOO_LARGE, OBJECT_ERASED.
   */
  putMany(objects: readonly NewObject[]): Promise<PutObjectResult[]> {
    for (const { bytes } of objects) {
      if (!(bytes instanceof Uint8Array)) return Promise.reject(new TypeError('an object is a Uint8Array'))
      if (bytes.length > this.#maxObjectSize) {
        return Promise.reject(new TlogError('OBJECT_TOO_LARGE', `objects are limited to ${this.#maxObjectSize} bytes`))
      }
    }
    const digests = objects.map(({ bytes }) => this.#hash.sha256(bytes))
    return new Promise((resolve, reject) => {
      this.#queued.push({ objects, digests, resolve, reject })
      if (this.#queued.length === 1) void this.#exclusive(() => this.#storeQueued())
    })
  }

  /** Stores every call queued so far in one synced write; settles each call. */
  async #storeQueued(): Promise<void> {
    const calls = this.#queued
    this.#queued = []
    const digests = calls.flatMap((call) => call.digests)
    const filter = this.#filter
    const asked = filter === undefined ? digests : digests.filter((digest) => !filter.unseen(digest))
    let stored: (Uint8Array | undefined)[]
    try {
      stored = asked.length === 0 ? [] : await this.#driver.getMany(asked.map(objectMetaKey))
    } catch (error) {
      for (const call of calls) call.reject(error)
      return
    }
    const found = new Map<Uint8Array, Uint8Array>()
    asked.forEach((digest, i) => {
      if (stored[i] !== undefined) found.set(digest, stored[i]!)
    })
    const storedAt = JSON.stringify(this.#clock().toISOString())
    const ops: WriteOp[] = []
    const rows: NewRow[] = []
    const rowDigests: Uint8Array[] = []
    const written = new Set<string>()
    const accepted: { call: QueuedPut; results: PutObjectResult[] }[] = []
    for (const call of calls) {
      if (call.digests.some((digest) => isErased(found.get(digest)))) {
        call.reject(new TlogError('OBJECT_ERASED', 'an object with these bytes was erased'))
        continue
      }
      const results = call.objects.map(({ bytes, contentType }, i): PutObjectResult => {
        const digest = call.digests[i]!
        const hex = bytesToHex(digest)
        const hash = `sha256:${hex}`
        if (found.has(digest) || written.has(hex)) return { hash, size: bytes.length, duplicate: true }
        written.add(hex)
        filter?.add(digest)
        // The same fields, in the same order, as JSON.stringify of an ObjectInfo, without building one.
        const meta = `{"hash":"${hash}","size":${bytes.length},"storedAt":${storedAt}${
          contentType === undefined ? '' : `,"contentType":${JSON.stringify(contentType)}`}}`
        const inline = bytes.length <= INLINE_OBJECT_BYTES
        if (!inline) ops.push({ type: 'put', key: objectKey(digest), value: bytes })
        rows.push({ meta, inline: inline ? bytes : undefined })
        rowDigests.push(digest)
        return { hash, size: bytes.length, duplicate: false }
      })
      accepted.push({ call, results })
    }
    encodeRows(rows).forEach((value, i) => ops.push({ type: 'put', key: objectMetaKey(rowDigests[i]!), value }))
    try {
      if (ops.length > 0) await this.#driver.write(ops, { sync: true })
    } catch (error) {
      for (const { call } of accepted) call.reject(error)
      return
    }
    for (const { call, results } of accepted) call.resolve(results)
  }

  /**
   * The object's metadata, including when and why it was erased.
   * @throws TlogError ID_MALFORMED, OBJECT_NOT_FOUND.
   */
  async info(hash: string): Promise<ObjectInfo> {
    return (await this.#row(parseObjectHash(hash))).info
  }

  /**
   * The object's bytes.
   * @throws TlogError ID_MALFORMED, OBJECT_NOT_FOUND, OBJECT_ERASED (the message says when and why).
   */
  async get(hash: string): Promise<Uint8Array> {
    const digest = parseObjectHash(hash)
    const { info, inline } = await this.#row(digest)
    if (info.erasure !== undefined) {
      throw new TlogError('OBJECT_ERASED', `erased at ${info.erasure.erasedAt}, recorded in ${info.erasure.log} entry ${info.erasure.index}`)
    }
    if (inline !== undefined) return inline
    const bytes = await this.#driver.get(objectKey(digest))
    if (bytes === undefined) throw new TlogError('CORRUPTION', 'an object lost its bytes')
    return bytes
  }

  /** Deletes the bytes and records the erasure in the metadata. Only the ledger calls this. */
  async markErased(hash: string, erasure: ObjectErasure): Promise<ObjectInfo> {
    const digest = parseObjectHash(hash)
    return this.#exclusive(async () => {
      const meta = await this.info(hash)
      const erased: ObjectInfo = { ...meta, erasure }
      await this.#driver.write([
        { type: 'del', key: objectKey(digest) },
        { type: 'put', key: objectMetaKey(digest), value: encodeRows([{ meta: JSON.stringify(erased) }])[0]! },
      ], { sync: true })
      return erased
    })
  }

  /** Runs `work` after every earlier write or erasure has settled, so none reads stale metadata. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#writing.then(work)
    this.#writing = result.catch(() => undefined)
    return result
  }

  /** @throws TlogError OBJECT_NOT_FOUND. */
  async #row(digest: Uint8Array): Promise<StoredRow> {
    const row = await this.#driver.get(objectMetaKey(digest))
    if (row === undefined) throw new TlogError('OBJECT_NOT_FOUND', 'no object has that hash')
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
  if (row[0] !== ROW_META && row[0] !== ROW_INLINE) return { info: parseInfo(row) } // before inline objects
  const end = ROW_HEADER + new DataView(row.buffer, row.byteOffset, row.byteLength).getUint32(1)
  if (end > row.length) throw new TlogError('CORRUPTION', 'an object row is truncated')
  const info = parseInfo(row.subarray(ROW_HEADER, end))
  if (row[0] === ROW_META) return { info }
  const inline = row.subarray(end)
  if (inline.length !== info.size) throw new TlogError('CORRUPTION', 'an object row holds the wrong number of bytes')
  return { info, inline }
}

function parseInfo(json: Uint8Array): ObjectInfo {
  try {
    return JSON.parse(utf8Decoder.decode(json)) as ObjectInfo
  } catch (error) {
    throw new TlogError('CORRUPTION', 'an object row does not hold its metadata', { cause: error })
  }
}

/** Whether a stored metadata row (if any) records an erasure: it only needs the kind and JSON. */
function isErased(row: Uint8Array | undefined): boolean {
  return row !== undefined && decodeRow(row).info.erasure !== undefined
}

/** @throws TlogError ID_MALFORMED unless `sha256:` and 64 lowercase hex digits. */
export function parseObjectHash(hash: string): Uint8Array {
  const match = typeof hash === 'string' ? OBJECT_HASH.exec(hash) : null
  if (match === null) throw new TlogError('ID_MALFORMED', 'an object hash is sha256: and 64 lowercase hex digits')
  return hexToBytes(match[1]!)
}
