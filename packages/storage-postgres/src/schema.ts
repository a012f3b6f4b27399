import { StorageError } from '@annal/storage'
import type pg from 'pg'

/**
 * The layout this driver reads and writes. A start finds the version in `annal_schema`, creates
 * the tables and functions when there is none, migrates an older one, and refuses a newer one.
 */
export const SCHEMA_VERSION = 1

/**
 * The advisory lock (an arbitrary 64-bit number, "annal" in ASCII) that makes concurrent starts
 * on one database create or migrate the tables one at a time.
 */
const SCHEMA_LOCK = '418581209452'

/** The SQLSTATE annal_swap raises when a key does not hold what was expected (a code of Annal's own). */
export const SWAP_CONFLICT_STATE = 'AN001'

/**
 * Every key and value, in byte order of the keys. Values are hashes, signatures and payloads
 * stored without compression, which would cost CPU and save little. Writes are functions, so
 * that each is one statement, one round trip and one transaction.
 */
const VERSION_1 = [
  'create table annal_rows (key bytea primary key, value bytea not null)',
  'alter table annal_rows alter column value set storage external',
  `create function annal_write(put_keys bytea[], put_values bytea[], del_keys bytea[], synced boolean) returns void
   language plpgsql as $$
   begin
     -- An unsynced write commits without waiting for the WAL flush: a crash may lose it, never part of it.
     if not synced then perform set_config('synchronous_commit', 'off', true); end if;
     delete from annal_rows where key = any(del_keys);
     insert into annal_rows (key, value) select * from unnest(put_keys, put_values)
       on conflict (key) do update set value = excluded.value;
   end $$`,
  `create function annal_swap(swap_keys bytea[], expected bytea[], next bytea[], create_keys bytea[], create_values bytea[],
     put_keys bytea[], put_values bytea[], del_keys bytea[]) returns void
   language plpgsql as $$
   declare
     changed integer;
   begin
     -- Locked in key order, so that two swaps of overlapping keys never deadlock.
     perform 1 from annal_rows where key = any(swap_keys) order by key for update;
     update annal_rows set value = s.next from unnest(swap_keys, expected, next) as s(key, expected, next)
       where annal_rows.key = s.key and annal_rows.value = s.expected;
     get diagnostics changed = row_count;
     if changed <> cardinality(swap_keys) then
       raise exception 'a key no longer holds the expected value' using errcode = '${SWAP_CONFLICT_STATE}';
     end if;
     insert into annal_rows (key, value) select * from unnest(create_keys, create_values) as c(key, value) order by key
       on conflict (key) do nothing;
     get diagnostics changed = row_count;
     if changed <> cardinality(create_keys) then
       raise exception 'a key expected absent is present' using errcode = '${SWAP_CONFLICT_STATE}';
     end if;
     delete from annal_rows where key = any(del_keys);
     insert into annal_rows (key, value) select * from unnest(put_keys, put_values)
       on conflict (key) do update set value = excluded.value;
   end $$`,
]

/**
 * Creates Annal's tables and functions, or migrates them to SCHEMA_VERSION, in one transaction.
 * @throws StorageError DATABASE_UNSUPPORTED when they are of a newer version.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  let failure: Error | undefined
  try {
    await client.query('begin')
    await client.query('select pg_advisory_xact_lock($1)', [SCHEMA_LOCK])
    await client.query('create table if not exists annal_schema (version integer not null)')
    const { rows: [found] } = await client.query<{ version: number }>('select version from annal_schema')
    if (found !== undefined && found.version > SCHEMA_VERSION) {
      throw new StorageError('DATABASE_UNSUPPORTED',
        `the database holds Annal tables of version ${found.version}; this Annal reads version ${SCHEMA_VERSION}: upgrade Annal`)
    }
    if (found === undefined) {
      for (const statement of VERSION_1) await client.query(statement)
      await client.query('insert into annal_schema (version) values ($1)', [SCHEMA_VERSION])
    }
    await client.query('commit')
  } catch (error) {
    await client.query('rollback').catch(() => undefined)
    // A connection whose transaction could not end is closed, not given back.
    failure = error as Error
    throw error
  } finally {
    client.release(failure)
  }
}
