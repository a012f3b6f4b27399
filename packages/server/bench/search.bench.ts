// npm run bench -w packages/server (after server.bench.ts) [-- --records N --runs R]: on an access
// log of 1,000,000 records, (a) GET /v1/logs/access/search?sub=<one sub>&limit=100 through the
// real app (token check, index join, entries, the request's own synced access record), each
// next to its baseline, a raw LevelDB scan of the same rows (the sub's 100 newest index rows and
// the bundles holding their entries); (b) GET /v1/logs/access/search?from=...&to=...&limit=100, a
// time range alone (one minute somewhere in the log), followed from cursor to cursor until it has
// its first 100 results, next to a raw read of the bundles holding those 100 entries; (c) GET
// /v1/logs/access/export of the whole log, next to a raw scan of the log's bundle rows. Runs
// alternate baseline and subject; figures are medians.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Ledger } from '@annal/store'
import { LevelDriver } from '@annal/storage'
import { formatRate, goal, machineLine, prng, report } from '../../../scripts/bench.js'
import { accessRecordBytes } from '../src/access-record.js'
import { type AnnalApp, createApp } from '../src/app.js'
import type { Principal } from '../src/auth.js'
import { indexLedger } from '../src/search-fields.js'
import { searchTerm } from '../src/search-terms.js'
import { Mint, jwksOf, signingKey } from '../src/testing/fixture.js'

const RECORDS = Number(argument('--records') ?? 1_000_000)
const RUNS = Number(argument('--runs') ?? 3)
/** About 200 records a sub, so that every query fills its page. */
const SUBS = Math.max(1, Math.floor(RECORDS / 200))
const QUERIES = 40
/** Time-range searches a run, each one minute wide. */
const TIME_QUERIES = 4
const TIME_STEP_MS = 10
const WINDOW_MS = 60_000
const BASE_TIME = Date.UTC(2026, 0, 1)
const PAGE = 100
const APPEND_CALL = 10_000
const APPENDERS = 2
const TILE_WIDTH = 256
const LOG = 'access'
const QUERY_GOAL_MS = 20
const EXPORT_GOAL = 100_000
// Rows of the store's key layout (packages/store/src/keys.ts), for the raw baselines.
const TERM_TAG = 0x51
const BUNDLE_TAG = 0x45
const utf8 = new TextEncoder()

/**
 * The appends of generate(): records start..start+count (record r has time BASE_TIME + r *
 * TIME_STEP_MS) are at indexes first..first+count. The appenders' calls land in either order,
 * so time goes back now and then at a call's edge, as a server's clock may.
 */
const calls: { start: number; count: number; first: number }[] = []

console.log(`search benchmark: ${machineLine()}; ${RECORDS.toLocaleString('en-US')} access records, ${SUBS} subs, ` +
  `${RUNS} runs alternating raw LevelDB and the API`)
