// A witness whose database fails as a full or failing disk does (FaultDrivers under the
// RecoveringDriver that runWitness makes): add-checkpoint answers 503 with Retry-After while it
// cannot store what it would cosign, /readyz says why, the cosigned checkpoint is still served,
// and once the fault clears the witness cosigns again from exactly the state it had
// acknowledged, without a restart.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePrometheus, sampleValue } from '@annal/http/testing'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair, openCheckpoint, parseVerifierKey, verifyCosignatures } from '@annal/note'
import { LevelDriver, RecoveringDriver, type StorageDriver, type WriteHealth } from '@annal/storage'
import { FaultDriver, Faults, levelIoError, noSpaceError } from '@annal/storage/testing'
import type { Hono } from 'hono'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createWitnessApp } from './app.js'
import { WitnessMetrics, metricsApp } from './metrics.js'
import { originHash, stateKey } from './state.js'
import { TestLog } from './testing/log.js'
import { Witness } from './witness.js'

const log = new TestLog('example.com/recovery-log')
log.append(100)
const keys = generateKeyPair('witness.example/recovery', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
let data: string
let faults: Faults
/** What the next reopen does to the handle before the witness gets it (a test of lost state). */
let onReopen: ((driver: StorageDriver) => Promise<void>) | undefined
let driver: RecoveringDriver
let healths: WriteHealth[]
let witness: Witness
let app: Hono
let metrics: WitnessMetrics

beforeEach(async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-witness-recovery-'))
  faults = new Faults()
  onReopen = undefined
  healths = []
  metrics = new WitnessMetrics(join(data, 'db'))
  let opens = 0
  const open = async () => {
    const level = await LevelDriver.open(join(data, 'db'))
    if (opens++ > 0) await onReopen?.(level)
    return new FaultDriver(level, faults)
  }
  driver = new RecoveringDriver(await open(), {
    reopen: open, onWrite: metrics.wrote, onHealth: (health) => healths.push(health), firstRetryMs: 5, maxRetryMs: 50,
  })
  witness = new Witness({ signerKey: keys.signerKey, logs: [{ origin: log.origin, verifierKeys: [log.verifierKey] }], driver })
  metrics.bind(witness)
  app = createWitnessApp(witness, { metrics })
})

afterEach(async () => {
  await witness.close()
  await driver.close()
  await rm(data, { recursive: true, force: true })
})

const post = async (body: string) => app.request('/add-checkpoint', { method: 'POST', body })

async function readyz(): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
  const response = await app.request('/readyz')
  return { status: response.status, body: await response.json() as { status: string; reasons?: string[] } }
}

