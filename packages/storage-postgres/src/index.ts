/**
 * @module
 * The Annal storage driver on PostgreSQL (`PostgresDriver`), for several `annal serve`
 * processes on one database: keys and values as bytea rows in byte order, atomic writes as
 * transactions, compare-and-swap with row locks. It passes the conformance suite of
 * `@annal/storage/testing` unchanged; `startTestPostgres` in `@annal/storage-postgres/testing`
 * starts a PostgreSQL server for a test file.
 * @example
 * import { PostgresDriver } from '@annal/storage-postgres'
 * import { startTestPostgres } from '@annal/storage-postgres/testing'
 *
 * const server = await startTestPostgres()                     // or any postgres://user:password@host/database
 * const driver = await PostgresDriver.open(await server.database())   // creates or migrates the tables
 * try {
 *   const key = new TextEncoder().encode('head')
 *   await driver.compareAndSwap(key, undefined, Uint8Array.of(1), [])   // throws StorageError SWAP_CONFLICT if taken
 *   const [value] = await driver.getMany([key])
 *   if (value?.[0] !== 1) throw new Error('not written')
 * } finally {
 *   await driver.close()
 *   await server.stop()
 * }
 */
export { PostgresDriver } from './postgres-driver.js'
export type { PostgresDriverOptions } from './postgres-driver.js'
export { SCHEMA_VERSION } from './schema.js'
