import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { StorageError } from './errors.js'
import { describeFault, faultCode, isStorageFault, isWriteFault, probeDirectory, readFault } from './faults.js'
import { LevelDriver } from './level-driver.js'
import { levelIoError, noSpaceError } from './testing/fault-driver.js'

// As classic-level rejects a write on a full disk, and an open that cannot replay its log.
const levelFull = levelIoError('IO error: /data/db/000003.log: No space left on device')
const levelNotOpen = Object.assign(new Error('Database failed to open'), {
  code: 'LEVEL_DATABASE_NOT_OPEN', cause: levelIoError('IO error: /data/db/000009.ldb: No space left on device'),
})

it('faultCode names the operating system error, also where LevelDB gives it only in its message', () => {
  expect(faultCode(noSpaceError())).toBe('ENOSPC')
  expect(faultCode(levelFull)).toBe('ENOSPC')
  expect(faultCode(levelIoError())).toBe('EIO')
  expect(faultCode(levelIoError('IO error: /data/db/000007.ldb: Read-only file system'))).toBe('EROFS')
  expect(faultCode(levelIoError('IO error: /data/db/000007.ldb: Too many open files'))).toBe('EMFILE')
  expect(faultCode(levelNotOpen)).toBe('ENOSPC')
  expect(faultCode(new StorageError('STORAGE_UNWRITABLE', 'refused', { cause: levelFull }))).toBe('ENOSPC')
  // Else the error's own code, or its name, never its message.
  expect(faultCode(levelIoError('IO error: /data/db/LOCK: something unheard of'))).toBe('LEVEL_IO_ERROR')
  expect(faultCode(new StorageError('STORAGE_UNWRITABLE', 'x', { cause: new StorageError('DATABASE_CLOSED', 'closed') }))).toBe('DATABASE_CLOSED')
  expect(faultCode(new Error('/secret/path'))).toBe('Error')
  expect(faultCode(undefined)).toBe('unknown')
})

it('describeFault gives the message an operator needs, with its code', () => {
  expect(describeFault(new StorageError('STORAGE_UNWRITABLE', 'refused', { cause: levelFull })))
    .toBe('IO error: /data/db/000003.log: No space left on device (ENOSPC)')
  expect(describeFault(noSpaceError())).toBe('ENOSPC: no space left on device, write')
  expect(describeFault(levelNotOpen)).toBe('Database failed to open: IO error: /data/db/000009.ldb: No space left on device (ENOSPC)')
})

it('tells storage faults from lost swaps and misuse', () => {
  for (const fault of [noSpaceError(), levelFull, levelNotOpen, new StorageError('DATABASE_CLOSED', 'closed')]) {
    expect([isWriteFault(fault), isStorageFault(fault)]).toEqual([true, true])
  }
  expect(isWriteFault(new StorageError('SWAP_CONFLICT', 'lost'))).toBe(false)
  expect(isStorageFault(new StorageError('SWAP_CONFLICT', 'lost'))).toBe(false)
  expect(isWriteFault(new TypeError('bad op'))).toBe(false)
  expect(isWriteFault(undefined)).toBe(false)
  expect(isStorageFault(Object.assign(new Error('lost'), { code: 'CORRUPTION' }))).toBe(false)
})

it('probeDirectory writes, syncs and removes a scratch file, and says when it cannot', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-probe-'))
  try {
    await probeDirectory(directory, 3 * 2 ** 20 + 5)
    expect(await readdir(directory)).toEqual([])
    await expect(probeDirectory(join(directory, 'missing'), 1)).rejects.toMatchObject({ code: 'ENOENT' })
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
})

it('readFault gives I/O errors of a read as STORAGE_UNREADABLE, and leaves corruption and Annal\'s errors as they are', async () => {
  const eio = levelIoError()
  expect(readFault(eio)).toMatchObject({ code: 'STORAGE_UNREADABLE', cause: eio })
  expect(readFault(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }))).toMatchObject({ code: 'STORAGE_UNREADABLE' })
  const corrupt = Object.assign(new Error('Corruption: block checksum mismatch'), { code: 'LEVEL_CORRUPTION' })
  expect(readFault(corrupt)).toBe(corrupt)
  const closed = new StorageError('DATABASE_CLOSED', 'closed')
  expect(readFault(closed)).toBe(closed)
  // As LevelDriver gives them: a read of a handle closed under it.
  const directory = await mkdtemp(join(tmpdir(), 'annal-read-fault-'))
  try {
    const driver = await LevelDriver.open(join(directory, 'db'))
    const rows = driver.range({ gte: Uint8Array.of(0), lte: Uint8Array.of(255) })
    await driver.close()
    await expect(driver.get(Uint8Array.of(1))).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE', cause: { code: 'LEVEL_DATABASE_NOT_OPEN' } })
    await expect((async () => { for await (const _ of rows) break })()).rejects.toMatchObject({ code: 'STORAGE_UNREADABLE' })
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
})
