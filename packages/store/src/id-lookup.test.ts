import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { bytesToHex, defaultHasher, hexToBytes } from '@annal/tlog'
import type { StorageDriver } from '@annal/storage'
import { IdLookup } from './id-lookup.js'
import { idKey, indexedKey, logRange } from './keys.js'
import { Ledger, type LedgerOptions } from './index.js'
import { LevelDriver } from '@annal/storage'

const utf8 = new TextEncoder()
const event = (i: number) => utf8.encode(`event ${i}`)
let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-index-'))
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

async function open(options: LedgerOptions = {}): Promise<Ledger> {
  ledger = await Ledger.open(directory, { originPrefix: 'test.example', ...options })
  return ledger
}

describe('the id lookup, written behind the log', () => {
  it('drain writes the rows added while a write was in flight, not only that write', async () => {
    await open()
    const driver = await LevelDriver.open(join(directory, 'lookup'))
    try {
      const lookup = new IdLookup(driver, 'audit', 0)
      const hashes = Array.from({ length: 305 }, (_, i) => defaultHasher.leaf(event(i)))
      // 300 rows are written at once; 5 more come while that write is in flight.
      lookup.add(hashes.slice(0, 300).map(bytesToHex), hashes.slice(0, 300), 0)
      lookup.add(hashes.slice(300).map(bytesToHex), hashes.slice(300), 300)
      await lookup.drain()
      expect(await IdLookup.indexedSize(driver, 'audit')).toBe(305)
    } finally {
      await driver.close()
    }
  })

  it('finds every entry by id at every moment, with a tiny lag bound and tiny index batches', async () => {
    await open({ maxBatchSize: 3, maxLookupLag: 4, lookupBatchSize: 2 })
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const pending = Array.from({ length: 60 }, (_, i) => log.append([event(i % 40)]).then(async (result) => {
      // Looked up the moment the append resolves, whether or not its row is written yet.
      const entry = result.entries[0]!
      expect((await log.entry(entry.id)).index).toBe(entry.index)
      expect((await log.entry(entry.id.slice(0, 12))).index).toBe(entry.index)
      return entry
    }))
    const entries = await Promise.all(pending)
    expect(log.size).toBe(40)
    for (const entry of entries) expect(entry.index).toBe(entries.find((e) => e.id === entry.id)!.index)
    await log.drain()
    expect((await ledger.fsck('audit')).ok).toBe(true)
  })

  it('rebuilds the unindexed tail from the bundles after a stop before the rows were written', async () => {
    await open()
    await ledger.createLog('audit')
    const { entries } = await ledger.log('audit').append(Array.from({ length: 700 }, (_, i) => event(i)))
    await ledger.close()
    // What a crash between the append and the index write leaves: no rows and no marker past 300.
    const db = new Level<Uint8Array, Uint8Array>(join(directory, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const rows = await db.keys({ ...logRange('id', 'audit') }).all()
    expect(rows).toHaveLength(700)
    await db.batch([
      ...entries.slice(300).map((entry) => ({ type: 'del' as const, key: idKey('audit', hexToBytes(entry.id)) })),
      { type: 'put', key: indexedKey('audit'), value: new Uint8Array([0, 0, 0, 0, 0, 0, 1, 44]) },
    ])
    await db.close()

    await open()
    const log = ledger.log('audit')
    for (const entry of [entries[0]!, entries[299]!, entries[300]!, entries[699]!]) {
      expect((await log.entry(entry.id)).index).toBe(entry.index)
    }
    const again = await log.append([event(650)])
    expect(again.entries[0]).toMatchObject({ index: 650, duplicate: true })
    await log.drain()
    expect((await ledger.fsck('audit')).ok).toBe(true)
  })
})

describe('the id filter in front of stored lookups', () => {
  /** A LevelDriver that counts the keys getMany is asked for, and the writes. */
  async function countingDriver(): Promise<{
    driver: StorageDriver; asked: () => number; writes: () => number; close: () => Promise<void>
  }> {
    const inner = await LevelDriver.open(join(directory, 'filter-db'))
    let asked = 0
    let writes = 0
    const driver: StorageDriver = {
      get: (key) => inner.get(key),
      getMany: (keys) => {
        asked += keys.length
        return inner.getMany(keys)
      },
      range: (options) => inner.range(options),
      write: (ops, options) => {
        writes++
        return inner.write(ops, options)
      },
      compareAndSwap: (key, expected, next, ops) => inner.compareAndSwap(key, expected, next, ops),
      compareAndSwapAll: (swaps, ops) => inner.compareAndSwapAll(swaps, ops),
      close: () => inner.close(),
    }
    return { driver, asked: () => asked, writes: () => writes, close: () => inner.close() }
  }

  const leaf = (i: number) => defaultHasher.leaf(event(i))

  it('skips the lookup of new ids once filled from the stored rows, and still finds every stored one', async () => {
    await open()
    const { driver, asked, close } = await countingDriver()
    try {
      const stored = Array.from({ length: 2_000 }, (_, i) => leaf(i))
      const writer = new IdLookup(driver, 'audit', 0)
      writer.add(stored.map(bytesToHex), stored, 0)
      await writer.drain()
      // As after a reopen: a new index over the same rows.
      const index = new IdLookup(driver, 'audit', 2_000)
      const fresh = Array.from({ length: 2_000 }, (_, i) => leaf(10_000 + i))
      // Not filled yet: everything is looked up.
      const before = asked()
      expect(await index.stored(fresh.slice(0, 10))).toEqual({ indexes: new Array(10).fill(undefined), unseen: new Array(10).fill(false) })
      expect(asked() - before).toBe(10)
      await index.fillFilter()
      const mixed = [...stored.slice(0, 1_000), ...fresh]
      const at = asked()
      const found = await index.stored(mixed)
      expect(found.indexes.slice(0, 1_000)).toEqual(Array.from({ length: 1_000 }, (_, i) => i))
      expect(found.indexes.slice(1_000)).toEqual(new Array(2_000).fill(undefined))
      // Stored ids are never called unseen; new ones are, but for the filter's false positives.
      expect(found.unseen.slice(0, 1_000).some(Boolean)).toBe(false)
      expect(found.unseen.slice(1_000).filter(Boolean).length).toBeGreaterThan(1_950)
      // The 1,000 stored ids, and a few false positives among the 2,000 new ones.
      expect(asked() - at).toBeGreaterThanOrEqual(1_000)
      expect(asked() - at).toBeLessThan(1_050)
      await index.close()
    } finally {
      await close()
    }
  })

  it('keeps deduplication exact with a filter far too small, across a reopen', async () => {
    await open({ idFilterBytes: 1024, maxBatchSize: 50 })
    await ledger.createLog('audit')
    const first = await ledger.log('audit').append(Array.from({ length: 3_000 }, (_, i) => event(i)))
    await ledger.close()
    await open({ idFilterBytes: 1024, maxBatchSize: 50 })
    const log = ledger.log('audit')
    const again = await Promise.all(Array.from({ length: 60 }, (_, i) => log.append([event(i * 50), event(5_000 + i)])))
    for (const [i, result] of again.entries()) {
      expect(result.entries[0]).toMatchObject({ index: first.entries[i * 50]!.index, duplicate: true })
      expect(result.entries[1]).toMatchObject({ duplicate: false })
    }
    expect(log.size).toBe(3_060)
    await log.drain()
    expect((await ledger.fsck('audit')).ok).toBe(true)
  })

  it('holds the ids appended since open: once their rows are written, a repeat is still a duplicate', async () => {
    await open({ lookupBatchSize: 100 })
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const first = await log.append(Array.from({ length: 500 }, (_, i) => event(i)))
    await log.drain()
    // Rows written and the in-memory tail released: only storage (behind the filter) knows them.
    await log.append([event(9_999)])
    const again = await log.append(Array.from({ length: 500 }, (_, i) => event(i)))
    expect(again.entries.every((entry, i) => entry.duplicate && entry.index === first.entries[i]!.index)).toBe(true)
    expect(log.size).toBe(501)
  })

  it('stops filling when the ledger closes at once after opening', async () => {
    await open()
    await ledger.createLog('audit')
    await ledger.log('audit').append(Array.from({ length: 20_000 }, (_, i) => event(i)))
    await ledger.close()
    await open()
    await ledger.close()
    await open()
    expect((await ledger.log('audit').append([event(7)])).entries[0]).toMatchObject({ index: 7, duplicate: true })
  })

  it('writes the rows of small appends together, a moment later; drain and a full batch write at once', async () => {
    await open()
    const { driver, writes, close } = await countingDriver()
    const stored = async () => (await driver.get(indexedKey('audit'))) ?? new Uint8Array(8)
    try {
      const index = new IdLookup(driver, 'audit', 0, { lookupBatchSize: 100 })
      for (let i = 0; i < 5; i++) index.add([bytesToHex(leaf(i))], [leaf(i)], i)
      expect(writes()).toBe(0)
      for (let wait = 0; wait < 100 && writes() === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 5))
      await index.drain()
      // Five appends, one write, covering all five.
      expect(writes()).toBe(1)
      expect(await stored()).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 5))
      index.add([bytesToHex(leaf(5))], [leaf(5)], 5)
      await index.drain()
      expect(writes()).toBe(2)
      // A full batch does not wait.
      const batch = Array.from({ length: 100 }, (_, i) => leaf(6 + i))
      index.add(batch.map(bytesToHex), batch, 6)
      expect(writes()).toBe(3)
      await index.drain()
      expect(await stored()).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 106))
    } finally {
      await close()
    }
  })

  it('refuses a negative filter size', async () => {
    await expect(open({ idFilterBytes: -1 })).resolves.toBeDefined()
    await expect(ledger.createLog('audit')).rejects.toThrow(RangeError)
  })
})
