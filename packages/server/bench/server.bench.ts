// npm run bench -w packages/server [-- --rounds R --seconds S]: HTTP load on loopback from a second
// process (bench/load.ts), in one run: (a) a bare Hono POST route that parses the same 256-byte
// JSON body and answers 201, the baseline of (b): authorized single-event appends through the
// real Annal app, access log on, real LevelDB in a temp dir, a real ES256 token; (c) NDJSON
// batches of 1,000 events, next to its baseline: raw LevelDB writing the rows those requests
// make the ledger write (bench/raw-events.ts).
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { Ledger } from '@annal/store'
import { Hono } from 'hono'
import { formatRate, goal, machineLine, report, threadSchedule } from '../../../scripts/bench.js'
import { createApp } from '../src/app.js'
import { type RunningServer, serve } from '../src/serve.js'
import { Mint, jwksOf, signingKey } from '../src/testing/fixture.js'
import { EVENT_BYTES, type LoadJob, type LoadResult } from './load.js'
import { RawEvents, lastRequestRows } from './raw-events.js'

const ROUNDS = Number(argument('--rounds') ?? 4)
const SECONDS = Number(argument('--seconds') ?? 4)
const WARMUP_SECONDS = 3
const CONNECTIONS = 50
const BATCH = 1000
const BATCH_CONNECTIONS = 8
const ISSUER = 'https://issuer.bench.example'
const AUDIENCE = 'https://annal.bench.example/'

console.log(`server benchmark: ${machineLine()}`)
console.log(`(a) and (b), then raw and (c), in ${ROUNDS} alternating rounds of ${SECONDS} s each (after warm-up), ` +
  `loader in a second process, ${EVENT_BYTES}-byte JSON events`)

// One loader process for the whole run, started before any server: a fork marks the parent's
// memory copy-on-write, and the parent then takes a page fault at its first write to each page.
// A loader forked per phase made the server under test fault its memory in again during the
// phase (about 3,000 faults a second for a 16 MiB table written at random, measured), and each
// phase's loader started cold.
const loader = fork(fileURLToPath(new URL('./load.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] })

// (a) The baseline: Hono on @hono/node-server, parse the JSON body, answer 201.
const bare = new Hono()
bare.post('/v1/logs/bench/entries', async (c) => {
  const event = await c.req.json<Record<string, unknown>>()
  return c.json({ ok: typeof event === 'object' }, 201)
})
const bareServer = await serve(bare)

// (b) and (c): the real app over a real ledger.
const directory = await mkdtemp(join(tmpdir(), 'annal-bench-server-'))
const ledger = await Ledger.open(directory, { originPrefix: 'bench.example' })
await ledger.createLog('bench')
await ledger.createLog('batches')
const key = await signingKey('ES256')
const token = await new Mint(key, ISSUER, AUDIENCE).token({ scope: 'log:append', expiresIn: 3600 })
const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) } })
const running = await serve(app)
const authorized = { Authorization: `Bearer ${token}` }

const baselineJob = job(bareServer, {
  path: '/v1/logs/bench/entries', headers: { 'Content-Type': 'application/json' }, body: 'json', eventsPerRequest: 1,
  connections: CONNECTIONS, maxRequests: 400_000, expectStatus: 201,
})
const appendJob = job(running, {
  path: '/v1/logs/bench/entries', headers: { ...authorized, 'Content-Type': 'application/json' }, body: 'json', eventsPerRequest: 1,
  connections: CONNECTIONS, maxRequests: 200_000, expectStatus: 201,
})
const accessBefore = ledger.log('access').size
await load({ ...baselineJob, maxSeconds: WARMUP_SECONDS })
await load({ ...appendJob, maxSeconds: WARMUP_SECONDS })
// The machine's speed drifts between runs minutes apart (docs/benchmarks.md), so (a) and (b)
// take turns and the ratio is of their totals, with each round's ratio beside it.
const baselineRounds: Measured[] = []
const appendRounds: Measured[] = []
for (let round = 0; round < ROUNDS; round++) {
  baselineRounds.push(await measure({ ...baselineJob, maxSeconds: SECONDS }))
  appendRounds.push(await measure({ ...appendJob, maxSeconds: SECONDS }))
}
await bareServer.close()
const baseline = summary('(a) bare Hono POST, JSON parse, 201 (baseline)', baselineRounds, CONNECTIONS)
const appends = summary('(b) Annal appends, 1 event a request, access log on', appendRounds, CONNECTIONS)
const ratio = appends.rate / baseline.rate
const errors = baseline.errors + appends.errors
report('(b)/(a) 201 answers/s', ratio.toFixed(2),
  `${goal(ratio >= 0.3, '>= 0.30', errors)}; p99 ${appends.p99Ms.toFixed(1)} ms, ${goal(appends.p99Ms < 50, '< 50 ms', errors)}`)
