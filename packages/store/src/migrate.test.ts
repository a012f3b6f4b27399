// Moving a LevelDB ledger into PostgreSQL: every row copied, and the copy checked against the
// original, log by log and checkpoint by checkpoint, from the copy's own tiles.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type StorageDriver, type WriteOp } from '@annal/storage'
import { PostgresDriver } from '@annal/storage-postgres'
import { type TestPostgres, startTestPostgres } from '@annal/storage-postgres/testing'
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import { migrateLedger } from './migrate.js'

let server: TestPostgres
let directory: string

beforeAll(async () => {
  server = await startTestPostgres()
}, 180_000)

afterAll(async () => {
  await server?.stop()
})

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-migrate-'))
  // Two logs, many checkpoints (a call each), entries past a full tile and an object and a row.
  const ledger = await Ledger.open(directory, { originPrefix: 'migrate.test' })
  await ledger.createLog('events')
  await ledger.createLog('other')
  const utf8 = new TextEncoder()
  for (let batch = 0; batch < 30; batch++) {
    await ledger.log('events').append(Array.from({ length: 1 + batch }, (_, i) => utf8.encode(`event ${batch}/${i}`)))
  }
  await ledger.append([{ log: 'other', entries: [utf8.encode('with an object')] }],
    { objects: ledger.objects.hashed([{ bytes: utf8.encode('payload') }]), rows: [ledger.table('t').row('k', utf8.encode('v'))] })
  await ledger.close()
})

afterEach(async () => {
  await rm(directory, { recursive: true, force: true })
})

it('copies every row and checks every checkpoint; the copy serves the same log', async () => {
  const url = await server.database()
  const done = await migrateLedger(directory, await PostgresDriver.open(url))
  expect(done.logs).toEqual([
    { name: 'events', size: 465, checkpoints: 31 },
    { name: 'other', size: 1, checkpoints: 2 },
  ])
  const copy = await Ledger.open(directory, { driver: await PostgresDriver.open(url) })
  try {
    const log = copy.log('events')
    expect(new TextDecoder().decode((await log.entry(464)).data)).toBe('event 29/29')
    expect((await log.entry((await log.entry(3)).id)).index).toBe(3)
    expect((await copy.fsck('events')).problems).toEqual([])
    expect(new TextDecoder().decode(await copy.table('t').get('k'))).toBe('v')
    const appended = await log.append([new TextEncoder().encode('after the move')])
    expect(appended.entries[0]!.index).toBe(465)
  } finally {
    await copy.close()
  }
  // Into a database that holds a ledger: refused, nothing written.
  await expect(migrateLedger(directory, await PostgresDriver.open(url))).rejects.toMatchObject({ code: 'LOG_EXISTS' })
})

it('fails when the copy differs: a tile changed on its way', async () => {
  const target = corrupting(await PostgresDriver.open(await server.database()))
  await expect(migrateLedger(directory, target)).rejects.toMatchObject({ code: 'PROOF_ROOT_MISMATCH' })
})

/** A driver that flips a byte of the first full hash tile (a `T` row of 16 KiB) it is given to write. */
function corrupting(inner: PostgresDriver): StorageDriver {
  let done = false
  const flip = (ops: readonly WriteOp[]): WriteOp[] => ops.map((op) => {
    if (done || op.type !== 'put' || op.key[0] !== 0x54 || op.value.length < 16_000) return op
    done = true
    const value = op.value.slice()
    value[100] = value[100]! ^ 1
    return { ...op, value }
  })
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'write') return (ops: readonly WriteOp[], options: { sync: boolean }) => target.write(flip(ops), options)
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
