import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nodeHashProvider } from '@annal/crypto-node'
import { bytesToHex } from '@annal/tlog'
import { LevelDriver, type StorageDriver } from '@annal/storage'
import { objectKey, objectMetaKey } from './keys.js'
import { Ledger } from './ledger.js'
import { INLINE_OBJECT_BYTES, LedgerObjects, parseObjectHash } from './objects.js'

const utf8 = new TextEncoder()
const code = (code: string) => expect.objectContaining({ name: 'StoreError', code })
let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-objects-'))
  ledger = await Ledger.open(directory, { originPrefix: 'test.example', maxObjectSize: 100 })
  await ledger.createLog('audit')
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

describe('putMany', () => {
  it('stores new objects once, with their content type, and reports repeats as duplicates', async () => {
    const [a, b, again] = await ledger.objects.putMany([
      { bytes: utf8.encode('{"a":1}'), contentType: 'application/json' },
      { bytes: utf8.encode('plain'), contentType: 'text/plain' },
      { bytes: utf8.encode('{"a":1}'), contentType: 'application/json' },
    ])
    expect([a!.duplicate, b!.duplicate, again!.duplicate]).toEqual([false, false, true])
    expect(again!.hash).toBe(a!.hash)
    expect(await ledger.objects.info(b!.hash)).toMatchObject({ size: 5, contentType: 'text/plain' })
    expect((await ledger.objects.putMany([{ bytes: utf8.encode('plain') }]))[0]!.duplicate).toBe(true)
    const unusual = await ledger.objects.put(utf8.encode('ünïcode'), 'text/plain; title="naïve \\ \"q\""')
    expect(await ledger.objects.info(unusual.hash)).toMatchObject({ size: 9, contentType: 'text/plain; title="naïve \\ \"q\""' })
    expect(new TextDecoder().decode(await ledger.objects.get(unusual.hash))).toBe('ünïcode')
  })

  it('refuses the whole call, writing nothing, when one object is too large or erased', async () => {
    const fresh = utf8.encode('fresh')
    await expect(ledger.objects.putMany([{ bytes: fresh }, { bytes: new Uint8Array(101) }])).rejects.toThrow(code('OBJECT_TOO_LARGE'))
    const erased = await ledger.objects.put(utf8.encode('secret'))
    await ledger.eraseObject(erased.hash, { reason: 'request 7', log: 'audit' })
    await expect(ledger.objects.putMany([{ bytes: fresh }, { bytes: utf8.encode('secret') }])).rejects.toThrow(code('OBJECT_ERASED'))
    expect((await ledger.objects.put(fresh)).duplicate).toBe(false)
  })
})

describe('concurrent putMany calls', () => {
  it('share synced writes, and an erased object fails only the call that holds it', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'annal-objects-group-'))
    const driver = await LevelDriver.open(join(directory, 'db'))
    const writes: number[] = []
    const counting = wrapped(driver, {
      write: (ops, options) => {
        writes.push(ops.length)
        return driver.write(ops, options)
      },
    })
    const objects = new LedgerObjects(counting, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date() })
    try {
      const { hash: secret } = await objects.put(utf8.encode('secret'))
      await objects.markErased(secret, { erasedAt: 'now', reason: 'request', log: 'audit', index: 0 })
      writes.length = 0
      const calls = Array.from({ length: 40 }, (_, i) => objects.putMany([{ bytes: utf8.encode(`event ${i % 20}`) }]))
      const refused = expect(objects.putMany([{ bytes: utf8.encode('new') }, { bytes: utf8.encode('secret') }]))
        .rejects.toThrow(code('OBJECT_ERASED'))
      const results = await Promise.all(calls)
      await refused
      // 20 distinct events, each stored once (one row each), the repeats reported as duplicates.
      expect(results.filter(([result]) => !result!.duplicate)).toHaveLength(20)
      expect(writes.reduce((sum, ops) => sum + ops, 0)).toBe(20)
      expect(writes.length).toBeLessThan(calls.length / 4)
      await expect(objects.info(`sha256:${'0'.repeat(64)}`)).rejects.toThrow(code('OBJECT_NOT_FOUND'))
      expect((await objects.put(utf8.encode('new'))).duplicate).toBe(false)
    } finally {
      await driver.close()
      await rm(directory, { recursive: true, force: true })
    }
  })
})

