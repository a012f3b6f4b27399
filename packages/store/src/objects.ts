import { type HashProvider, TlogError, bytesToHex, hexToBytes } from '@annal/tlog'
import type { StorageDriver, WriteOp } from './driver.js'
import { objectKey, objectMetaKey } from './keys.js'

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

const OBJECT_HASH = /^sha256:([0-9a-f]{64})$/
const utf8 = new TextEncoder()
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
  /** Object writes and erasures, one at a time: each reads the metadata, then writes on it. */
  #writing: Promise<unknown> = Promise.resolve()
  /** putMany calls waiting for the next write. */
  #queued: QueuedPut[] = []

  constructor(driver: StorageDriver, hash: HashProvider, options: { maxObjectSize: number; clock: () => Date }) {
    this.#driver = driver
    this.#hash = hash
    this.#maxObjectSize = options.maxObjectSize
    this.#clock = options.clock
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
    let metas: (Uint8Array | undefined)[]
    try {
      metas = await this.#driver.getMany(calls.flatMap((call) => call.digests.map(objectMetaKey)))
    } catch (error) {
      for (const call of calls) call.reject(error)
      return
    }
    const storedAt = this.#clock().toISOString()
    const ops: WriteOp[] = []
    const written = new Set<string>()
    const accepted: { call: QueuedPut; results: PutObjectResult[] }[] = []
    let offset = 0
    for (const call of calls) {
      const callMetas = metas.slice(offset, offset += call.digests.length)
      if (callMetas.some((meta) => meta !== undefined && decodeInfo(meta).erasure !== undefined)) {
        call.reject(new TlogError('OBJECT_ERASED', 'an object with these bytes was erased'))
        continue
      }
      const results = call.objects.map(({ bytes, contentType }, i): PutObjectResult => {
        const digest = call.digests[i]!
        const hash = `sha256:${bytesToHex(digest)}`
        if (callMetas[i] !== undefined || written.has(hash)) return { hash, size: bytes.length, duplicate: true }
        written.add(hash)
        const info: ObjectInfo = { hash, size: bytes.length, storedAt, ...(contentType === undefined ? {} : { contentType }) }
        ops.push({ type: 'put', key: objectKey(digest), value: bytes })
        ops.push({ type: 'put', key: objectMetaKey(digest), value: utf8.encode(JSON.stringify(info)) })
        return { hash, size: bytes.length, duplicate: false }
      })
      accepted.push({ call, results })
    }
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
    const meta = await this.#meta(parseObjectHash(hash))
    if (meta === undefined) throw new TlogError('OBJECT_NOT_FOUND', 'no object has that hash')
    return meta
  }

  /**
   * The object's bytes.
   * @throws TlogError ID_MALFORMED, OBJECT_NOT_FOUND, OBJECT_ERASED (the message says when and why).
   */
  async get(hash: string): Promise<Uint8Array> {
    const digest = parseObjectHash(hash)
    const meta = await this.info(hash)
    if (meta.erasure !== undefined) {
      throw new TlogError('OBJECT_ERASED', `erased at ${meta.erasure.erasedAt}, recorded in ${meta.erasure.log} entry ${meta.erasure.index}`)
    }
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
        { type: 'put', key: objectMetaKey(digest), value: utf8.encode(JSON.stringify(erased)) },
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

  async #meta(digest: Uint8Array): Promise<ObjectInfo | undefined> {
    const bytes = await this.#driver.get(objectMetaKey(digest))
    return bytes === undefined ? undefined : decodeInfo(bytes)
  }
}

function decodeInfo(bytes: Uint8Array): ObjectInfo {
  return JSON.parse(utf8Decoder.decode(bytes)) as ObjectInfo
}

/** @throws TlogError ID_MALFORMED unless `sha256:` and 64 lowercase hex digits. */
export function parseObjectHash(hash: string): Uint8Array {
  const match = typeof hash === 'string' ? OBJECT_HASH.exec(hash) : null
  if (match === null) throw new TlogError('ID_MALFORMED', 'an object hash is sha256: and 64 lowercase hex digits')
  return hexToBytes(match[1]!)
}
