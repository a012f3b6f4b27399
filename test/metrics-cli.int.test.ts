// `annal serve --metrics` and `annal witness serve --metrics` as real processes: a log witnessed
// by a real witness, both scraped over HTTP and parsed once the witness has cosigned.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Sample, sampleValue, scrape } from '@annal/http/testing'
import { afterEach, expect, it } from 'vitest'
import { killStarted, startAnnal as start } from './process.js'

const directories: string[] = []

afterEach(async () => {
  await killStarted()
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

async function dataDirectory(prefix: string): Promise<string> {
  const data = await mkdtemp(join(tmpdir(), prefix))
  directories.push(data)
  return data
}

/** Scrapes `url` until `done` holds for what it shows; throws after 20 s. */
async function scrapeUntil(url: string, done: (samples: Sample[]) => boolean): Promise<Sample[]> {
  for (const deadline = Date.now() + 20_000; ;) {
    const samples = await scrape(url)
    if (done(samples)) return samples
    if (Date.now() > deadline) throw new Error(`${url} did not show what was waited for`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

it('shows appends, cosignatures and add-checkpoint outcomes on both metrics listeners', async () => {
  const data = await dataDirectory('annal-metrics-cli-')
  const first = start(['serve', '--dev', '--data', data, '--port', '0'], /log "audit" verifier key: (\S+)\n/)
  const logKey = (await first.matched)[1]!
  first.child.kill('SIGTERM')
  await first.exited
  const witness = start(['witness', 'serve', '--data', await dataDirectory('annal-metrics-witness-'), '--name', 'witness.example/m',
    '--log', logKey, '--metrics', '127.0.0.1:0'], /listening on (\S+)\nmetrics on (\S+)\nverifier key: (\S+)\n/)
  const [, witnessUrl, witnessMetrics, witnessKey] = await witness.matched
  const server = start(['serve', '--dev', '--data', data, '--port', '0', '--witness', `${witnessKey}@${witnessUrl}`,
    '--policy', '1', '--metrics', '127.0.0.1:0'], /serving .* on (\S+)\n[\s\S]*?metrics on (\S+)\n[\s\S]*admin +\([^)]*\), valid 24 h:\n {2}(\S+)\n/)
  const [, url, serverMetrics, admin] = await server.matched
  const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }
  const witnessed = await fetch(`${url}/v1/logs/audit/witnessing`, { method: 'PUT', body: '{"witnessing":{},"reason":"one"}', headers })
  expect(witnessed.status).toBe(200)
  const appended = await fetch(`${url}/v1/logs/audit/entries`, { method: 'POST', body: '{"actor":"bob"}', headers })
  expect(appended.status).toBe(201)

  const shown = await scrapeUntil(serverMetrics!, (samples) => sampleValue(samples, 'annal_checkpoint_size', { log: 'audit' }) === 1)
  expect(sampleValue(shown, 'annal_witness_cosignatures_total', { witness: 'witness.example/m', log: 'audit' })).toBeGreaterThanOrEqual(1)
  expect(sampleValue(shown, 'annal_witness_cosigned_size', { witness: 'witness.example/m', log: 'audit' })).toBe(1)
  expect(sampleValue(shown, 'annal_witness_failures_total', { witness: 'witness.example/m', log: 'audit' })).toBe(0)
  expect(sampleValue(shown, 'annal_checkpoint_age_seconds', { log: 'audit' })).toBe(0)
  expect(sampleValue(shown, 'annal_appends_total', { log: 'audit', outcome: 'appended' })).toBe(1)
  const witnessSamples = await scrape(witnessMetrics!)
  expect(sampleValue(witnessSamples, 'annal_witness_add_checkpoint_total', { status: '200' })).toBeGreaterThanOrEqual(1)
  expect(sampleValue(witnessSamples, 'annal_witness_cosigned_size', { origin: /^[^+]+/.exec(logKey)![0] })).toBe(1)
  expect((await fetch(`${url}/readyz`)).status).toBe(200)
  expect((await fetch(`${witnessUrl}/readyz`)).status).toBe(200)

  server.child.kill('SIGTERM')
  witness.child.kill('SIGTERM')
  expect([await server.exited, await witness.exited]).toEqual([0, 0])
})
