// Two `annal serve` processes on one PostgreSQL database under mixed JSON and NDJSON appends:
// kill -9 one of them, then the database (and start it again), then both. After each, every
// acknowledged entry is in the log once at its index, there is one tree, and every checkpoint
// an append was answered with is the stored one of its size and consistent with the latest.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestPostgres, startTestPostgres } from '@annal/storage-postgres/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { type Acknowledged, type Server, append, checkLedger, load, serve } from './postgres-cluster.js'
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

/** Load on `servers` until `fault` has run once `acks` holds at least `before` entries; then load stops. */
async function faultUnderLoad(servers: readonly Server[], tag: string, before: number, fault: () => Promise<void>): Promise<Acknowledged[]> {
  let stop = false
  const acks: Acknowledged[] = []
  const loading = (async () => {
    // Each round is bounded; rounds go on until the fault has run.
    for (let round = 0; !stop && round < 200; round++) {
      acks.push(...await load(servers, { clients: 3, requests: 4, tag: `${tag}-${round}`, stop: () => stop }))
    }
  })()
  await until(() => acks.length >= before, `${before} acknowledged entries before the fault`)
  await fault()
  stop = true
  await loading
  return acks
}

/** Appends through `server` until one is answered 201 (the database may still be starting). */
async function appendsAgain(server: Server): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let last = ''
    const response = await append(server, [{ probe: attempt }]).catch((error: unknown) => { last = String(error) })
    if (response !== undefined) last = `${response.status} ${await response.text()}`
    if (response?.status === 201) return
    if (attempt > 600) throw new Error(`no append succeeded after the fault: ${last}\n${server.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; !condition(); attempt++) {
    if (attempt > 3000) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

it('kill -9 a server, then the database, then both: every acknowledged entry once, one tree', { timeout: 600_000 }, async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-pg-faults-'))
  const database = await postgres.database()
  let a = await serve(data, database)
  const b = await serve(data, database)
  const acks: Acknowledged[] = []

  // One server killed under load: the other goes on; the killed one starts again on the same tree.
  acks.push(...await faultUnderLoad([a, b], 'server', 40, async () => {
    await a.kill()
  }))
  let checked = await checkLedger(data, database, acks)
  expect(checked.size).toBeGreaterThanOrEqual(acks.length)
  a = await serve(data, database)

  // The database killed under load and started again: both servers take appends again.
  acks.push(...await faultUnderLoad([a, b], 'database', acks.length + 40, async () => {
    await postgres.kill()
    await postgres.restart()
    await Promise.all([appendsAgain(a), appendsAgain(b)])
  }))
  checked = await checkLedger(data, database, acks)
  expect(checked.size).toBeGreaterThanOrEqual(acks.length)

  // Both servers killed under load, then started again: the tree goes on from where it was.
  acks.push(...await faultUnderLoad([a, b], 'both', acks.length + 40, async () => {
    await Promise.all([a.kill(), b.kill()])
  }))
  checked = await checkLedger(data, database, acks)
  const again = await Promise.all([serve(data, database), serve(data, database)])
  const after = await load(again, { clients: 2, requests: 3, tag: 'after' })
  expect(after.every((ack) => ack.index >= checked.size)).toBe(true)
  await checkLedger(data, database, [...acks, ...after])
})
