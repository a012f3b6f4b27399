// npm run bench -w packages/server [-- --seconds S]: HTTP load on loopback from a second process
// (bench/load.ts), in one run: (a) a bare Hono POST route that parses the same 256-byte JSON body
// and answers 201, the baseline; (b) authorized single-event appends through the real Annal app,
// access log on, real LevelDB in a temp dir, a real ES256 token; (c) NDJSON batches of 1,000 events.
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { Ledger } from '@annal/store'
import { Hono } from 'hono'
import { formatRate, machineLine, report } from '../../../scripts/bench.js'
import { createApp } from '../src/app.js'
import { type RunningServer, serve } from '../src/serve.js'
import { Mint, jwksOf, signingKey } from '../src/testing/fixture.js'
import { EVENT_BYTES, type LoadJob, type LoadResult } from './load.js'

const SECONDS = Number(argument('--seconds') ?? 8)
const WARMUP_SECONDS = 1
const CONNECTIONS = 50
const BATCH = 1000
const BATCH_CONNECTIONS = 8
const ISSUER = 'https://issuer.bench.example'
const AUDIENCE = 'https://annal.bench.example/'

console.log(`server benchmark: ${machineLine()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
console.log(`${SECONDS} s per phase (after ${WARMUP_SECONDS} s of warm-up), loader in a second process, ${EVENT_BYTES}-byte JSON events`)

// (a) The baseline: Hono on @hono/node-server, parse the JSON body, answer 201.
const bare = new Hono()
bare.post('/v1/logs/bench/entries', async (c) => {
  const event = await c.req.json<Record<string, unknown>>()
  return c.json({ ok: typeof event === 'object' }, 201)
})
const baseline = await phase('(a) bare Hono POST, JSON parse, 201 (baseline)', await serve(bare), {
  path: '/v1/logs/bench/entries', headers: { 'Content-Type': 'application/json' }, body: 'json', eventsPerRequest: 1,
  connections: CONNECTIONS, maxRequests: 400_000, expectStatus: 201,
})

// (b) and (c): the real app over a real ledger.
const directory = await mkdtemp(join(tmpdir(), 'annal-bench-server-'))
const ledger = await Ledger.open(directory, { host: 'bench.example' })
await ledger.createLog('bench')
await ledger.createLog('batches')
const key = await signingKey('ES256')
const token = await new Mint(key, ISSUER, AUDIENCE).token({ scope: 'log:append', expiresIn: 3600 })
const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) } })
const running = await serve(app)
const authorized = { Authorization: `Bearer ${token}` }
const accessBefore = ledger.log('access').size
const appends = await phase('(b) Annal appends, 1 event a request, access log on', running, {
  path: '/v1/logs/bench/entries', headers: { ...authorized, 'Content-Type': 'application/json' }, body: 'json', eventsPerRequest: 1,
  connections: CONNECTIONS, maxRequests: 200_000, expectStatus: 201,
}, false)
report('(b)/(a) requests/s', (appends.rate / baseline.rate).toFixed(2),
  `goal >= 0.30${appends.rate / baseline.rate >= 0.3 ? '' : ': MISSED'}; p99 ${appends.result.p99Ms.toFixed(1)} ms, goal < 50 ms${appends.result.p99Ms < 50 ? '' : ': MISSED'}`)
report('    entries in `bench` / records added to `access`', `${ledger.log('bench').size} / ${ledger.log('access').size - accessBefore}`)
const batches = await phase(`(c) Annal NDJSON appends, ${BATCH} events a request`, running, {
  path: '/v1/logs/batches/entries', headers: { ...authorized, 'Content-Type': 'application/x-ndjson' }, body: 'ndjson',
  eventsPerRequest: BATCH, connections: BATCH_CONNECTIONS, maxRequests: 2_000, expectStatus: 201,
})
const events = batches.rate * BATCH
report('(c) events/s', formatRate(events), `goal >= 50,000${events >= 50_000 ? '' : ': MISSED'}`)
report('    entries in `batches`', String(ledger.log('batches').size))
await ledger.close()
await rm(directory, { recursive: true, force: true })

interface Phase {
  readonly rate: number
  readonly result: LoadResult
}

/** Warms up, then measures one load run against `server`, and closes the server unless told not to. */
async function phase(name: string, server: RunningServer, job: Omit<LoadJob, 'url' | 'maxSeconds'> & { path: string },
  close = true): Promise<Phase> {
  const url = `${server.url}${job.path}`
  await load({ ...job, url, maxSeconds: WARMUP_SECONDS })
  const cpu = process.cpuUsage()
  const elu = performance.eventLoopUtilization()
  const result = await load({ ...job, url, maxSeconds: SECONDS })
  const used = performance.eventLoopUtilization(elu)
  const cpuUsed = process.cpuUsage(cpu)
  const cpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6
  if (close) await server.close()
  const rate = result.requests / result.seconds
  report(name, formatRate(rate), `${job.connections} connections, ${result.requests.toLocaleString('en-US')} requests in ${result.seconds.toFixed(1)} s`)
  report('    latency p50 / p99 / max (ms)', `${result.p50Ms.toFixed(1)} / ${result.p99Ms.toFixed(1)} / ${result.maxMs.toFixed(1)}`)
  report('    server event-loop use, CPU s; loader CPU s', `${used.utilization.toFixed(2)}, ${cpuSeconds.toFixed(1)}; ${result.cpuSeconds.toFixed(1)}`)
  // Server and loader share the machine: this is the rate at which their CPU a request would
  // keep every core busy, a ceiling no scheduling can pass.
  const serverMicros = cpuSeconds * 1e6 / result.requests
  const loaderMicros = result.cpuSeconds * 1e6 / result.requests
  report('    CPU a request: server (all threads) / loader (µs)', `${serverMicros.toFixed(0)} / ${loaderMicros.toFixed(0)}`,
    `all ${availableParallelism()} cores busy at ${formatRate(availableParallelism() * 1e6 / (serverMicros + loaderMicros))}`)
  if (result.errors > 0) report('    UNEXPECTED responses', String(result.errors), JSON.stringify(result.unexpected))
  return { rate, result }
}

/** Runs one job in a forked loader process. */
async function load(job: LoadJob): Promise<LoadResult> {
  const child = fork(fileURLToPath(new URL('./load.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] })
  const result = new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (message) => resolve(message as LoadResult))
    child.once('exit', (code) => reject(new Error(`the loader exited with ${code}`)))
  })
  child.send(job)
  return result
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}