const directory = await mkdtemp(join(tmpdir(), 'annal-bench-search-'))
// No id or object filters: their fill after each reopen would scan the log beside the figures.
const ledgerOptions = { host: 'bench.example', idFilterBytes: 0, objectFilterBytes: 0 }
const key = await signingKey('ES256')
const mint = new Mint(key, 'https://issuer.bench.example', 'https://annal.bench.example/')
const token = await mint.token({ scope: 'audit:read', expiresIn: 3600 * 24 })
try {
  await generate()
  const queryRuns: { raw: number; api: number }[] = []
  const timeRuns: { raw: number; api: number; requests: number }[] = []
  const exportRuns: { raw: number; api: number }[] = []
  for (let run = 0; run < RUNS; run++) {
    const subs = Array.from({ length: QUERIES }, (_, i) => `user-${(run * QUERIES + i) * 37 % SUBS}`)
    const windows = Array.from({ length: TIME_QUERIES }, (_, i) => windowAt(run * TIME_QUERIES + i))
    const raw = await withDriver(async (driver) => ({
      query: await rawQueries(driver, subs), time: await rawTimeQueries(driver, windows), export: await rawExport(driver),
    }))
    const api = await withApp(async (app) => ({
      query: await apiQueries(app, subs), time: await apiTimeQueries(app, windows), export: await apiExport(app),
    }))
    queryRuns.push({ raw: raw.query, api: api.query })
    timeRuns.push({ raw: raw.time, api: api.time.ms, requests: api.time.requests })
    exportRuns.push({ raw: raw.export, api: api.export })
  }
  const queryMs = median(queryRuns.map((r) => r.api))
  report(`raw LevelDB: one sub's ${PAGE} newest index rows and their bundles`, `${median(queryRuns.map((r) => r.raw)).toFixed(2)} ms`,
    `median of runs: ${queryRuns.map((r) => r.raw.toFixed(2)).join(' ')}`)
  report(`search?sub=...&limit=${PAGE} through the app, median`, `${queryMs.toFixed(2)} ms`,
    `${goal(queryMs < QUERY_GOAL_MS, `< ${QUERY_GOAL_MS} ms`)}; runs: ${queryRuns.map((r) => r.api.toFixed(2)).join(' ')}`)
  report(`raw LevelDB: the bundles of a minute's ${PAGE} newest entries`, `${median(timeRuns.map((r) => r.raw)).toFixed(2)} ms`,
    `median of runs: ${timeRuns.map((r) => r.raw.toFixed(2)).join(' ')}`)
  report(`search?from=...&to=... (one minute), first ${PAGE} results`, `${median(timeRuns.map((r) => r.api)).toFixed(2)} ms`,
    `runs: ${timeRuns.map((r) => r.api.toFixed(2)).join(' ')}; requests a search, median: ${median(timeRuns.map((r) => r.requests))}`)
  const exportRate = median(exportRuns.map((r) => r.api))
  report('raw LevelDB: scan of every bundle row', formatRate(median(exportRuns.map((r) => r.raw))),
    `runs: ${exportRuns.map((r) => formatRate(r.raw)).join(' ')}`)
  report('export through the app, NDJSON', formatRate(exportRate),
    `${goal(exportRate >= EXPORT_GOAL, `>= ${formatRate(EXPORT_GOAL)}`)}; runs: ${exportRuns.map((r) => formatRate(r.api)).join(' ')}`)
} finally {
  await rm(directory, { recursive: true, force: true })
}

/** Appends RECORDS access records in large calls from a few appenders, with the API's indexer. */
async function generate(): Promise<void> {
  const started = performance.now()
  await withApp(async () => undefined)
  const ledger = await Ledger.open(directory, ledgerOptions)
  await indexLedger(ledger)
  const random = prng()
  const principals = Array.from({ length: SUBS }, (_, i) => ({
    iss: 'https://issuer.bench.example', sub: `user-${i}`, clientId: `client-${i % 50}`, jti: `jti-${i}`,
    scopes: ['log:read', 'log:append'], fingerprint: `fp-${i}`, expiresAt: 0,
  }) as Principal)
  const routes = ['/v1/logs/:log/entries', '/v1/logs/:log/entries/:ref', '/v1/logs/:log/search', '/v1/logs/:log/checkpoint']
  const statuses = [200, 200, 201, 403, 404]
  let next = 0
  calls.length = 0
  const appender = async (): Promise<void> => {
    while (next < RECORDS) {
      const start = next
      next = Math.min(RECORDS, next + APPEND_CALL)
      const records = Array.from({ length: next - start }, (_, i) => {
        const principal = principals[Math.floor(random() * SUBS)]!
        return accessRecordBytes({
          time: new Date(BASE_TIME + (start + i) * TIME_STEP_MS), requestId: `request-${start + i}`, method: 'GET',
          route: routes[Math.floor(random() * routes.length)], log: 'payments', status: statuses[Math.floor(random() * statuses.length)]!,
          requiredScope: 'log:read', authorizedBy: 'log:read', principal, fingerprint: principal.fingerprint,
          remoteAddress: `10.0.${Math.floor(random() * 4)}.${Math.floor(random() * 250)}`, userAgent: 'bench/1.0',
        })
      })
      const appended = await ledger.log(LOG).append(records)
      calls.push({ start, count: records.length, first: appended.entries[0]!.index })
    }
  }
  await Promise.all(Array.from({ length: APPENDERS }, appender))
  await ledger.close()
  const seconds = (performance.now() - started) / 1000
  report('generated: access records appended with their index rows', formatRate(RECORDS / seconds), `${seconds.toFixed(0)} s`)
}

