/**
 * @module
 * What the Annal ledger needs of a database: the `StorageDriver` interface (point and batched
 * reads, ordered ranges, atomic writes, compare-and-swap), `LevelDriver` on LevelDB,
 * `RecoveringDriver`, which keeps a database's write health and reopens it after a write fault,
 * and `writeKeyFile` for key files of mode 0600. Every driver proves itself by passing the
 * conformance suite exported as `driverSuite` from `@annal/storage/testing`, where `FaultDriver`
 * fails writes and reads as a full or failing disk does.
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
export { makeDirectory } from './directory.js'
export { writeKeyFile } from './key-file.js'
export { diskFigures, diskUsage } from './disk.js'
export type { DiskFigure, DiskUsage } from './disk.js'
export { RecoveringDriver, writeHealthReason } from './recovering-driver.js'
export type { DriverWrite, RecoveryOptions, WriteHealth } from './recovering-driver.js'
export { describeFault, faultCode, isStorageFault, isWriteFault, probeDirectory } from './faults.js'
