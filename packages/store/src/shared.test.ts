// Two ledgers on one PostgreSQL database, each with a driver of its own, as two `annal serve`
// processes are: appends to both at once, duplicates, new rows and objects across them, and
// logs one creates that the other finds. Both share the key directory, as servers of one
// deployment do.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PostgresDriver } from '@annal/storage-postgres'
import { type TestPostgres, startTestPostgres } from '@annal/storage-postgres/testing'
import { afterAll, beforeAll, beforeEach, afterEach, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import { isStoreError } from './errors.js'

let server: TestPostgres
let directory: string
let ledgers: Ledger[] = []

beforeAll(async () => {
  server = await startTestPostgres()
}, 180_000)

afterAll(async () => {
  await server?.stop()
})

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-shared-'))
})

afterEach(async () => {
  await Promise.all(ledgers.map((ledger) => ledger.close()))
  ledgers = []
  await rm(directory, { recursive: true, force: true })
})

/** Two ledgers on one fresh database, sharing `directory` for their keys. */
async function pair(): Promise<[Ledger, Ledger]> {
  const url = await server.database()
  const open = async () => Ledger.open(directory, { driver: await PostgresDriver.open(url), originPrefix: 'shared.test', followIntervalMs: 50 })
  ledgers = [await open(), await open()]
  return ledgers as [Ledger, Ledger]
}

const utf8 = new TextEncoder()

it('two ledgers on one database append at once: every entry once, one tree, the same checkpoints', async () => {
  const [a, b] = await pair()
  const made = await Promise.allSettled([a.createLog('events'), b.createLog('events')])
  expect(made.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
  await b.catchUp()
  const sent = new Map<string, number>()
  const appendFrom = async (ledger: Ledger, who: string) => {
    for (let round = 0; round < 15; round++) {
      const texts = Array.from({ length: 1 + (round % 4) }, (_, i) => `${who}-${round}-${i}`)
      const results = await Promise.all(texts.map((text) => ledger.log('events').append([utf8.encode(text)])))
      results.forEach((result, i) => sent.set(texts[i]!, result.entries[0]!.index))
    }
  }
  await Promise.all([appendFrom(a, 'a'), appendFrom(b, 'b'), appendFrom(a, 'c'), appendFrom(b, 'd')])
  await Promise.all([a.catchUp(), b.catchUp()])
  const size = sent.size
  for (const ledger of [a, b]) {
    const log = ledger.log('events')
    expect(log.size).toBe(size)
    const texts = (await log.entries(0, size)).map((entry) => new TextDecoder().decode(entry.data))
    expect(new Set(texts).size).toBe(size)
    for (const [text, index] of sent) expect(texts[index]).toBe(text)
  }
  expect(a.log('events').checkpointInfo).toEqual(b.log('events').checkpointInfo)
  // Every checkpoint either issued is consistent with the latest, and fsck finds nothing wrong.
  const report = await a.fsck('events')
  expect(report.problems).toEqual([])
})

it('deduplicates across ledgers: the same bytes appended to each are one entry, and one object', async () => {
  const [a, b] = await pair()
  await a.createLog('events')
  await b.catchUp()
  const first = await a.log('events').append([utf8.encode('same')])
  const second = await b.log('events').append([utf8.encode('same')])
  expect(second.entries[0]).toEqual({ ...first.entries[0], duplicate: true })
  const bytes = utf8.encode('{"payload":1}')
  const [stored] = await a.objects.putMany([{ bytes }])
  const [again] = await b.objects.putMany([{ bytes }])
  expect(stored!.duplicate).toBe(false)
  expect(again).toEqual({ ...stored, duplicate: true })
  // At once from both: one of them stores it.
  const other = utf8.encode('{"payload":2}')
  const both = await Promise.all([a.objects.putMany([{ bytes: other }]), b.objects.putMany([{ bytes: other }])])
  expect(both.map(([result]) => result!.duplicate).sort()).toEqual([false, true])
})

it('a new row is written by one ledger only; the other\'s call is refused whole with ROW_EXISTS', async () => {
  const [a, b] = await pair()
  await a.createLog('events')
  await b.catchUp()
  const attempt = (ledger: Ledger, text: string) => ledger.append([{ log: 'events', entries: [utf8.encode(text)] }],
    { rows: [ledger.table('keys').newRow('k1', utf8.encode(text))] })
  const results = await Promise.allSettled([attempt(a, 'from a'), attempt(b, 'from b')])
  expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected'])
  const refused = results.find((result) => result.status === 'rejected') as PromiseRejectedResult
  expect(isStoreError(refused.reason, 'ROW_EXISTS')).toBe(true)
  await Promise.all([a.catchUp(), b.catchUp()])
  expect(a.log('events').size).toBe(1)
  const winner = new TextDecoder().decode((await a.log('events').entry(0)).data)
  expect(new TextDecoder().decode(await b.table('keys').get('k1'))).toBe(winner)
})

it('a log one ledger creates, the other finds; both creating it at once make one log with one key', async () => {
  const [a, b] = await pair()
  const made = await Promise.allSettled([a.createLog('access'), b.createLog('access')])
  expect(made.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
  for (const result of made) if (result.status === 'rejected') expect(isStoreError(result.reason, 'LOG_EXISTS')).toBe(true)
  await Promise.all([a.catchUp(), b.catchUp()])
  expect(a.log('access').info).toEqual(b.log('access').info)
  const appended = await b.log('access').append([utf8.encode('signed by the one key')])
  await a.catchUp()
  expect(a.log('access').checkpointInfo).toEqual(appended.checkpoint)
  // The other finds a log created later by the follower, without being asked.
  await a.createLog('later')
  await until(() => b.logs().some((log) => log.name === 'later'))
})

/** Polls `condition` every few ms, failing after a bound. */
async function until(condition: () => boolean): Promise<void> {
  for (let attempt = 0; !condition(); attempt++) {
    if (attempt > 1000) throw new Error('condition not met')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
