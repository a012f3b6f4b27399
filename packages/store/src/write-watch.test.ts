import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDriver } from '@annal/storage'
import { FaultDriver, Faults, noSpaceError } from '@annal/storage/testing'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import type { LedgerEvent } from './write-watch.js'

const utf8 = new TextEncoder()
let directory: string
let faults: Faults
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-watch-'))
  faults = new Faults()
  ledger = await Ledger.open(directory, {
    originPrefix: 'test.example', driver: async () => new FaultDriver(await LevelDriver.open(join(directory, 'db')), faults),
    recovery: { firstRetryMs: 5, maxRetryMs: 50 },
  })
  await ledger.createLog('a')
  await ledger.createLog('b')
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

it('tells watchers of each batch, with its entries per log, and of each write', async () => {
  const events: LedgerEvent[] = []
  const stop = ledger.watch((event) => events.push(event))
  await ledger.append([{ log: 'a', entries: [utf8.encode('1'), utf8.encode('2')] }, { log: 'b', entries: [utf8.encode('3')] }],
    { objects: ledger.objects.hashed([{ bytes: utf8.encode('x') }]) })
  const batches = events.filter((event) => event.kind === 'batch')
  expect(batches).toEqual([{ kind: 'batch', entries: new Map([['a', 2], ['b', 1]]), error: undefined }])
  expect(events.some((event) => event.kind === 'write' && event.write.sync && event.write.error === undefined)).toBe(true)
  stop()
  await ledger.log('a').append([utf8.encode('4')])
  expect(events.filter((event) => event.kind === 'batch')).toHaveLength(1)
})

it('keeps the write health and tells watchers of its changes: failed from a write the database refused until it recovered', async () => {
  expect(ledger.writeHealth.ok).toBe(true)
  const events: LedgerEvent[] = []
  ledger.watch((event) => events.push(event))
  const full = noSpaceError()
  faults.failWrites(full)
  await expect(ledger.log('a').append([utf8.encode('1')])).rejects.toMatchObject({ code: 'STORAGE_UNWRITABLE', cause: full })
  expect(ledger.writeHealth).toMatchObject({ ok: false, error: full })
  expect(events).toContainEqual({ kind: 'batch', entries: new Map([['a', 1]]), error: expect.objectContaining({ cause: full }) })
  faults.heal()
  for (const deadline = Date.now() + 20_000; !ledger.writeHealth.ok;) {
    if (Date.now() > deadline) throw new Error('the ledger did not recover')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const healths = events.flatMap((event) => (event.kind === 'health' ? [event.health] : []))
  expect(healths.map(({ ok }) => ok)).toEqual([false, true])
  await ledger.log('a').append([utf8.encode('1')])
  expect(ledger.log('a').size).toBe(1)
})

it('is closed once closed', async () => {
  expect(ledger.closed).toBe(false)
  await ledger.close()
  expect(ledger.closed).toBe(true)
})
