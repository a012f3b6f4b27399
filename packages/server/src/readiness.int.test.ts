// /healthz and /readyz over a real listener: readiness follows the ledger's writes (drivers that
// fail them as a full disk does, then heal, under the ledger's recovery), its closing, and
// witnesses that cannot meet a log's policy.
import { LevelDriver } from '@annal/storage'
import { FaultDriver, Faults, noSpaceError } from '@annal/storage/testing'
import { sampleValue, scrape } from '@annal/http/testing'
import { join } from 'node:path'
import { Hono } from 'hono'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { afterEach, expect, it } from 'vitest'
import { appMetrics, appWitnessing } from './app.js'
import { metricsApp } from './metrics.js'
import { type RunningServer, serve } from './serve.js'
import { type LiveHarness, bearer, liveHarness } from './testing/fixture.js'

const closers: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function started(options: Parameters<typeof liveHarness>[0]): Promise<LiveHarness> {
  const live = await liveHarness(options)
  closers.push(() => live.close())
  return live
}

async function readyz(live: LiveHarness): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
  const response = await fetch(live.url('/readyz'))
  return { status: response.status, body: await response.json() as { status: string; reasons?: string[] } }
}

/** Asks /readyz until it answers `status`; throws after 20 s. */
async function readyzUntil(live: LiveHarness, status: number): Promise<{ status: string; reasons?: string[] }> {
  for (const deadline = Date.now() + 20_000; ;) {
    const answer = await readyz(live)
    if (answer.status === status) return answer.body
    if (Date.now() > deadline) throw new Error(`/readyz kept answering ${answer.status}: ${JSON.stringify(answer.body)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function append(live: LiveHarness, token: string): Promise<Response> {
  return fetch(live.url('/v1/logs/audit/entries'), {
    method: 'POST', headers: { ...bearer(token), 'Content-Type': 'application/json' }, body: '{"actor":"alice"}',
  })
}

it('is not ready while the ledger cannot write, and ready again once it can, without a restart', async () => {
  const faults = new Faults()
  const live = await started({
    app: { metrics: true },
    driver: async (directory) => new FaultDriver(await LevelDriver.open(join(directory, 'db')), faults),
    recovery: { firstRetryMs: 5, maxRetryMs: 50 },
  })
  const metricsServer = await serve(metricsApp(appMetrics(live.app)!))
  closers.push(() => metricsServer.close())
  await live.ledger.createLog('audit')
  const token = await live.mint.token({ scope: 'log:append' })
  expect(await readyz(live)).toEqual({ status: 200, body: { status: 'ready' } })
  expect((await fetch(live.url('/healthz'))).status).toBe(200)

  faults.failWrites(noSpaceError())
  const refused = await append(live, token)
  expect(refused.status).toBe(503)
  expect(refused.headers.get('retry-after')).toBe('5')
  // The ledger cannot write: that, not only the access log, is what the answer says.
  expect(await refused.json()).toMatchObject({ code: 'STORAGE_UNWRITABLE', title: 'The ledger cannot write now; retry later' })
  const failed = await readyz(live)
  expect(failed.status).toBe(503)
  expect(failed.body.status).toBe('not ready')
  expect(failed.body.reasons).toEqual([expect.stringMatching(/^storage: writes fail since \S+: ENOSPC$/)])
  // Alive all the same: a restart is not what it needs.
  expect((await fetch(live.url('/healthz'))).status).toBe(200)
  const during = await scrape(`${metricsServer.url}/metrics`)
  expect(sampleValue(during, 'annal_storage_writable')).toBe(0)
  expect(sampleValue(during, 'annal_storage_write_errors_total', { code: 'ENOSPC' })).toBeGreaterThanOrEqual(1)
  expect(sampleValue(during, 'annal_access_log_records_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1)
  expect(sampleValue(during, 'annal_appends_total', { log: 'audit', outcome: 'STORAGE_UNWRITABLE' })).toBe(1)

  faults.heal()
  expect(await readyzUntil(live, 200)).toEqual({ status: 'ready' })
  expect((await append(live, token)).status).toBe(201)
  expect(sampleValue(await scrape(`${metricsServer.url}/metrics`), 'annal_storage_writable')).toBe(1)
})

it('is not ready once the ledger is closed', async () => {
  const live = await started({})
  await live.ledger.close()
  expect(await readyz(live)).toEqual({ status: 503, body: { status: 'not ready', reasons: ['storage: the ledger is closed'] } })
})

it('is not ready while a witnessed log has fewer witnesses answering than its policy needs', async () => {
  // A witness that refuses every checkpoint.
  const refusing = new Hono()
  refusing.post('/add-checkpoint', (c) => c.text('no', 500))
  const witnessServer: RunningServer = await serve(refusing, { closeGraceMs: 100 })
  closers.push(() => witnessServer.close())
  const { verifierKey } = generateKeyPair('refusing.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
  const live = await started({
    app: { witnesses: [{ name: 'refusing.test', url: witnessServer.url, verifierKey }], witnessing: { pollIntervalMs: 20, backoffMs: 20 } },
  })
  closers.push(async () => { await appWitnessing(live.app)?.close() })
  await live.ledger.createLog('audit')
  const admin = await live.mint.token({ scope: 'log:admin log:append' })
  const policy = await fetch(live.url('/v1/logs/audit/witnessing'), {
    method: 'PUT', headers: { ...bearer(admin), 'Content-Type': 'application/json' },
    body: JSON.stringify({ witnessing: { witnesses: ['refusing.test'], k: 1 }, reason: 'test' }),
  })
  expect(policy.status).toBe(200)
  // Nothing was submitted yet (an empty log is not), so nothing says the witness fails.
  expect((await readyz(live)).status).toBe(200)
  expect((await append(live, admin)).status).toBe(201)
  expect(await readyzUntil(live, 503)).toEqual({ status: 'not ready', reasons: ['witnesses: log audit needs 1, 0 answering'] })
})
