import { mkdtemp, rm } from 'node:fs/promises'
import { platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { diskFigures, diskUsage } from './disk.js'
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

it('diskFigures reads the same figures for metrics, and nothing for a directory that is gone', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-disk-'))
  try {
    const figures = diskFigures(directory, 'the test database')
    expect(figures.map((figure) => figure.name)).toEqual([
      'annal_storage_disk_bytes', 'annal_storage_open_files', 'annal_storage_filesystem_avail_bytes', 'annal_storage_filesystem_size_bytes',
    ])
    expect(figures[0]!.help).toBe('Bytes of the test database\'s files.')
    const usage = await diskUsage(directory)
    expect(await figures[0]!.read()).toBe(usage.bytes)
    expect(await figures[3]!.read()).toBe(usage.filesystemSizeBytes)
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
  // A scrape after the directory is gone gets no figure rather than an error.
  expect(await diskFigures(directory, 'gone')[0]!.read()).toBeUndefined()
})