async function withApp<T>(work: (app: AnnalApp) => Promise<T>): Promise<T> {
  const ledger = await Ledger.open(directory, ledgerOptions)
  try {
    const app = await createApp({ ledger, auth: { issuer: mint.issuer, audience: mint.audience, jwks: jwksOf(key) } })
    return await work(app)
  } finally {
    await ledger.close()
  }
}

async function withDriver<T>(work: (driver: LevelDriver) => Promise<T>): Promise<T> {
  const driver = await LevelDriver.open(join(directory, 'db'))
  try {
    return await work(driver)
  } finally {
    await driver.close()
  }
}

/** The median latency of a first page of search for each sub, in ms. */
async function apiQueries(app: AnnalApp, subs: readonly string[]): Promise<number> {
  await app.request(`/v1/logs/${LOG}/search?sub=user-1`, { headers: { Authorization: `Bearer ${token}` } })
  const times: number[] = []
  for (const sub of subs) {
    const start = performance.now()
    const response = await app.request(`/v1/logs/${LOG}/search?sub=${sub}&limit=${PAGE}`, { headers: { Authorization: `Bearer ${token}` } })
    const page = await response.json() as { results: unknown[] }
    times.push(performance.now() - start)
    if (response.status !== 200 || page.results.length !== PAGE) throw new Error(`search for ${sub}: ${response.status}, ${page.results.length} results`)
  }
  return median(times)
}

/** The median time to scan a sub's PAGE newest index rows and read the bundles of their entries, in ms. */
async function rawQueries(driver: LevelDriver, subs: readonly string[]): Promise<number> {
  const times: number[] = []
  for (const sub of subs) {
    const start = performance.now()
    const term = searchTerm('sub', sub)
    const indexes: number[] = []
    for await (const [row] of driver.range({ gte: termKey(term, 0), lte: termKey(term, Number.MAX_SAFE_INTEGER), reverse: true, limit: PAGE, keysOnly: true })) {
      indexes.push(readUint64(row.subarray(row.length - 8)))
    }
    // The open bundle's entries are in part rows, not read here: the baseline reads a little less.
    await driver.getMany(indexes.map((index) => bundleKey(Math.floor(index / TILE_WIDTH))))
    times.push(performance.now() - start)
    if (indexes.length !== PAGE) throw new Error(`raw scan for ${sub} found ${indexes.length}`)
  }
  return median(times)
}

/** Entries a second that a whole-log export streams, its body read to the end. */
async function apiExport(app: AnnalApp): Promise<number> {
  const start = performance.now()
  const response = await app.request(`/v1/logs/${LOG}/export`, { headers: { Authorization: `Bearer ${token}` } })
  const end = Number(response.headers.get('annal-export-end'))
  let lines = 0
  const reader = response.body!.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    for (let i = 0; i < value.length; i++) if (value[i] === 0x0a) lines++
  }
  if (lines !== end) throw new Error(`export gave ${lines} lines of ${end}`)
  return lines / ((performance.now() - start) / 1000)
}