report('    (b)/(a) by round', appendRounds.map((b, i) => (b.rate / baselineRounds[i]!.rate).toFixed(2)).join(' '))
report('    entries in `bench` / records added to `access`', `${ledger.log('bench').size} / ${ledger.log('access').size - accessBefore}`)

const batchJob = job(running, {
  path: '/v1/logs/batches/entries', headers: { ...authorized, 'Content-Type': 'application/x-ndjson' }, body: 'ndjson',
  eventsPerRequest: BATCH, connections: BATCH_CONNECTIONS, maxRequests: 2_000, expectStatus: 201,
})
await load({ ...batchJob, maxSeconds: 1 })
// The baseline writes the rows the warm-up's last request made the ledger write, as the same
// bytes; its rounds and (c)'s take turns, as (a)'s and (b)'s do.
const rawDirectory = await mkdtemp(join(tmpdir(), 'annal-bench-raw-events-'))
const rows = await lastRequestRows(ledger, 'batches', BATCH)
const raw = await RawEvents.open(rawDirectory, rows)
await raw.write(1)
const rawRounds: { events: number; seconds: number }[] = []
const batchRounds: Measured[] = []
for (let round = 0; round < ROUNDS; round++) {
  rawRounds.push(await raw.write(SECONDS))
  batchRounds.push(await measure({ ...batchJob, maxSeconds: SECONDS }))
}
const rawRate = rawRounds.reduce((sum, r) => sum + r.events, 0) / rawRounds.reduce((sum, r) => sum + r.seconds, 0)
report(`raw LevelDB, (c)'s rows, a synced batch per ${BATCH} events`, formatRate(rawRate),
  `by round ${rawRounds.map((r) => Math.round(r.events / r.seconds).toLocaleString('en-US')).join(' ')}`)
const mean = (values: readonly Uint8Array[]) => Math.round(values.reduce((sum, v) => sum + v.length, 0) / values.length)
report('    bytes an event writes: envelope / object row; record a request', `${mean(rows.envelopes)} / ${mean(rows.objectRows)}; ${rows.record.length}`)
const batches = summary(`(c) Annal NDJSON appends, ${BATCH} events a request`, batchRounds, BATCH_CONNECTIONS)
const events = batches.rate * BATCH
const batchRatio = events / rawRate
report('(c)/raw events/s', batchRatio.toFixed(2), `${goal(batchRatio >= 0.8, '>= 0.80', batches.errors)}; (c) ${formatRate(events)}`)
report('    (c)/raw by round', batchRounds.map((c, i) => (c.rate * BATCH / (rawRounds[i]!.events / rawRounds[i]!.seconds)).toFixed(2)).join(' '))
report('    entries in `batches`', String(ledger.log('batches').size))
await running.close()
loader.disconnect()
await raw.close()
await ledger.close()
await rm(directory, { recursive: true, force: true })
await rm(rawDirectory, { recursive: true, force: true })

/** One load run and what the server process spent on it. */
interface Measured {
  readonly result: LoadResult
  /** Answers with the expected status a second. */
  readonly rate: number
  readonly busy: number
  /** The server process's CPU, all threads. */
  readonly cpuSeconds: number
  /** Its main thread's (the event loop's) time on a core, and waiting for one, where the platform says. */
  readonly main: { readonly runSeconds: number; readonly waitSeconds: number } | undefined
}

function job(server: RunningServer, spec: Omit<LoadJob, 'url' | 'maxSeconds'> & { path: string }): Omit<LoadJob, 'maxSeconds'> {
  return { ...spec, url: `${server.url}${spec.path}` }
}

