import { mkdtemp, readdir, rm } from 'node:fs/promises'
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

it('LevelDriver sizes its write buffer: a small one flushes to table files, the default holds 2 MB', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-driver-'))
  const tables = async (name: string) => (await readdir(join(directory, name))).filter((file) => file.endsWith('.ldb'))
  const fill = async (driver: LevelDriver) => {
    for (let batch = 0; batch < 32; batch++) {
      await driver.write(Array.from({ length: 16 }, (_, i) => ({
        type: 'put' as const, key: Uint8Array.of(batch, i), value: new Uint8Array(4096).fill(i),
      })), { sync: false })
    }
  }
  try {
    await expect(LevelDriver.open(join(directory, 'bad'), { writeBufferBytes: 1024 })).rejects.toThrow(RangeError)
    await expect(LevelDriver.open(join(directory, 'bad'), { writeBufferBytes: 2 ** 31 })).rejects.toThrow(RangeError)
    const small = await LevelDriver.open(join(directory, 'small'), { writeBufferBytes: 2 ** 16 })
    const large = await LevelDriver.open(join(directory, 'large'))
    await Promise.all([fill(small), fill(large)])
    for (let wait = 0; wait < 50 && (await tables('small')).length === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await tables('small')).length).toBeGreaterThan(0)
    expect(await tables('large')).toEqual([])
    expect(await small.get(Uint8Array.of(31, 15))).toEqual(new Uint8Array(4096).fill(15))
    await Promise.all([small.close(), large.close()])
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
