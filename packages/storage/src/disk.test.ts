import { mkdtemp, rm } from 'node:fs/promises'
import { platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { diskUsage } from './disk.js'
import { LevelDriver } from './level-driver.js'

it('diskUsage counts a database\'s bytes and open files, and the room left', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-disk-'))
  const driver = await LevelDriver.open(join(directory, 'db'))
  try {
    const before = await diskUsage(join(directory, 'db'))
    await driver.write([{ type: 'put', key: Uint8Array.of(1), value: new Uint8Array(100_000).fill(7) }], { sync: true })
    const after = await diskUsage(join(directory, 'db'))
    expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(100_000)
    expect(after.filesystemSizeBytes).toBeGreaterThan(0)
    expect(after.filesystemAvailableBytes).toBeLessThanOrEqual(after.filesystemSizeBytes)
    // LevelDB holds its lock file and write-ahead log open at least.
    if (platform() === 'linux') expect(after.openFiles).toBeGreaterThanOrEqual(2)
    await driver.close()
    if (platform() === 'linux') expect((await diskUsage(join(directory, 'db'))).openFiles).toBe(0)
  } finally {
    await driver.close()
    await rm(directory, { recursive: true, force: true })
  }
})
