// npm run bench:scope-review -w packages/server [-- --records N]: the scope review's first answer
// after a restart, on an access log of N generated records (default 10,000,000; see
// src/testing/history.ts): 1,000 principals (100 clients x 10 users), each carrying a fixed
// random subset of six scopes and asking for one of the six at random (refused when not
// carried), spread evenly over 90 days. The history is written through the store, then the
// alerts evaluator reads it once, as it would follow a live server; the review is timed on a
// freshly opened ledger and app, so no cache helps it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Ledger } from '@annal/store'
import { formatRate, machineLine } from '../../../scripts/bench.js'
import { appAlerts, createApp } from '../src/app.js'
import { Mint, jwksOf, signingKey } from '../src/testing/fixture.js'
import { writeHistory } from '../src/testing/history.js'
import { ACCESS_LOG } from '../src/scopes.js'

const RECORDS = Number(argument('--records') ?? 10_000_000)
const GOAL_MS = 100
const ISSUER = 'https://issuer.bench.example'
const AUDIENCE = 'https://annal.bench.example/'

console.log(`scope review benchmark: ${machineLine()}`)
const directory = await mkdtemp(join(tmpdir(), 'annal-bench-review-'))
try {
  const key = await signingKey('ES256')
  const auth = { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) }
  const end = Date.now()
  let ledger = await Ledger.open(directory)
  // The app (and its evaluator) starts once the history is written, so that evaluation is timed alone.
  await ledger.createLog(ACCESS_LOG)
  let started = performance.now()
  await writeHistory(ledger, { records: RECORDS, clients: 100, subs: 10, days: 90, end }, false)
  const written = (performance.now() - started) / 1000
  console.log(`history: ${RECORDS} records written in ${written.toFixed(1)} s (${formatRate(RECORDS / written)})`)
  let app = await createApp({ ledger, auth })
  started = performance.now()
  await appAlerts(app).caughtUp()
  const evaluated = (performance.now() - started) / 1000
  console.log(`evaluated (rules and aggregates) in ${evaluated.toFixed(1)} s (${formatRate(RECORDS / evaluated)}): what a rescan would cost`)
  await appAlerts(app).close()
  await ledger.close()

  ledger = await Ledger.open(directory)
  app = await createApp({ ledger, auth })
  const token = await new Mint(key, ISSUER, AUDIENCE).token({ scope: 'audit:read', claims: { client_id: 'bench' } })
  const times: number[] = []
  let principals = 0
  for (let i = 0; i < 5; i++) {
    started = performance.now()
    const response = await app.request('/v1/admin/scope-review?since=30d', { headers: { Authorization: `Bearer ${token}` } })
    const body = await response.json() as { principals: unknown[] }
    times.push(performance.now() - started)
    if (response.status !== 200) throw new Error(`scope review answered ${response.status}`)
    principals = body.principals.length
  }
  const first = times[0]!
  console.log(`first answer: ${first.toFixed(1)} ms (${principals} principals); next four: ${times.slice(1).map((t) => t.toFixed(1)).join(', ')} ms`)
  console.log(`goal: first answer < ${GOAL_MS} ms at ${RECORDS} records: ${first < GOAL_MS ? 'met' : 'MISSED'}`)
  await appAlerts(app).close()
  await ledger.close()
} finally {
  await rm(directory, { recursive: true, force: true })
}

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