describe('erasure against concurrent first stores', () => {
  it('never lets a store that raced the first one bring erased bytes back', async () => {
    // A driver whose second object write lands late: the interleaving in which a store that
    // read "absent" before the first store finished would write the bytes back after an erasure.
    const directory = await mkdtemp(join(tmpdir(), 'annal-objects-race-'))
    const driver = await LevelDriver.open(join(directory, 'db'))
    let writes = 0
    const slow = wrapped(driver, {
      write: async (ops, options) => {
        if (++writes === 2) await new Promise((resolve) => setTimeout(resolve, 100))
        return driver.write(ops, options)
      },
    })
    const objects = new LedgerObjects(slow, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date() })
    try {
      const bytes = utf8.encode('{"card":"4111"}')
      const first = objects.put(bytes)
      const second = objects.put(bytes)
      const { hash } = await first
      const erased = objects.markErased(hash, { erasedAt: 'now', reason: 'request', log: 'audit', index: 0 })
      await Promise.all([second, erased])
      expect((await objects.info(hash)).erasure).toBeDefined()
      await expect(objects.get(hash)).rejects.toThrow(code('OBJECT_ERASED'))
      expect(await driver.get(objectKey(parseObjectHash(hash)))).toBeUndefined()
    } finally {
      await driver.close()
      await rm(directory, { recursive: true, force: true })
    }
  })
})

describe('stores and erasures in one batch', () => {
  it('apply in call order: an object stored and erased together ends erased; erasing a missing one fails only its call', async () => {
    const bytes = utf8.encode('{"card":"4111"}')
    const [hash] = ledger.objects.hashed([{ bytes }]).map((object) => object.hash) as [string]
    const missing = `sha256:${'0'.repeat(64)}`
    const erasure = { erasedAt: 'now', reason: 'request', log: 'audit', index: 0 }
    const [stored, erased, refused, other] = await Promise.allSettled([
      ledger.objects.put(bytes), (ledger.objects as LedgerObjects).markErased(hash, erasure), (ledger.objects as LedgerObjects).markErased(missing, erasure),
      ledger.objects.put(utf8.encode('other')),
    ])
    expect(stored).toMatchObject({ status: 'fulfilled', value: { hash, duplicate: false } })
    expect(erased).toMatchObject({ status: 'fulfilled', value: { hash, erasure } })
    expect(refused).toMatchObject({ status: 'rejected', reason: code('OBJECT_NOT_FOUND') })
    expect(other).toMatchObject({ status: 'fulfilled', value: { duplicate: false } })
    await expect(ledger.objects.get(hash)).rejects.toThrow(code('OBJECT_ERASED'))
    await expect(ledger.objects.put(bytes)).rejects.toThrow(code('OBJECT_ERASED'))
    // Stored, erased and stored again in one batch (new bytes, so the filter has not seen them).
    const fresh = utf8.encode('{"card":"5500"}')
    const [freshHash] = ledger.objects.hashed([{ bytes: fresh }]).map((object) => object.hash) as [string]
    const again = await Promise.allSettled([
      ledger.objects.put(fresh), (ledger.objects as LedgerObjects).markErased(freshHash, erasure), ledger.objects.put(fresh),
    ])
    expect(again.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
    expect(again[2]).toMatchObject({ reason: code('OBJECT_ERASED') })
    // Erasing again returns the record kept.
    expect(await (ledger.objects as LedgerObjects).markErased(hash, { ...erasure, reason: 'again' })).toMatchObject({ erasure })
  })
})

/** `driver`, with some of its methods replaced. */
function wrapped(driver: StorageDriver, replaced: Partial<StorageDriver>): StorageDriver {
  return {
    get: (key) => driver.get(key),
    getMany: (keys) => driver.getMany(keys),
    range: (options) => driver.range(options),
    compareAndSwap: (key, expected, next, ops) => driver.compareAndSwap(key, expected, next, ops),
    compareAndSwapAll: (swaps, ops) => driver.compareAndSwapAll(swaps, ops),
    close: () => driver.close(),
    write: (ops, options) => driver.write(ops, options),
    ...replaced,
  }
}

describe('rows', () => {
  it('keeps a small object in its metadata row and a large one in a row of its own; erasing deletes either', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'annal-objects-rows-'))
    const driver = await LevelDriver.open(join(directory, 'db'))
    const objects = new LedgerObjects(driver, nodeHashProvider, { maxObjectSize: 2 * INLINE_OBJECT_BYTES, clock: () => new Date() })
    try {
      const small = new Uint8Array(INLINE_OBJECT_BYTES).fill(7)
      const large = new Uint8Array(INLINE_OBJECT_BYTES + 1).fill(8)
      const [a, b] = await objects.putMany([{ bytes: small, contentType: 'application/octet-stream' }, { bytes: large }])
      expect(await driver.get(objectKey(parseObjectHash(a!.hash)))).toBeUndefined()
      expect(await driver.get(objectKey(parseObjectHash(b!.hash)))).toEqual(large)
      expect(await objects.get(a!.hash)).toEqual(small)
      expect(await objects.get(b!.hash)).toEqual(large)
      expect(await objects.info(a!.hash)).toMatchObject({ hash: a!.hash, size: small.length, contentType: 'application/octet-stream' })
      expect(await objects.read(a!.hash)).toEqual({ bytes: small, info: await objects.info(a!.hash) })
      expect(await objects.read(b!.hash)).toEqual({ bytes: large, info: await objects.info(b!.hash) })
      for (const { hash } of [a!, b!]) {
        await objects.markErased(hash, { erasedAt: 'now', reason: 'request', log: 'audit', index: 0 })
        await expect(objects.get(hash)).rejects.toThrow(code('OBJECT_ERASED'))
        await expect(objects.read(hash)).rejects.toThrow(code('OBJECT_ERASED'))
        const row = await driver.get(objectMetaKey(parseObjectHash(hash)))
        expect(row!.length).toBeLessThan(1024) // the metadata only
        expect(await driver.get(objectKey(parseObjectHash(hash)))).toBeUndefined()
      }
      await expect(objects.put(small)).rejects.toThrow(code('OBJECT_ERASED'))
    } finally {
      await driver.close()
      await rm(directory, { recursive: true, force: true })
    }
  })

  it('refuses an object row of no known kind as corruption, and stores nothing over it', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'annal-objects-kind-'))
    const driver = await LevelDriver.open(join(directory, 'db'))
    const objects = new LedgerObjects(driver, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date() })
    try {
      const bytes = utf8.encode('{"kind":"unknown"}')
      const digest = nodeHashProvider.sha256(bytes)
      const hash = `sha256:${bytesToHex(digest)}`
      const row = utf8.encode(JSON.stringify({ hash, size: bytes.length, storedAt: '2026-01-01T00:00:00.000Z' }))
      await driver.write([{ type: 'put', key: objectMetaKey(digest), value: row }], { sync: true })
      await expect(objects.info(hash)).rejects.toThrow(code('CORRUPTION'))
      await expect(objects.get(hash)).rejects.toThrow(code('CORRUPTION'))
      await expect(objects.put(bytes)).rejects.toThrow(code('CORRUPTION'))
      expect(await driver.get(objectMetaKey(digest))).toEqual(row)
    } finally {
      await driver.close()
      await rm(directory, { recursive: true, force: true })
    }
  })
})

