// A ledger over FaultDrivers that fail as a full or failing disk does (no space on the Nth write,
// an I/O error on reads, a sync that fails after its write landed), each followed by the fault
// clearing: appends must resume without a restart, and a full integrity check must pass, on the
// recovered ledger and after a clean reopen.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDriver, type StorageDriver } from '@annal/storage'
import { FaultDriver, Faults, levelIoError, noSpaceError } from '@annal/storage/testing'
import { defaultHasher, hexToBytes, verifyConsistency, verifyInclusion } from '@annal/tlog'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { encodeHead } from './head.js'
import { headKey } from './keys.js'
import { Ledger } from './ledger.js'
import type { AppendResult } from './log.js'

const utf8 = new TextEncoder()
const LOGS = ['a', 'b'] as const
let directory: string
let faults: Faults
/** What the next reopen does to the handle before the ledger gets it (a test of lost data). */
let onReopen: ((driver: StorageDriver) => Promise<void>) | undefined
let opens: number
let ledger: Ledger

/** Every append the ledger acknowledged, per log: its entries' payloads and results. */
let acknowledged: Map<string, { payload: string; result: AppendResult }[]>
let counter = 0

async function open(): Promise<Ledger> {
  return Ledger.open(directory, {
    originPrefix: 'recovery.test',
    driver: async () => {
      const level = await LevelDriver.open(join(directory, 'db'))
      if (opens++ > 0) await onReopen?.(level)
      return new FaultDriver(level, faults)
    },
    recovery: { firstRetryMs: 5, maxRetryMs: 50 },
  })
}

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-recovery-'))
  faults = new Faults()
  onReopen = undefined
  opens = 0
  acknowledged = new Map(LOGS.map((name) => [name, []]))
  ledger = await open()
  for (const name of LOGS) await ledger.createLog(name)
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

/**
 * `count` appends of one new entry each, to the logs in turn, ten at a time as concurrent
 * callers make them; resolves with those that were refused, counted by error code.
 */
async function appendMany(count: number): Promise<Map<string, number>> {
  const refused = new Map<string, number>()
  for (let done = 0; done < count; done += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - done) }, async (_, i) => {
      const name = LOGS[i % LOGS.length]!
      const payload = `{"n":${counter++}}`
      try {
        const result = await ledger.log(name).append([utf8.encode(payload)])
        acknowledged.get(name)!.push({ payload, result })
      } catch (error) {
        const code = (error as { code?: string }).code ?? String(error)
        refused.set(code, (refused.get(code) ?? 0) + 1)
      }
    }))
  }
  return refused
}

