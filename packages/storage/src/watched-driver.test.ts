import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { StorageError } from './errors.js'
import { LevelDriver } from './level-driver.js'
import { FaultDriver, noSpaceError } from './testing/fault-driver.js'
import { driverSuite } from './testing/driver.suite.js'
import { type DriverWrite, WatchedDriver, isWriteFault, probeWrite } from './watched-driver.js'

async function level(): Promise<{ driver: LevelDriver; cleanup: () => Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-watched-'))
  const driver = await LevelDriver.open(join(directory, 'db'))
  return { driver, cleanup: async () => { await driver.close(); await rm(directory, { recursive: true, force: true }) } }
}

// Both wrappers must be invisible to their users while nothing fails.
driverSuite('WatchedDriver over LevelDriver', async () => {
  const { driver, cleanup } = await level()
  return { driver: new WatchedDriver(driver, () => undefined), cleanup }
})
driverSuite('FaultDriver over LevelDriver, healthy', async () => {
  const { driver, cleanup } = await level()
  return { driver: new FaultDriver(driver), cleanup }
})

it('WatchedDriver reports each write as it settles and keeps the health its faults and successes give', async () => {
  const { driver, cleanup } = await level()
  try {
    const faulty = new FaultDriver(driver)
    const writes: DriverWrite[] = []
    const watched = new WatchedDriver(faulty, (write) => writes.push(write))
    const put = { type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(2) } as const
    await watched.write([put], { sync: false })
    await watched.compareAndSwap(Uint8Array.of(3), undefined, Uint8Array.of(4), [])
    const full = noSpaceError()
    faulty.failWrites(full, { after: 1 })
    await watched.compareAndSwapAll([{ key: Uint8Array.of(5), expected: undefined, next: Uint8Array.of(6) }], [])
    expect(watched.health.ok).toBe(true)
    await expect(watched.write([put], { sync: true })).rejects.toBe(full)
    expect(watched.health).toMatchObject({ ok: false, error: full })
    await expect(probeWrite(watched)).rejects.toBe(full)
    faulty.heal()
    await expect(watched.compareAndSwap(Uint8Array.of(3), undefined, Uint8Array.of(9), [])).rejects.toMatchObject({ code: 'SWAP_CONFLICT' })
    expect(watched.health.ok).toBe(false)
    await probeWrite(watched)
    expect(watched.health.ok).toBe(true)
    expect(writes.map(({ sync, error }) => ({ sync, error }))).toEqual([
      { sync: false, error: undefined }, { sync: true, error: undefined }, { sync: true, error: undefined },
      { sync: true, error: full }, { sync: true, error: full }, { sync: true, error: expect.objectContaining({ code: 'SWAP_CONFLICT' }) },
      { sync: true, error: undefined },
    ])
    expect(writes.every((write) => write.seconds >= 0)).toBe(true)
    // The probe changed nothing: the rows written before are all there is.
    const rows: number[] = []
    for await (const [key] of driver.range({ gte: Uint8Array.of(0), lte: Uint8Array.of(255) })) rows.push(key[0]!)
    expect(rows).toEqual([1, 3, 5])
  } finally {
    await cleanup()
  }
})

it('isWriteFault tells a failing database from a lost swap or a malformed write', () => {
  expect(isWriteFault(noSpaceError())).toBe(true)
  expect(isWriteFault(new StorageError('DATABASE_CLOSED', 'closed'))).toBe(true)
  expect(isWriteFault(new StorageError('SWAP_CONFLICT', 'lost'))).toBe(false)
  expect(isWriteFault(new TypeError('bad op'))).toBe(false)
  expect(isWriteFault(undefined)).toBe(false)
})
