import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { idKey, indexedKey, logRange } from './keys.js'
import { Ledger, type LedgerOptions } from './index.js'
import { hexToBytes } from '@annal/tlog'

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
  ledger = await Ledger.open(directory, { host: 'test.example', ...options })
  return ledger
}

describe('the id index, written behind the log', () => {
  it('finds every entry by id at every moment, with a tiny lag bound and tiny index batches', async () => {
    await open({ maxBatchSize: 3, maxIndexLag: 4, indexBatchSize: 2 })
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
