// The witness's health and metrics over real listeners (runWitness, real LevelDB, real keys),
// scraped and parsed. Readiness under storage faults is in recovery.int.test.ts.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sampleValue, scrape } from '@annal/http/testing'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { runWitness } from './run.js'
import { TestLog } from './testing/log.js'

const log = new TestLog('example.com/metrics-log')
log.append(20)
let data: string

beforeEach(async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-witness-metrics-'))
})

afterEach(async () => {
  await rm(data, { recursive: true, force: true })
})

it('counts add-checkpoint outcomes by status and shows what it cosigned and holds', async () => {
  const witness = await runWitness({ data, name: 'witness.example/metrics', logs: [log.verifierKey], metrics: '127.0.0.1:0' })
  try {
    const post = (body: string) => fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body })
    expect((await post(log.body(0, 10))).status).toBe(200)
    expect((await post(log.body(0, 12))).status).toBe(409)
    expect((await post(log.body(10, 12))).status).toBe(200)
    expect((await fetch(`${witness.url}/readyz`)).status).toBe(200)
    expect((await fetch(`${witness.url}/healthz`)).status).toBe(200)
    // Not on the witness's public listener.
    expect((await fetch(`${witness.url}/metrics`)).status).toBe(404)
    const samples = await scrape(`${witness.metricsUrl}/metrics`)
    expect(sampleValue(samples, 'annal_witness_add_checkpoint_total', { status: '200' })).toBe(2)
    expect(sampleValue(samples, 'annal_witness_add_checkpoint_total', { status: '409' })).toBe(1)
    expect(sampleValue(samples, 'annal_http_requests_total', { method: 'POST', route: '/add-checkpoint', status: '200' })).toBe(2)
    expect(sampleValue(samples, 'annal_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1)
    expect(sampleValue(samples, 'annal_witness_cosigned_size', { origin: log.origin })).toBe(12)
    expect(sampleValue(samples, 'annal_witness_evidence_held', { origin: log.origin })).toBe(0)
    expect(sampleValue(samples, 'annal_storage_write_duration_seconds_count', { sync: 'true' })).toBeGreaterThanOrEqual(2)
    expect(sampleValue(samples, 'annal_storage_writable')).toBe(1)
    expect(sampleValue(samples, 'annal_storage_disk_bytes')).toBeGreaterThan(0)

    // A split view: the same size with another root, signed by the log's key.
    expect((await post(formatFork(12))).status).toBe(409)
    const after = await scrape(`${witness.metricsUrl}/metrics`)
    expect(sampleValue(after, 'annal_witness_evidence_held', { origin: log.origin })).toBe(1)
  } finally {
    await witness.close()
  }
})

/** An add-checkpoint of a checkpoint of size `size` with another root: a fork that differs in its last leaf. */
function formatFork(size: number): string {
  const fork = log.fork(size - 1)
  fork.append(1)
  return fork.body(0, size)
}
