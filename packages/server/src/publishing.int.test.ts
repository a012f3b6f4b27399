// What the server gives a publisher to object storage: the checkpoint to copy (the one it
// serves) and metrics of how publishing goes; over a real app, ledger and listener.
import { sampleValue, scrape } from '@annal/http/testing'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { Hono } from 'hono'
import { afterEach, expect, it } from 'vitest'
import { appMetrics, appWitnessing } from './app.js'
import { metricsApp } from './metrics.js'
import { type PublishedLog, servedCheckpoint } from './publishing.js'
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

it('shows each log\'s published size and failures in the metrics', async () => {
  let status: PublishedLog[] = [{ log: 'audit', publishedSize: undefined, failures: 2, consecutiveFailures: 2 }]
  const live = await started({ app: { metrics: true, publishing: { status: () => status } } })
  const metrics: RunningServer = await serve(metricsApp(appMetrics(live.app)!))
  closers.push(() => metrics.close())
  const scraped = async () => scrape(`${metrics.url}/metrics`)
  let samples = await scraped()
  expect(sampleValue(samples, 'annal_publish_size', { log: 'audit' })).toBeUndefined()
  expect(sampleValue(samples, 'annal_publish_failures_total', { log: 'audit' })).toBe(2)
  expect(sampleValue(samples, 'annal_publish_consecutive_failures', { log: 'audit' })).toBe(2)
  status = [{ log: 'audit', publishedSize: 600, failures: 2, consecutiveFailures: 0 }]
  samples = await scraped()
  expect(sampleValue(samples, 'annal_publish_size', { log: 'audit' })).toBe(600)
  expect(sampleValue(samples, 'annal_publish_consecutive_failures', { log: 'audit' })).toBe(0)
})

it('has no publishing metrics without a publisher', async () => {
  const live = await started({ app: { metrics: true } })
  expect((await appMetrics(live.app)!.registry.metrics())).not.toContain('annal_publish_')
})

it('gives the checkpoint the API serves: the latest, or a witnessed log\'s newest that meets its policy', async () => {
  const refusing = new Hono()
  refusing.post('/add-checkpoint', (c) => c.text('no', 500))
  const witnessServer = await serve(refusing, { closeGraceMs: 100 })
  closers.push(() => witnessServer.close())
  const { verifierKey } = generateKeyPair('refusing.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
  const live = await started({ app: { witnesses: [{ name: 'refusing.test', url: witnessServer.url, verifierKey }] } })
  closers.push(async () => { await appWitnessing(live.app)?.close() })
  await live.ledger.createLog('audit')
  await live.ledger.createLog('plain')
  const admin = await live.mint.token({ scope: 'log:admin log:append' })
  const policy = await fetch(live.url('/v1/logs/audit/witnessing'), {
    method: 'PUT', headers: { ...bearer(admin), 'Content-Type': 'application/json' },
    body: JSON.stringify({ witnessing: { witnesses: ['refusing.test'], k: 1 }, reason: 'test' }),
  })
  expect(policy.status).toBe(200)
  await live.ledger.log('audit').append([new TextEncoder().encode('a')])
  await live.ledger.log('plain').append([new TextEncoder().encode('b')])
  expect(await servedCheckpoint(live.app, live.ledger.log('audit'))).toBeUndefined()
  const plain = live.ledger.log('plain')
  expect(await servedCheckpoint(live.app, plain)).toEqual({ size: 1, note: await plain.checkpoint() })
  expect((await fetch(live.url('/v1/logs/audit/checkpoint'))).status).toBe(503)
})
