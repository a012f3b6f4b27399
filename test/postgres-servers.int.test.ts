// Two `annal serve` processes on one PostgreSQL database take appends at once: both accept
// them, they make one tree, and deduplication, Idempotency-Keys and the access log hold
// across them.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestPostgres, startTestPostgres } from '@annal/storage-postgres/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { type Acknowledged, append, acknowledged, checkLedger, load, serve } from './postgres-cluster.js'
import { killStarted } from './process.js'

let postgres: TestPostgres
let data: string | undefined

beforeAll(async () => {
  postgres = await startTestPostgres()
}, 180_000)

afterAll(async () => {
  await postgres?.stop()
})

afterEach(async () => {
  await killStarted()
  if (data !== undefined) await rm(data, { recursive: true, force: true })
})

it('two servers on one database: both append, one tree, every acknowledged entry once', { timeout: 240_000 }, async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-pg-servers-'))
  const database = await postgres.database()
  const a = await serve(data, database)
  const b = await serve(data, database)
  // The banner names the database without its password.
  expect(a.stdout()).toMatch(/annal serving postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/test_\d+ \(keys in /)
  expect(a.stdout() + b.stdout()).not.toContain(new URL(postgres.url).password)

  const acks = await load([a, b], { clients: 4, requests: 12, tag: 'contended' })
  expect(new Set(acks.map((ack) => ack.index)).size).toBe(acks.length)

  // The same payload through each server: one object, which either server serves.
  const [first] = await acknowledged(await append(a, [{ same: 'payload' }]))
  const [second] = await acknowledged(await append(b, [{ same: 'payload' }]))
  expect(second!.object).toBe(first!.object)
  const object = await fetch(`${a.url}/v1/objects/${second!.object}`, { headers: { authorization: `Bearer ${a.tokens.reader}` } })
  expect(await object.text()).toBe('{"same":"payload"}')

  // One Idempotency-Key sent to both at once: one append, and both answer with it.
  const keyed = await Promise.all([a, b].map((server) => append(server, [{ keyed: true }], { 'idempotency-key': 'once' })))
  expect(keyed.map((response) => response.status)).toEqual([201, 201])
  expect(keyed.map((response) => response.headers.get('idempotent-replayed')).sort()).toEqual([null, 'true'])
  const [one, other] = await Promise.all(keyed.map((response) => response.text()))
  expect(other).toBe(one)

  // An entry appended through one server is read through the other at once.
  const latest = JSON.parse(one!) as Acknowledged
  const read = await fetch(`${b.url}/v1/logs/audit/entries/${latest.index}`, { headers: { authorization: `Bearer ${b.tokens.reader}` } })
  expect(((await read.json()) as { id: string }).id).toBe(latest.id)

  const { size } = await checkLedger(data, database, [...acks, first!, second!, latest])
  expect(size).toBe(acks.length + 3)

  // A token revoked through one server is refused by the other soon after.
  const revoked = await fetch(`${a.url}/v1/admin/revocations`, {
    method: 'POST', body: JSON.stringify({ sub: 'dev-reader', reason: 'test' }),
    headers: { authorization: `Bearer ${a.tokens.admin}`, 'content-type': 'application/json' },
  })
  expect(revoked.status).toBe(201)
  const readThroughB = async () => (await fetch(`${b.url}/v1/logs/audit/entries/0`, { headers: { authorization: `Bearer ${b.tokens.reader}` } })).status
  for (let attempt = 0; await readThroughB() !== 401; attempt++) {
    if (attempt > 500) throw new Error('the other server still takes the revoked token')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
})
