import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { LevelDriver } from './level-driver.js'
import { driverSuite } from './testing/driver.suite.js'

driverSuite('LevelDriver', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-driver-'))
  const driver = await LevelDriver.open(join(directory, 'db'))
  return {
    driver,
    cleanup: async () => {
      await driver.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
})

it('LevelDriver keeps what it wrote across close and reopen, and locks out a second open', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-driver-'))
  try {
    const first = await LevelDriver.open(join(directory, 'db'))
    await expect(LevelDriver.open(join(directory, 'db'))).rejects.toThrow(expect.objectContaining({ code: 'DATABASE_LOCKED' }))
    await first.compareAndSwap(Uint8Array.of(1), undefined, Uint8Array.of(2), [{ type: 'put', key: Uint8Array.of(3), value: Uint8Array.of(4) }])
    await first.close()
    const second = await LevelDriver.open(join(directory, 'db'))
    expect(await second.getMany([Uint8Array.of(1), Uint8Array.of(3)])).toEqual([Uint8Array.of(2), Uint8Array.of(4)])
    await second.close()
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
})

it('LevelDriver takes a bound on open table files, and refuses one LevelDB cannot work with', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-driver-'))
  try {
    await expect(LevelDriver.open(join(directory, 'db'), { maxOpenFiles: 8 })).rejects.toThrow(RangeError)
    await expect(LevelDriver.open(join(directory, 'db'), { maxOpenFiles: 1.5 })).rejects.toThrow(RangeError)
    const bounded = await LevelDriver.open(join(directory, 'db'), { maxOpenFiles: 64 })
    await bounded.write([{ type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(2) }], { sync: true })
    expect(await bounded.get(Uint8Array.of(1))).toEqual(Uint8Array.of(2))
    await bounded.close()
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
})