describe('the object filter', () => {
  for (const filterBytes of [2 ** 20, 1024]) {
    it(`skips the lookup of objects never stored, and stays exact about stored and erased ones (${filterBytes} bytes)`, async () => {
      const directory = await mkdtemp(join(tmpdir(), 'annal-objects-filter-'))
      const path = join(directory, 'db')
      const events = Array.from({ length: 4000 }, (_, i) => utf8.encode(`{"event":${i}}`))
      let driver = await LevelDriver.open(path)
      let objects = new LedgerObjects(driver, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date() })
      const { hash: secret } = await objects.put(utf8.encode('secret'))
      await objects.markErased(secret, { erasedAt: 'now', reason: 'request', log: 'audit', index: 0 })
      await objects.putMany(events.slice(0, 2000).map((bytes) => ({ bytes })))
      await driver.close()
      driver = await LevelDriver.open(path)
      const asked: number[] = []
      const counting = wrapped(driver, {
        getMany: (keys) => {
          asked.push(keys.length)
          return driver.getMany(keys)
        },
      })
      objects = new LedgerObjects(counting, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date(), filterBytes })
      try {
        await objects.fillFilter()
        const results = await objects.putMany(events.map((bytes) => ({ bytes })))
        expect(results.map((result) => result.duplicate)).toEqual(events.map((_, i) => i < 2000))
        await expect(objects.put(utf8.encode('secret'))).rejects.toThrow(code('OBJECT_ERASED'))
        expect((await objects.putMany(events.slice(3900).map((bytes) => ({ bytes })))).every((r) => r.duplicate)).toBe(true)
        const lookups = asked.reduce((sum, n) => sum + n, 0)
        // Each stored object is looked up (2,000 + the erased one + 100 repeats). A 1 MiB filter
        // rules out nearly every new one; a 1 KiB one holding 2,001 hashes is crowded and lets about
        // a quarter through, which costs lookups and changes no answer.
        if (filterBytes === 2 ** 20) expect(lookups).toBeLessThan(2101 + 10)
        else expect(lookups).toBeGreaterThan(2101 + 200)
      } finally {
        await objects.close()
        await driver.close()
        await rm(directory, { recursive: true, force: true })
      }
    })
  }
})
