import { isStorageFault } from '@annal/storage'
import { driverSuite } from '@annal/storage/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import pg from 'pg'
import { PostgresDriver, isUnavailable } from './postgres-driver.js'
import { SCHEMA_VERSION } from './schema.js'
import { type TestPostgres, startTestPostgres } from './testing/test-postgres.js'

let server: TestPostgres

beforeAll(async () => {
  server = await startTestPostgres()
}, 180_000)

afterAll(async () => {
  await server?.stop()
})

driverSuite('PostgresDriver', async () => {
  const driver = await PostgresDriver.open(await server.database())
  return { driver, cleanup: () => driver.close() }
})

it('PostgresDriver: two drivers on one database see each other\'s writes, and only one of two swaps wins', async () => {
  const url = await server.database()
  const [first, second] = await Promise.all([PostgresDriver.open(url), PostgresDriver.open(url)])
  try {
    const key = Uint8Array.of(0x48)
    await first.compareAndSwap(key, undefined, Uint8Array.of(1), [])
    expect(await second.get(key)).toEqual(Uint8Array.of(1))
    const results = await Promise.allSettled([
      first.compareAndSwap(key, Uint8Array.of(1), Uint8Array.of(2), []),
      second.compareAndSwap(key, Uint8Array.of(1), Uint8Array.of(3), []),
    ])
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
  } finally {
    await Promise.all([first.close(), second.close()])
  }
})

it('PostgresDriver: creates its tables once, keeps them, and refuses tables of a newer version', async () => {
  const url = await server.database()
  const driver = await PostgresDriver.open(url)
  await driver.write([{ type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(2) }], { sync: true })
  await driver.close()
  const again = await PostgresDriver.open(url)
  expect(await again.get(Uint8Array.of(1))).toEqual(Uint8Array.of(2))
  await again.close()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    expect((await admin.query('select version from annal_schema')).rows).toEqual([{ version: SCHEMA_VERSION }])
    await admin.query('update annal_schema set version = $1', [SCHEMA_VERSION + 1])
  } finally {
    await admin.end()
  }
  await expect(PostgresDriver.open(url)).rejects.toThrow(expect.objectContaining({ code: 'DATABASE_UNSUPPORTED' }))
  await expect(PostgresDriver.open(url)).rejects.toThrow(/upgrade Annal/)
})

it('PostgresDriver refuses calls once closed', async () => {
  const driver = await PostgresDriver.open(await server.database())
  await driver.close()
  await expect(driver.get(Uint8Array.of(1))).rejects.toThrow(expect.objectContaining({ code: 'DATABASE_CLOSED' }))
  await expect(driver.write([], { sync: true })).rejects.toThrow(expect.objectContaining({ code: 'DATABASE_CLOSED' }))
})

it('PostgresDriver.lock: one holder at a time across drivers, in the order asked; a closed holder gives it up', async () => {
  const url = await server.database()
  const [first, second] = await Promise.all([PostgresDriver.open(url), PostgresDriver.open(url)])
  try {
    const order: string[] = []
    const unlock = await first.lock('sequencer')
    const other = await first.lock('another')
    const waiting = second.lock('sequencer').then((release) => {
      order.push('second')
      return release
    })
    // A second lock of the same name waits; nothing else is needed to show it: the first gives it up after noting so.
    await expect(Promise.race([waiting, first.get(Uint8Array.of(1)).then(() => 'not yet')])).resolves.toBe('not yet')
    order.push('first unlocks')
    await unlock()
    const release = await waiting
    expect(order).toEqual(['first unlocks', 'second'])
    await release()
    await other()
    const held = await second.lock('sequencer')
    await second.close()
    const again = await first.lock('sequencer')
    await again()
    void held
  } finally {
    await Promise.all([first.close(), second.close()])
  }
})

it('PostgresDriver: a server that is down or starting up is a storage fault, and the driver carries on once it is back', async () => {
  const url = await server.database()
  const driver = await PostgresDriver.open(url)
  try {
    const key = Uint8Array.of(0x55)
    await driver.write([{ type: 'put', key, value: Uint8Array.of(1) }], { sync: true })
    await server.kill()
    try {
      // A pooled connection's backend can outlive the killed server for a moment and answer.
      const refused = await firstRefusal(() => driver.get(key))
      expect(refused).toMatchObject({ name: 'StorageError', code: 'STORAGE_UNWRITABLE' })
      const failed = await firstRefusal(() => driver.write([{ type: 'put', key: Uint8Array.of(0x56), value: Uint8Array.of(2) }], { sync: true }))
      expect(failed).toMatchObject({ code: 'STORAGE_UNWRITABLE' })
      expect(isStorageFault(failed)).toBe(true)
    } finally {
      await server.restart()
    }
    expect(await driver.get(key)).toEqual(Uint8Array.of(1))
  } finally {
    await driver.close()
  }
})

/** What `call` first rejects with, trying it up to 200 times, 25 ms apart. */
async function firstRefusal(call: () => Promise<unknown>): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    const error = await call().then(() => undefined, (refusal: unknown) => refusal)
    if (error !== undefined) return error
    if (attempt >= 200) throw new Error('the killed server still answered after 200 tries')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

it('isUnavailable: the server down, starting up or out of room, not a statement at fault', () => {
  const state = (code: string) => Object.assign(new Error(code), { code })
  for (const code of ['57P03', '57P01', '08006', '53100', '58030', 'ECONNREFUSED', 'ECONNRESET']) expect(isUnavailable(state(code))).toBe(true)
  expect(isUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true)
  for (const code of ['23505', '42P01', '40P01', 'P0001']) expect(isUnavailable(state(code))).toBe(false)
  expect(isUnavailable(new TypeError('bad'))).toBe(false)
})
