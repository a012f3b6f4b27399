// /metrics on its own listener over a real app, ledger and LevelDB, scraped over HTTP and parsed:
// the counts move with appends and refusals, and labels carry route patterns and known logs only.
import { type Sample, sampleValue, scrape } from '@annal/http/testing'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { appMetrics } from './app.js'
import { metricsApp } from './metrics.js'
import { type RunningServer, serve } from './serve.js'
import { type LiveHarness, bearer, liveHarness } from './testing/fixture.js'

let live: LiveHarness
let metricsServer: RunningServer
let appender: Record<string, string>

beforeEach(async () => {
  live = await liveHarness({ app: { metrics: true } })
  await live.ledger.createLog('audit')
  metricsServer = await serve(metricsApp(appMetrics(live.app)!))
  appender = bearer(await live.mint.token({ scope: 'log:append' }))
})

afterEach(async () => {
  await metricsServer.close()
  await live.close()
})

const metrics = (): Promise<Sample[]> => scrape(`${metricsServer.url}/metrics`)

function append(log: string, headers: Record<string, string> = appender): Promise<Response> {
  return fetch(live.url(`/v1/logs/${log}/entries`), {
    method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '{"actor":"alice"}',
  })
}

it('counts appends and refusals by log, outcome, route and status, with latency and batch sizes', async () => {
  for (let i = 0; i < 3; i++) expect((await append('audit')).status).toBe(201)
  expect((await append('audit', {})).status).toBe(401)
  expect((await append('no-such-log-4f1c')).status).toBe(404)
  const ndjson = await fetch(live.url('/v1/logs/audit/entries'), {
    method: 'POST', headers: { ...appender, 'Content-Type': 'application/x-ndjson' }, body: '{"a":1}\n{"a":2}\n',
  })
  expect(ndjson.status).toBe(201)
  expect((await fetch(live.url('/v1/logs/audit/checkpoint'))).status).toBe(200)
  expect((await fetch(live.url('/no/such/route/9d2e'))).status).toBe(404)

  const samples = await metrics()
  const value = (name: string, labels: Record<string, string> = {}) => sampleValue(samples, name, labels)
  const appendRoute = { method: 'POST', route: '/v1/logs/:log/entries' }
  expect(value('annal_http_requests_total', { ...appendRoute, status: '201' })).toBe(4)
  expect(value('annal_http_requests_total', { ...appendRoute, status: '401' })).toBe(1)
  expect(value('annal_http_requests_total', { ...appendRoute, status: '404' })).toBe(1)
  expect(value('annal_http_requests_total', { method: 'GET', route: '/v1/logs/:log/checkpoint', status: '200' })).toBe(1)
  expect(value('annal_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1)
  expect(value('annal_appends_total', { log: 'audit', outcome: 'appended' })).toBe(4)
  expect(value('annal_appends_total', { log: 'audit', outcome: 'TOKEN_MISSING' })).toBe(1)
  expect(value('annal_appends_total', { log: '', outcome: 'LOG_NOT_FOUND' })).toBe(1)
  expect(value('annal_append_duration_seconds_count', { log: 'audit' })).toBe(4)
  expect(value('annal_append_duration_seconds_bucket', { log: 'audit', le: '+Inf' })).toBe(4)
  expect(value('annal_entries_appended_total', { log: 'audit' })).toBe(5)
  expect(value('annal_log_entries', { log: 'audit' })).toBe(5)
  expect(value('annal_checkpoint_size', { log: 'audit' })).toBe(5)
  expect(value('annal_checkpoint_age_seconds', { log: 'audit' })).toBe(0)
  // A record for each append and for each refused request that carried a token.
  const records = value('annal_access_log_records_total', { outcome: 'written' })!
  expect(records).toBe(live.ledger.log('access').size)
  expect(value('annal_entries_appended_total', { log: 'access' })).toBe(records)
  expect(value('annal_append_batch_entries_count')).toBeGreaterThanOrEqual(1)
  expect(value('annal_append_batch_entries_sum')).toBeGreaterThanOrEqual(5 + 4)
  expect(value('annal_storage_write_duration_seconds_count', { sync: 'true' })).toBeGreaterThanOrEqual(5)
  expect(value('annal_storage_writable')).toBe(1)
  expect(value('annal_storage_disk_bytes')).toBeGreaterThan(0)
  expect(value('annal_storage_filesystem_avail_bytes')).toBeGreaterThan(0)
  expect(value('process_resident_memory_bytes')).toBeGreaterThan(0)
  // No label holds what a client chose: the unknown log's name and path appear nowhere.
  const labelValues = samples.flatMap((s) => Object.values(s.labels))
  expect(labelValues.some((v) => v.includes('4f1c') || v.includes('9d2e'))).toBe(false)

  expect((await append('audit')).status).toBe(201)
  const after = await metrics()
  expect(sampleValue(after, 'annal_appends_total', { log: 'audit', outcome: 'appended' })).toBe(5)
  expect(sampleValue(after, 'annal_log_entries', { log: 'audit' })).toBe(6)
})

it('is served on its own listener only, never on the API port', async () => {
  expect((await fetch(live.url('/metrics'))).status).toBe(404)
  const response = await fetch(`${metricsServer.url}/metrics`)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
})
