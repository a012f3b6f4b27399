// npm run bench:scope-review -w packages/server [-- --records N] [--history-dir DIR]: the scope
// review's first answer after a restart, on an access log of N generated records (default
// 10,000,000; see src/testing/history.ts): 1,000 principals (100 clients x 10 users), each
// carrying a fixed random subset of six scopes and asking for one of the six at random (refused
// when not carried), spread evenly over 90 days. The history is written through the store, then
// the alerts evaluator reads it once, as it would follow a live server; the review is timed on a
// freshly opened ledger and app in a new process, as after a restart, so that no cache (nor the
// JIT, nor the heap the evaluation left) helps it: once as a restarted server answers it, while
// the store fills its id filter in the background, then once more in another process with that
// filter off, which shows the review's own cost.
// With --history-dir, the written history is kept there, keyed by its parameters, and copied for
// each run instead of written again (10M records take minutes to write).
import { execFile } from 'node:child_process'
import { access, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Ledger, type LedgerOptions } from '@annal/store'
import { formatRate, machineLine } from '../../../scripts/bench.js'
import { appAlerts, createApp } from '../src/app.js'
import { Mint, jwksOf, signingKey } from '../src/testing/fixture.js'
import { type HistoryOptions, writeHistory } from '../src/testing/history.js'
import { ACCESS_LOG } from '../src/scopes.js'

const RECORDS = Number(argument('--records') ?? 10_000_000)
const HISTORY_DIR = argument('--history-dir')
/** Set in the process that times the reviews: the evaluated ledger to open. */
const MEASURE = argument('--measure')
const GOAL_MS = 100
const ISSUER = 'https://issuer.bench.example'
const AUDIENCE = 'https://annal.bench.example/'
/** A fixed end, so that a kept history answers the same window in every run. */
const END = Date.parse('2026-06-30T15:20:00.000Z')
const HISTORY: HistoryOptions = { records: RECORDS, clients: 100, subs: 10, days: 90, end: END, seed: 1 }
/** Changes when writeHistory writes another history for the same options. */
const HISTORY_VERSION = 1

const clock = () => new Date(END)
if (MEASURE === undefined) await benchmark()
else console.log(JSON.stringify(await timeReviews(MEASURE, process.argv.includes('--no-id-filter') ? { idFilterBytes: 0 } : {})))

async function benchmark(): Promise<void> {
  console.log(`scope review benchmark: ${machineLine()}`)
  const scratch = await mkdtemp(join(tmpdir(), 'annal-bench-review-'))
  try {
    const directory = join(scratch, 'ledger')
    await history(directory)
    const key = await signingKey('ES256')
    const ledger = await Ledger.open(directory)
    const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) }, clock })
    const started = performance.now()
    await appAlerts(app).caughtUp()
    const evaluated = (performance.now() - started) / 1000
    console.log(`evaluated (rules and aggregates) in ${evaluated.toFixed(1)} s (${formatRate(RECORDS / evaluated)}): what a rescan would cost`)
    await appAlerts(app).close()
    await ledger.close()
    for (const [what, flags] of [['first answer after a restart', []], ['with the id filter off', ['--no-id-filter']]] as const) {
      const run = await promisify(execFile)(process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--measure', directory, ...flags], { maxBuffer: 2 ** 20 })
      const { times, principals, bytes } = JSON.parse(run.stdout) as Awaited<ReturnType<typeof timeReviews>>
      const first = times[0]!
      console.log(`${what}: ${first.toFixed(1)} ms (${principals} principals, ${bytes.toLocaleString('en-US')} bytes); ` +
        `next four: ${times.slice(1).map((t) => t.toFixed(1)).join(', ')} ms`)
      if (flags.length === 0) console.log(`goal: first answer < ${GOAL_MS} ms at ${RECORDS} records: ${first < GOAL_MS ? 'met' : 'MISSED'}`)
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** Writes the history into `directory`, or copies the one kept in HISTORY_DIR. */
async function history(directory: string): Promise<void> {
  const kept = HISTORY_DIR === undefined ? undefined
    : join(HISTORY_DIR, `v${HISTORY_VERSION}-${HISTORY.records}-${HISTORY.clients}x${HISTORY.subs}-${HISTORY.days}d-${HISTORY.end}-${HISTORY.seed}`)
  if (kept !== undefined && await exists(join(kept, 'written'))) {
    const started = performance.now()
    await cp(join(kept, 'ledger'), directory, { recursive: true })
    console.log(`history: ${RECORDS} records copied from ${kept} in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
      `(written at ${(await readFile(join(kept, 'written'), 'utf8')).trim()})`)
    return
  }
  const ledger = await Ledger.open(directory)
  await ledger.createLog(ACCESS_LOG)
  const started = performance.now()
  await writeHistory(ledger, HISTORY, false)
  const written = (performance.now() - started) / 1000
  await ledger.close()
  const rate = formatRate(RECORDS / written)
  console.log(`history: ${RECORDS} records written in ${written.toFixed(1)} s (${rate})`)
  if (kept === undefined) return
  await rm(`${kept}.partial`, { recursive: true, force: true })
  await mkdir(`${kept}.partial`, { recursive: true })
  await cp(directory, join(`${kept}.partial`, 'ledger'), { recursive: true })
  await writeFile(join(`${kept}.partial`, 'written'), `${rate}\n`)
  await rm(kept, { recursive: true, force: true })
  await rename(`${kept}.partial`, kept)
}

/** Opens the ledger in `directory` and an app, and times five reviews of the last 30 days, each from request to parsed answer. */
async function timeReviews(directory: string, options: LedgerOptions): Promise<{ times: number[]; principals: number; bytes: number }> {
  const key = await signingKey('ES256')
  const ledger = await Ledger.open(directory, options)
  const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) }, clock })
  const token = await new Mint(key, ISSUER, AUDIENCE, clock).token({ scope: 'audit:read', claims: { client_id: 'bench' } })
  const times: number[] = []
  let principals = 0
  let bytes = 0
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    const response = await app.request('/v1/admin/scope-review?since=30d', { headers: { Authorization: `Bearer ${token}` } })
    const text = await response.text()
    const body = JSON.parse(text) as { principals: unknown[] }
    times.push(performance.now() - started)
    if (response.status !== 200) throw new Error(`scope review answered ${response.status}`)
    principals = body.principals.length
    bytes = text.length
  }
  await appAlerts(app).close()
  await ledger.close()
  return { times, principals, bytes }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
