import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import type { StorageDriver, WriteOp } from './driver.js'
import { LevelDriver } from './level-driver.js'
import { FaultDriver, Faults, levelIoError, noSpaceError } from './testing/fault-driver.js'
import { driverSuite } from './testing/driver.suite.js'
import { type DriverWrite, RecoveringDriver, type WriteHealth } from './recovering-driver.js'

const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function directory(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'annal-recovering-'))
  cleanups.push(() => rm(path, { recursive: true, force: true }))
  return path
}

async function level(): Promise<{ driver: LevelDriver; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'annal-recovering-'))
  const driver = await LevelDriver.open(join(path, 'db'))
  return { driver, cleanup: async () => { await driver.close(); await rm(path, { recursive: true, force: true }) } }
}

// Both wrappers must be invisible to their users while nothing fails.
driverSuite('RecoveringDriver over LevelDriver', async () => {
  const { driver, cleanup } = await level()
  return { driver: new RecoveringDriver(driver), cleanup }
})
driverSuite('FaultDriver over LevelDriver, healthy', async () => {
  const { driver, cleanup } = await level()
  return { driver: new FaultDriver(driver), cleanup }
})

const put = (key: number, value = 1): WriteOp => ({ type: 'put', key: Uint8Array.of(key), value: Uint8Array.of(value) })

/** Polls `condition` every 10 ms; throws after 20 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; !condition();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A RecoveringDriver over FaultDrivers on LevelDB in a fresh directory, reopened as the options say. */
async function recovering(options: { readonly probe?: () => Promise<void> } = {}) {
  const path = join(await directory(), 'db')
  const faults = new Faults()
  const opened: FaultDriver[] = []
  const open = async () => {
    const driver = new FaultDriver(await LevelDriver.open(path), faults)
    opened.push(driver)
    return driver
  }
  const writes: DriverWrite[] = []
  const healths: WriteHealth[] = []
  const driver = new RecoveringDriver(await open(), {
    reopen: open, probe: options.probe, onWrite: (write) => writes.push(write), onHealth: (health) => healths.push(health),
    firstRetryMs: 5, maxRetryMs: 50,
  })
  cleanups.push(() => driver.close())
  return { driver, faults, opened, writes, healths }
}

it('refuses writes after a write fault, reopens once the fault clears, and writes again on the new handle', async () => {
  const { driver, faults, opened, writes, healths } = await recovering()
  await driver.write([put(1)], { sync: true })
  const full = noSpaceError()
  faults.failWrites(full)
  const failed = await driver.write([put(2)], { sync: true }).catch((error: unknown) => error)
  expect(failed).toMatchObject({ code: 'STORAGE_UNWRITABLE', cause: full })
  expect(driver.health).toMatchObject({ ok: false, error: full, recovering: true })
  // Refused without reaching the database, and reads go on meanwhile.
  await expect(driver.compareAndSwap(Uint8Array.of(3), undefined, Uint8Array.of(3), [])).rejects.toMatchObject({ code: 'STORAGE_UNWRITABLE', cause: full })
  expect(await driver.get(Uint8Array.of(1))).toEqual(Uint8Array.of(1))
  expect(writes.map((write) => write.error)).toEqual([undefined, full])

  faults.heal()
  await until(() => driver.health.ok, 'the driver recovered')
  // The handle that failed stays failed, as LevelDB's does: only a new one could write.
  expect(opened.length).toBeGreaterThan(1)
  await expect(opened[0]!.write([put(9)], { sync: true })).rejects.toBe(full)
  await driver.write([put(4)], { sync: true })
  expect(await driver.getMany([1, 2, 4].map((key) => Uint8Array.of(key)))).toEqual([Uint8Array.of(1), undefined, Uint8Array.of(1)])
  expect(healths.map(({ ok, recovering: retrying }) => ({ ok, retrying }))).toEqual([{ ok: false, retrying: true }, { ok: true, retrying: undefined }])
})

it('runs its checks after reopening, before any write goes through, and retries while they meet storage faults', async () => {
  const { driver, faults } = await recovering()
  const order: string[] = []
  let failChecks = 2
  driver.afterReopen(async () => {
    order.push(`check with writes ${driver.health.ok ? 'open' : 'refused'}`)
    expect(await driver.get(Uint8Array.of(1))).toEqual(Uint8Array.of(1))
    if (failChecks-- > 0) throw levelIoError()
  })
  await driver.write([put(1)], { sync: true })
  faults.failWrites(noSpaceError())
  await driver.write([put(2)], { sync: true }).catch(() => undefined)
  faults.heal()
  await until(() => driver.health.ok, 'the driver recovered')
  expect(order).toEqual(Array(3).fill('check with writes refused'))
})

it('stops recovering for good when a check finds something other than a storage fault', async () => {
  const { driver, faults, healths } = await recovering()
  const lost = Object.assign(new Error('acknowledged entries are gone'), { code: 'CORRUPTION' })
  driver.afterReopen(() => Promise.reject(lost))
  faults.failWrites(noSpaceError())
  await driver.write([put(2)], { sync: true }).catch(() => undefined)
  faults.heal()
  await until(() => driver.health.recovering === false, 'recovery stopped')
  expect(driver.health).toMatchObject({ ok: false, error: lost, recovering: false })
  expect(healths.at(-1)).toBe(driver.health)
  await expect(driver.write([put(3)], { sync: true })).rejects.toMatchObject({ code: 'STORAGE_UNWRITABLE', cause: lost })
})