async function measure(run: LoadJob): Promise<Measured> {
  const cpu = process.cpuUsage()
  const mainBefore = threadSchedule()
  const elu = performance.eventLoopUtilization()
  const result = await load(run)
  const busy = performance.eventLoopUtilization(elu).active
  const used = process.cpuUsage(cpu)
  const mainAfter = threadSchedule()
  const main = mainBefore && mainAfter && {
    runSeconds: mainAfter.runSeconds - mainBefore.runSeconds, waitSeconds: mainAfter.waitSeconds - mainBefore.waitSeconds,
  }
  return { result, rate: result.ok / result.seconds, busy, cpuSeconds: (used.user + used.system) / 1e6, main }
}

/**
 * Reports a phase's rounds together and returns its rate of expected answers over all of them,
 * its worst round's p99 and its error answers (which no rate or latency counts).
 */
function summary(name: string, rounds: readonly Measured[], connections: number): { rate: number; p99Ms: number; errors: number } {
  const sum = (f: (m: Measured) => number) => rounds.reduce((total, m) => total + f(m), 0)
  const ok = sum((m) => m.result.ok)
  const errors = sum((m) => m.result.errors)
  const requests = ok + errors
  const seconds = sum((m) => m.result.seconds)
  const rate = ok / seconds
  const p99Ms = Math.max(...rounds.map((m) => m.result.p99Ms))
  report(name, formatRate(rate), `${connections} connections, ${ok.toLocaleString('en-US')} expected answers, ` +
    `${errors.toLocaleString('en-US')} errors in ${seconds.toFixed(1)} s`)
  if (rounds.length > 1) report('    by round', rounds.map((m) => Math.round(m.rate).toLocaleString('en-US')).join(' '))
  report('    latency p50 (median round) / p99 (worst round) / max (ms)',
    `${median(rounds.map((m) => m.result.p50Ms)).toFixed(1)} / ${p99Ms.toFixed(1)} / ${Math.max(...rounds.map((m) => m.result.maxMs)).toFixed(1)}`)
  const serverSeconds = sum((m) => m.cpuSeconds)
  const loaderSeconds = sum((m) => m.result.cpuSeconds)
  report('    server event-loop use, CPU s; loader CPU s', `${(sum((m) => m.busy) / seconds / 1000).toFixed(2)}, ${serverSeconds.toFixed(1)}; ${loaderSeconds.toFixed(1)}`)
  // The event loop's busy time includes its waits for a core while the server's other threads
  // (libuv's pool, V8's helpers, LevelDB's compaction) or the loader hold both.
  if (rounds.every((m) => m.main !== undefined)) {
    const run = sum((m) => m.main!.runSeconds)
    report('    cores used: server main thread / other threads / loader',
      `${(run / seconds).toFixed(2)} / ${((serverSeconds - run) / seconds).toFixed(2)} / ${(loaderSeconds / seconds).toFixed(2)}`,
      `main thread waiting for a core ${(sum((m) => m.main!.waitSeconds) / seconds).toFixed(2)}`)
  }
  // Server and loader share the machine: this is the rate at which their CPU a request would
  // keep every core busy, a ceiling no scheduling can pass.
  const serverMicros = serverSeconds * 1e6 / requests
  const loaderMicros = loaderSeconds * 1e6 / requests
  report('    CPU a request: server (all threads) / loader (µs)', `${serverMicros.toFixed(0)} / ${loaderMicros.toFixed(0)}`,
    `all ${availableParallelism()} cores busy at ${formatRate(availableParallelism() * 1e6 / (serverMicros + loaderMicros))}`)
  if (errors > 0) {
    report('    ERRORS (not in the rates; the run is invalid)', String(errors), JSON.stringify(rounds.map((m) => m.result.unexpected)))
  }
  return { rate, p99Ms, errors }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Runs one job in the loader process. */
async function load(run: LoadJob): Promise<LoadResult> {
  return new Promise<LoadResult>((resolve, reject) => {
    const exited = (code: number | null): void => reject(new Error(`the loader exited with ${code}`))
    loader.once('exit', exited)
    loader.once('message', (message) => {
      loader.off('exit', exited)
      resolve(message as LoadResult)
    })
    loader.send(run)
  })
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}