async function recovered(): Promise<void> {
  for (const deadline = Date.now() + 20_000; (await readyz()).status !== 200;) {
    if (Date.now() > deadline) throw new Error(`the witness did not recover: ${JSON.stringify((await readyz()).body)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The cosigned checkpoint served, checked: the log's checkpoint at `size` with a valid cosignature of this witness. */
async function expectServed(size: number): Promise<void> {
  const response = await app.request(`/${originHash(log.origin)}/checkpoint`)
  expect(response.status).toBe(200)
  const note = await response.text()
  expect(note.startsWith(log.checkpoint(size))).toBe(true)
  expect(verifyCosignatures(openCheckpoint(note, [parseVerifierKey(log.verifierKey)]), [parseVerifierKey(keys.verifierKey)])).toHaveLength(1)
  expect((await witness.latest(log.origin))?.size).toBe(size)
}

async function scrape() {
  return parsePrometheus(await (await metricsApp(metrics).request('/metrics')).text())
}

it('refuses with 503 and Retry-After from the Nth write on while the disk is full, then cosigns on from where it was', async () => {
  expect((await post(log.body(0, 10))).status).toBe(200)
  faults.failWrites(noSpaceError(), { after: 1 })
  expect((await post(log.body(10, 20))).status).toBe(200)
  const refused = await post(log.body(20, 30))
  expect(refused.status).toBe(503)
  expect(refused.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/)
  expect(refused.headers.get('content-type')).toBe('application/problem+json')
  expect(await refused.json()).toMatchObject({ code: 'STORAGE_UNWRITABLE', title: expect.stringMatching(/cannot store/) })
  const notReady = await readyz()
  expect(notReady).toMatchObject({ status: 503, body: { status: 'not ready', reasons: [expect.stringMatching(/^storage: writes fail since \S+: ENOSPC$/)] } })
  expect((await app.request('/healthz')).status).toBe(200)
  await expectServed(20)
  const during = await scrape()
  expect(sampleValue(during, 'annal_storage_writable')).toBe(0)
  expect(sampleValue(during, 'annal_storage_write_errors_total', { code: 'ENOSPC' })).toBe(1)
  // Refused at once, without reaching the database: no more errors counted.
  expect((await post(log.body(20, 30))).status).toBe(503)
  expect(sampleValue(await scrape(), 'annal_storage_write_errors_total', { code: 'ENOSPC' })).toBe(1)

  faults.heal()
  await recovered()
  expect(healths.map((health) => health.ok)).toEqual([false, true])
  expect(sampleValue(await scrape(), 'annal_storage_writable')).toBe(1)
  // The witnessed size is still 20: a request from 10 is told so; from 20 it is cosigned.
  const stale = await post(log.body(10, 30))
  expect([stale.status, await stale.text()]).toEqual([409, '20\n'])
  expect((await post(log.body(20, 30))).status).toBe(200)
  await expectServed(30)
})

it('answers 503 STORAGE_UNREADABLE while reads fail, and cosigns once they work', async () => {
  expect((await post(log.body(0, 10))).status).toBe(200)
  // A failed write drops the witness's copy of its rows: the next request reads them.
  faults.failWrites(noSpaceError())
  expect((await post(log.body(10, 20))).status).toBe(503)
  faults.failReads(levelIoError())
  const unreadable = await post(log.body(10, 20))
  expect(unreadable.status).toBe(503)
  expect(unreadable.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/)
  expect(await unreadable.json()).toMatchObject({ code: 'STORAGE_UNREADABLE' })
  faults.heal()
  await recovered()
  expect((await post(log.body(10, 20))).status).toBe(200)
  await expectServed(20)
})

it('takes up a state whose sync failed after it landed: it was stored, so it is the witnessed one', async () => {
  expect((await post(log.body(0, 10))).status).toBe(200)
  faults.failWrites(levelIoError('IO error: /data/db/000003.log: Input/output error'), { landed: true })
  expect((await post(log.body(10, 20))).status).toBe(503)
  faults.heal()
  await recovered()
  const stale = await post(log.body(10, 30))
  expect([stale.status, await stale.text()]).toEqual([409, '20\n'])
  expect((await post(log.body(20, 30))).status).toBe(200)
  await expectServed(30)
})

it('stops for good when the reopened database lost a state it cosigned: it would risk cosigning a fork', async () => {
  expect((await post(log.body(0, 10))).status).toBe(200)
  expect((await post(log.body(10, 20))).status).toBe(200)
  // The next open finds no state for the origin, as a database rolled back would.
  onReopen = async (level) => {
    await level.write([{ type: 'del', key: stateKey(log.origin) }], { sync: true })
  }
  faults.failWrites(noSpaceError())
  expect((await post(log.body(20, 30))).status).toBe(503)
  faults.heal()
  for (const deadline = Date.now() + 20_000; healths.at(-1)?.recovering !== false;) {
    if (Date.now() > deadline) throw new Error('recovery did not stop')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  expect(String((healths.at(-1)!.error as Error).message)).toBe(`the database lost the state cosigned for ${log.origin}: it holds size none, size 20 was cosigned`)
  expect(await readyz()).toMatchObject({
    status: 503, body: { reasons: [expect.stringMatching(/^storage: writes stopped since \S+: CORRUPTION; restart after finding out why$/)] },
  })
  expect((await post(log.body(0, 30))).status).toBe(503)
})