it('keeps the handle, and serves reads from it, while the probe says the storage still cannot write', async () => {
  let probes = 0
  let probeFails = true
  const { driver, faults, opened } = await recovering({
    probe: async () => {
      probes++
      if (probeFails) throw noSpaceError()
    },
  })
  await driver.write([put(1)], { sync: true })
  faults.failWrites(noSpaceError())
  await driver.write([put(2)], { sync: true }).catch(() => undefined)
  faults.heal()
  await until(() => probes >= 3, 'three probes')
  expect(opened).toHaveLength(1)
  expect(await driver.get(Uint8Array.of(1))).toEqual(Uint8Array.of(1))
  probeFails = false
  await until(() => driver.health.ok, 'the driver recovered')
  expect(opened).toHaveLength(2)
})

it('refuses a write that succeeds on a handle after a write on it failed: the database may lose it', async () => {
  const { driver: db, cleanup } = await level()
  cleanups.push(cleanup)
  // LevelDB writes queued behind a failed one are written after it, and their callers hear so after.
  let failFirst!: (error: Error) => void
  let answerSecond!: () => void
  const answered = new Promise<void>((resolve) => { answerSecond = resolve })
  let secondWritten!: () => void
  const written = new Promise<void>((resolve) => { secondWritten = resolve })
  let calls = 0
  const inner: StorageDriver = Object.assign(Object.create(db) as StorageDriver, {
    write: async (ops: readonly WriteOp[], options: { sync: boolean }) => {
      if (calls++ === 0) return new Promise<void>((_, reject) => { failFirst = reject })
      await db.write(ops, options)
      secondWritten()
      await answered
    },
    close: () => Promise.resolve(),
  })
  const driver = new RecoveringDriver(inner, { firstRetryMs: 60_000, maxRetryMs: 60_000 })
  cleanups.push(() => driver.close())
  const first = driver.write([put(1)], { sync: true }).catch((error: unknown) => error)
  const second = driver.write([put(2)], { sync: true }).catch((error: unknown) => error)
  await until(() => calls === 2, 'both writes reached the handle')
  failFirst(noSpaceError())
  expect(await first).toMatchObject({ code: 'STORAGE_UNWRITABLE' })
  await written
  expect(await db.get(Uint8Array.of(2))).toBeDefined()
  answerSecond()
  expect(await second).toMatchObject({ code: 'STORAGE_UNWRITABLE' })
})

it('recovers through the same handle when it has no way to reopen', async () => {
  const { driver: db, cleanup } = await level()
  cleanups.push(cleanup)
  let failing = true
  const inner: StorageDriver = Object.assign(Object.create(db) as StorageDriver, {
    write: (ops: readonly WriteOp[], options: { sync: boolean }) => (failing ? Promise.reject(noSpaceError()) : db.write(ops, options)),
    close: () => Promise.resolve(),
  })
  const driver = new RecoveringDriver(inner, { firstRetryMs: 5, maxRetryMs: 50 })
  cleanups.push(() => driver.close())
  await expect(driver.write([put(1)], { sync: true })).rejects.toMatchObject({ code: 'STORAGE_UNWRITABLE' })
  failing = false
  await until(() => driver.health.ok, 'the driver recovered')
  await driver.write([put(1)], { sync: true })
})

it('passes a lost compare-and-swap and a malformed write through, leaving the health as it was', async () => {
  const { driver, writes } = await recovering()
  await driver.compareAndSwap(Uint8Array.of(1), undefined, Uint8Array.of(1), [])
  await expect(driver.compareAndSwap(Uint8Array.of(1), undefined, Uint8Array.of(2), [])).rejects.toMatchObject({ code: 'SWAP_CONFLICT' })
  await expect(driver.write([{ type: 'put', key: 'x' } as unknown as WriteOp], { sync: true })).rejects.toBeInstanceOf(TypeError)
  expect(driver.health.ok).toBe(true)
  expect(writes).toHaveLength(3)
})

it('gives read errors of the storage beneath as STORAGE_UNREADABLE, and reads again once they stop', async () => {
  const { driver, faults } = await recovering()
  await driver.write([put(1)], { sync: true })
  const eio = levelIoError()
  faults.failReads(eio)
  await expect(driver.get(Uint8Array.of(1))).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE', cause: eio })
  await expect(driver.getMany([Uint8Array.of(1)])).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE', cause: eio })
  const rows = async () => {
    const out: number[] = []
    for await (const [key] of driver.range({ gte: Uint8Array.of(0), lte: Uint8Array.of(255) })) out.push(key[0]!)
    return out
  }
  await expect(rows()).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE', cause: eio })
  // A read fault is no write fault.
  expect(driver.health.ok).toBe(true)
  faults.heal()
  expect(await rows()).toEqual([1])
})

it('makes reads wait for the handle being opened, and stops recovering on close', async () => {
  const path = join(await directory(), 'db')
  const faults = new Faults()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let reopens = 0
  const driver = new RecoveringDriver(new FaultDriver(await LevelDriver.open(path), faults), {
    reopen: async () => {
      reopens++
      await gate
      return new FaultDriver(await LevelDriver.open(path), faults)
    },
    firstRetryMs: 5, maxRetryMs: 5,
  })
  await driver.write([put(1)], { sync: true })
  faults.failWrites(noSpaceError())
  await driver.write([put(2)], { sync: true }).catch(() => undefined)
  await until(() => reopens === 1, 'a reopen began')
  const read = driver.get(Uint8Array.of(1))
  release()
  expect(await read).toEqual(Uint8Array.of(1))
  await driver.close()
  const reopensAtClose = reopens
  await expect(driver.get(Uint8Array.of(1))).rejects.toMatchObject({ code: 'DATABASE_CLOSED' })
  await expect(driver.write([put(1)], { sync: true })).rejects.toMatchObject({ code: 'DATABASE_CLOSED' })
  expect(reopens).toBe(reopensAtClose)
  expect(await readdir(path)).toContain('LOCK') // closed, not removed
})