/** Entries a second in a raw scan of the access log's bundle rows (full bundles of RECORDS). */
async function rawExport(driver: LevelDriver): Promise<number> {
  const start = performance.now()
  let bytes = 0
  for await (const [, value] of driver.range({ gte: bundleKey(0), lte: bundleKey(Math.floor(RECORDS / TILE_WIDTH)) })) bytes += value.length
  if (bytes === 0) throw new Error('no bundles')
  return RECORDS / ((performance.now() - start) / 1000)
}

/** The `n`th window of the runs: one minute starting at a record spread over the log. */
function windowAt(n: number): { from: number; to: number } {
  const span = RECORDS - WINDOW_MS / TIME_STEP_MS
  const first = Math.floor(((n * 7919) % TIME_QUERIES ** 2) / TIME_QUERIES ** 2 * span)
  return { from: BASE_TIME + first * TIME_STEP_MS, to: BASE_TIME + first * TIME_STEP_MS + WINDOW_MS }
}

/** The indexes of the PAGE newest records of a window, from the appends' layout. */
function newestInWindow({ from, to }: { from: number; to: number }): number[] {
  const [low, high] = [(from - BASE_TIME) / TIME_STEP_MS, (to - BASE_TIME) / TIME_STEP_MS]
  const indexes = calls.flatMap(({ start, count, first }) => {
    const a = Math.max(low, start)
    const b = Math.min(high, start + count)
    return Array.from({ length: Math.max(0, b - a) }, (_, i) => first + a - start + i)
  })
  return indexes.sort((x, y) => y - x).slice(0, PAGE)
}

/** The median time for a time-range search's first PAGE results, following cursors, and its requests. */
async function apiTimeQueries(app: AnnalApp, windows: readonly { from: number; to: number }[]): Promise<{ ms: number; requests: number }> {
  const times: number[] = []
  const counts: number[] = []
  for (const window of windows) {
    const query = `from=${new Date(window.from).toISOString()}&to=${new Date(window.to).toISOString()}&limit=${PAGE}`
    const start = performance.now()
    const found: number[] = []
    let requests = 0
    for (let cursor: string | null = ''; cursor !== null && found.length < PAGE;) {
      const response = await app.request(`/v1/logs/${LOG}/search?${query}${cursor === '' ? '' : `&cursor=${cursor}`}`,
        { headers: { Authorization: `Bearer ${token}` } })
      const page = await response.json() as { next: string | null; results: { index: number }[] }
      if (response.status !== 200) throw new Error(`time search: ${response.status}`)
      requests++
      found.push(...page.results.map((r) => r.index))
      cursor = page.next
    }
    times.push(performance.now() - start)
    counts.push(requests)
    const expected = newestInWindow(window)
    if (found.slice(0, PAGE).join() !== expected.join()) throw new Error(`time search found ${found.length}, not the ${expected.length} expected`)
  }
  return { ms: median(times), requests: median(counts) }
}

/** The median time to read the bundles holding each window's PAGE newest entries, in ms. */
async function rawTimeQueries(driver: LevelDriver, windows: readonly { from: number; to: number }[]): Promise<number> {
  const times: number[] = []
  for (const window of windows) {
    const indexes = newestInWindow(window)
    const start = performance.now()
    await driver.getMany(indexes.map((index) => bundleKey(Math.floor(index / TILE_WIDTH))))
    times.push(performance.now() - start)
  }
  return median(times)
}

function termKey(term: Uint8Array, index: number): Uint8Array {
  return Uint8Array.from([TERM_TAG, ...utf8.encode(LOG), 0, term.length, ...term, ...uint64(index)])
}

function bundleKey(index: number): Uint8Array {
  return Uint8Array.from([BUNDLE_TAG, ...utf8.encode(LOG), 0, ...uint64(index)])
}

function uint64(n: number): number[] {
  return Array.from({ length: 8 }, (_, i) => Math.floor(n / 2 ** (8 * (7 - i))) % 256)
}

function readUint64(bytes: Uint8Array): number {
  let n = 0
  for (let i = 0; i < 8; i++) n = n * 256 + bytes[i]!
  return n
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}
