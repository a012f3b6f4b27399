import { StorageError } from '@annal/storage'
import type postgres from 'postgres'

/**
 * The layout this driver reads and writes. A start finds the version in `annal_schema`, creates
 * the tables when there is none, migrates an older one, and refuses a newer one.
 */
export const SCHEMA_VERSION = 1

/**
 * The advisory lock (an arbitrary 64-bit number, "annal" in ASCII) that makes concurrent starts
 * on one database create or migrate the tables one at a time.
 */
const SCHEMA_LOCK = 0x616e6e616c

/**
 * Creates Annal's tables, or migrates them to SCHEMA_VERSION, in one transaction.
 * @throws StorageError DATABASE_UNSUPPORTED when the tables are of a newer version.
 */
export async function migrate(sql: postgres.Sql<Record<string, never>>): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${SCHEMA_LOCK})`
    await tx`create table if not exists annal_schema (version integer not null)`
    const [found] = await tx<{ version: number }[]>`select version from annal_schema`
    if (found !== undefined && found.version > SCHEMA_VERSION) {
      throw new StorageError('DATABASE_UNSUPPORTED',
        `the database holds Annal tables of version ${found.version}; this Annal reads version ${SCHEMA_VERSION}: upgrade Annal`)
    }
    if (found?.version === SCHEMA_VERSION) return
    // Every key and value, in byte order of the keys. Values are hashes, signatures and
    // compressed-already payloads: stored without compression, which would cost CPU and save
    // nothing.
    await tx`create table annal_rows (key bytea primary key, value bytea not null)`
    await tx`alter table annal_rows alter column value set storage external`
    await tx`insert into annal_schema (version) values (${SCHEMA_VERSION})`
  })
}