async function recovered(): Promise<void> {
  for (const deadline = Date.now() + 20_000; !ledger.writeHealth.ok;) {
    if (Date.now() > deadline) throw new Error(`the ledger did not recover: ${String(ledger.writeHealth.error)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * The full check: fsck finds nothing (it needs every id row written, so not while the database
 * cannot write); every acknowledged entry is in its log once, at the index
 * it was acknowledged with, and its inclusion proof reaches the latest root; every checkpoint an
 * append was answered with is consistent with the latest.
 */
async function checkIntegrity(checked: Ledger, options: { readonly fsck: boolean } = { fsck: true }): Promise<void> {
  for (const name of LOGS) {
    if (options.fsck) expect((await checked.fsck(name)).problems).toEqual([])
    const log = checked.log(name)
    const entries = await log.entries(0, log.size)
    const indexOf = new Map<string, number[]>()
    entries.forEach((entry) => indexOf.set(entry.id, [...indexOf.get(entry.id) ?? [], entry.index]))
    expect([...indexOf.values()].filter((indexes) => indexes.length > 1)).toEqual([])
    const latest = log.checkpointInfo
    const root = hexToBytes(latest.root)
    for (const { payload, result } of acknowledged.get(name)!) {
      const [entry] = result.entries
      expect(indexOf.get(entry!.id)).toEqual([entry!.index])
      expect(new TextDecoder().decode(entries[entry!.index]!.data)).toBe(payload)
      const proof = await log.inclusionProof(entry!.index)
      verifyInclusion(entry!.index, latest.size, proof.leafHash, proof.proof, root, defaultHasher)
      const { size, root: old } = result.checkpoint
      verifyConsistency(size, latest.size, await log.consistencyProof(size), hexToBytes(old), root, defaultHasher)
    }
  }
}

/** The check again on a ledger opened afresh on what is on disk. */
async function checkAfterReopen(): Promise<void> {
  await ledger.close()
  faults.heal()
  opens = 0
  ledger = await open()
  await checkIntegrity(ledger)
}

it('refuses appends from the Nth write on while the disk is full, and takes them again once it has room', async () => {
  expect(await appendMany(40)).toEqual(new Map())
  faults.failWrites(noSpaceError(), { after: 3 })
  const refused = await appendMany(200)
  expect([...refused.keys()]).toEqual(['STORAGE_UNWRITABLE'])
  expect(ledger.writeHealth).toMatchObject({ ok: false, recovering: true })
  // Reads go on: what was acknowledged is served, and fsck says it cannot check now.
  await checkIntegrity(ledger, { fsck: false })
  await expect(ledger.fsck('a')).rejects.toMatchObject({ code: 'STORAGE_UNWRITABLE' })
  faults.heal()
  await recovered()
  expect(await appendMany(100)).toEqual(new Map())
  expect(opens).toBeGreaterThan(1)
  await checkIntegrity(ledger)
  await checkAfterReopen()
})

it('answers reads that meet an I/O error with STORAGE_UNREADABLE, and appends that need them too, until reads work', async () => {
  expect(await appendMany(40)).toEqual(new Map())
  const [first] = acknowledged.get('a')!
  faults.failReads(levelIoError())
  await expect(ledger.log('a').entry(first!.result.entries[0]!.index)).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE' })
  await expect(ledger.log('a').inclusionProof(0)).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE' })
  // An entry the id filter cannot rule out is looked up, and the lookup fails.
  await expect(ledger.log('a').append([utf8.encode(first!.payload)])).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE' })
  expect(ledger.writeHealth.ok).toBe(true)
  faults.heal()
  const again = await ledger.log('a').append([utf8.encode(first!.payload)])
  expect(again.entries[0]).toMatchObject({ index: first!.result.entries[0]!.index, duplicate: true })
  expect(await appendMany(100)).toEqual(new Map())
  await checkIntegrity(ledger)
  await checkAfterReopen()
})

it('recovers only once reads work again, when a write fault comes with failing reads', async () => {
  expect(await appendMany(40)).toEqual(new Map())
  faults.failWrites(noSpaceError())
  faults.failReads(levelIoError('IO error: /data/db/000005.ldb: Input/output error'))
  expect([...(await appendMany(20)).keys()].every((code) => code.startsWith('STORAGE_UN'))).toBe(true)
  // Writes would go through now, but the check of what the database holds cannot read it.
  faults.failWrites(noSpaceError(), { after: Number.MAX_SAFE_INTEGER })
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect(ledger.writeHealth).toMatchObject({ ok: false, recovering: true })
  faults.heal()
  await recovered()
  expect(await appendMany(100)).toEqual(new Map())
  await checkIntegrity(ledger)
  await checkAfterReopen()
})

it('takes up a batch whose sync failed after it landed: whole, once, and found again by its ids', async () => {
  expect(await appendMany(40)).toEqual(new Map())
  const sizes = LOGS.map((name) => ledger.log(name).size)
  // One batch holding a call to each log: it lands, then its write reports a failure.
  faults.failWrites(levelIoError('IO error: /data/db/000003.log: Input/output error'), { landed: true })
  const calls = LOGS.map((name, i) => ({ log: name, entries: [utf8.encode(`{"landed":${i}}`), utf8.encode(`{"landed":${i},"second":true}`)] }))
  await expect(ledger.append(calls)).rejects.toMatchObject({ code: 'STORAGE_UNWRITABLE' })
  expect(LOGS.map((name) => ledger.log(name).size)).toEqual(sizes)
  faults.heal()
  await recovered()
  // The database held more than was acknowledged: the log now has the landed entries, whole.
  expect(LOGS.map((name) => ledger.log(name).size)).toEqual(sizes.map((size) => size + 2))
  for (const [i, name] of LOGS.entries()) {
    const again = await ledger.log(name).append(calls[i]!.entries)
    expect(again.entries.map((entry) => [entry.index, entry.duplicate])).toEqual([[sizes[i], true], [sizes[i]! + 1, true]])
  }
  expect(await appendMany(100)).toEqual(new Map())
  await checkIntegrity(ledger)
  await checkAfterReopen()
})

it('stops for good, refusing writes, when the reopened database lost what was acknowledged', async () => {
  expect(await appendMany(10)).toEqual(new Map())
  const { size, root, note } = ledger.log('a').checkpointInfo
  const older = encodeHead({ size, root: hexToBytes(root), checkpoint: note })
  expect(await appendMany(10)).toEqual(new Map())
  // The next open finds log a's head rolled back to the older one.
  onReopen = async (level) => {
    await level.write([{ type: 'put', key: headKey('a'), value: older }], { sync: true })
  }
  faults.failWrites(noSpaceError())
  await appendMany(4)
  faults.heal()
  for (const deadline = Date.now() + 20_000; ledger.writeHealth.recovering !== false;) {
    if (Date.now() > deadline) throw new Error('recovery did not stop')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  expect(ledger.writeHealth).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'CORRUPTION' }) })
  expect(String((ledger.writeHealth.error as Error).message)).toMatch(/^log a: the database holds 5 entries, 10 were acknowledged$/)
  expect([...(await appendMany(4)).keys()]).toEqual(['STORAGE_UNWRITABLE'])
})
