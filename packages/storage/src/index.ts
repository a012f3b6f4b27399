/**
 * @module
 * What the Annal ledger needs of a database: the `StorageDriver` interface (point and batched
 * reads, ordered ranges, atomic writes, compare-and-swap), `LevelDriver` on LevelDB, and
 * `writeKeyFile` for key files of mode 0600. Every driver proves itself by passing the
 * conformance suite exported as `driverSuite` from `@annal/storage/testing`.
 * @example
 * import { mkdtemp, rm } from 'node:fs/promises'
 * import { tmpdir } from 'node:os'
 * import { join } from 'node:path'
 * import { LevelDriver } from '@annal/storage'
 *
 * const directory = await mkdtemp(join(tmpdir(), 'annal-example-'))
 * const driver = await LevelDriver.open(join(directory, 'db'))
 * try {
 *   const key = new TextEncoder().encode('head')
 *   await driver.compareAndSwap(key, undefined, Uint8Array.of(1), [])   // throws StorageError SWAP_CONFLICT if taken
 *   const [value] = await driver.getMany([key])
 *   if (value?.[0] !== 1) throw new Error('not written')
 * } finally {
 *   await driver.close()
 *   await rm(directory, { recursive: true, force: true })
 * }
 */
export { STORAGE_ERROR_CODES, StorageError, isStorageError } from './errors.js'
export type { StorageErrorCode } from './errors.js'
export type { RangeOptions, StorageDriver, Swap, Unlock, WriteOp } from './driver.js'
export { DEFAULT_WRITE_BUFFER_BYTES, LevelDriver } from './level-driver.js'
export { writeKeyFile } from './key-file.js'
export { diskFigures, diskUsage } from './disk.js'
export type { DiskFigure, DiskUsage } from './disk.js'
export { WatchedDriver, isWriteFault, probeWrite } from './watched-driver.js'
export type { DriverWrite, WriteHealth } from './watched-driver.js'
