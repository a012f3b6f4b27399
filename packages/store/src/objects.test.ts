import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nodeHashProvider } from '@annal/crypto-node'
import type { StorageDriver, WriteOp } from './driver.js'
import { objectKey } from './keys.js'
import { Ledger } from './ledger.js'
import { LevelDriver } from './level-driver.js'
import { ObjectStore, parseObjectHash } from './objects.js'

const utf8 = new TextEncoder()
const code = (code: string) => expect.objectContaining({ name: 'TlogError', code })
let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-objects-'))
  ledger = await Ledger.open(directory, { host: 'test.example', maxObjectSize: 100 })
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
    const counting: StorageDriver = {
      get: (key) => driver.get(key),
      getMany: (keys) => driver.getMany(keys),
      range: (options) => driver.range(options),
      compareAndSwap: (key, expected, next, ops) => driver.compareAndSwap(key, expected, next, ops),
      close: () => driver.close(),
      write: (ops: readonly WriteOp[], options: { readonly sync: boolean }) => {
        writes.push(ops.length)
        return driver.write(ops, options)
      },
    }
    const objects = new ObjectStore(counting, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date() })
    try {
      const { hash: secret } = await objects.put(utf8.encode('secret'))
      await objects.markErased(secret, { erasedAt: 'now', reason: 'request', log: 'audit', index: 0 })
      writes.length = 0
      const calls = Array.from({ length: 40 }, (_, i) => objects.putMany([{ bytes: utf8.encode(`event ${i % 20}`) }]))
      const refused = expect(objects.putMany([{ bytes: utf8.encode('new') }, { bytes: utf8.encode('secret') }]))
        .rejects.toThrow(code('OBJECT_ERASED'))
      const results = await Promise.all(calls)
      await refused
      // 20 distinct events, each stored once (two keys each), the repeats reported as duplicates.
      expect(results.filter(([result]) => !result!.duplicate)).toHaveLength(20)
      expect(writes.reduce((sum, ops) => sum + ops, 0)).toBe(40)
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
    const slow: StorageDriver = {
      get: (key) => driver.get(key),
      getMany: (keys) => driver.getMany(keys),
      range: (options) => driver.range(options),
      compareAndSwap: (key, expected, next, ops) => driver.compareAndSwap(key, expected, next, ops),
      close: () => driver.close(),
      write: async (ops: readonly WriteOp[], options: { readonly sync: boolean }) => {
        if (++writes === 2) await new Promise((resolve) => setTimeout(resolve, 100))
        return driver.write(ops, options)
      },
    }
    const objects = new ObjectStore(slow, nodeHashProvider, { maxObjectSize: 1000, clock: () => new Date() })
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
