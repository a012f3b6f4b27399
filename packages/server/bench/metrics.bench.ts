// npm run bench -w packages/server (after server.bench.ts): what metrics and readiness cost a
// single-event append. Two apps over two ledgers in temp dirs, alike but for `metrics: true`,
// take turns under the same load from a second process (bench/load.ts); while the one with
// metrics runs, /metrics and /readyz are fetched once a second each, more often than a scraper
// and a prober would. The goal reads the ratio of the rounds' totals.
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ledger } from '@annal/store'
import { formatRate, goal, machineLine, report } from '../../../scripts/bench.js'
import { appMetrics, createApp } from '../src/app.js'
import { metricsApp } from '../src/metrics.js'
import { type RunningServer, serve } from '../src/serve.js'
import { Mint, jwksOf, signingKey } from '../src/testing/fixture.js'
import type { LoadJob, LoadResult } from './load.js'

const ROUNDS = Number(argument('--rounds') ?? 8)
const SECONDS = Number(argument('--seconds') ?? 3)
const CONNECTIONS = 50
const ISSUER = 'https://issuer.bench.example'
const AUDIENCE = 'https://annal.bench.example/'
const SCRAPE_INTERVAL_MS = 1_000

console.log(`metrics benchmark: ${machineLine()}`)
console.log(`single-event appends, metrics and readiness off and on, ${ROUNDS} alternating rounds of ${SECONDS} s`)

const loader = fork(fileURLToPath(new URL('./load.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] })
const key = await signingKey('ES256')
const token = await new Mint(key, ISSUER, AUDIENCE).token({ scope: 'log:append', expiresIn: 3600 })
const directories: string[] = []
const ledgers: Ledger[] = []

async function started(metrics: boolean): Promise<{ running: RunningServer; metricsServer?: RunningServer }> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-bench-metrics-'))
  directories.push(directory)
  const ledger = await Ledger.open(directory, { originPrefix: 'bench.example' })
  ledgers.push(ledger)
  await ledger.createLog('bench')
  const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) }, metrics })
  const running = await serve(app)
  return { running, ...(metrics ? { metricsServer: await serve(metricsApp(appMetrics(app)!)) } : {}) }
}

const off = await started(false)
const on = await started(true)
const job = (server: RunningServer): Omit<LoadJob, 'maxSeconds'> => ({
  url: `${server.url}/v1/logs/bench/entries`, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  body: 'json', eventsPerRequest: 1, connections: CONNECTIONS, maxRequests: 200_000, expectStatus: 201,
})
await load({ ...job(off.running), maxSeconds: 2 })
await load({ ...job(on.running), maxSeconds: 2 })
const offRounds: Measured[] = []
const onRounds: Measured[] = []
let scrapes = 0
for (let round = 0; round < ROUNDS; round++) {
  offRounds.push(await measure({ ...job(off.running), maxSeconds: SECONDS }))
  const scraping = setInterval(() => {
    void Promise.all([fetch(`${on.metricsServer!.url}/metrics`), fetch(`${on.running.url}/readyz`)])
      .then((answers) => Promise.all(answers.map((answer) => answer.text()))).then(() => { scrapes++ })
  }, SCRAPE_INTERVAL_MS)
  onRounds.push(await measure({ ...job(on.running), maxSeconds: SECONDS }))
  clearInterval(scraping)
}
const sum = (rounds: readonly Measured[], f: (m: Measured) => number) => rounds.reduce((total, m) => total + f(m), 0)
const rate = (rounds: readonly Measured[]) => sum(rounds, (m) => m.result.ok) / sum(rounds, (m) => m.result.seconds)
// The server's CPU an answer (this process, all threads; the loader is another): it moves less
// with the machine's spells than the rate does.
const micros = (rounds: readonly Measured[]) => sum(rounds, (m) => m.cpuSeconds) * 1e6 / sum(rounds, (m) => m.result.ok + m.result.errors)
const errors = sum([...offRounds, ...onRounds], (m) => m.result.errors)
const byRound = (rounds: readonly Measured[]) => rounds.map((m) => Math.round(m.result.ok / m.result.seconds)).join(' ')
report('appends, metrics and readiness off', formatRate(rate(offRounds)), `by round ${byRound(offRounds)}; CPU ${micros(offRounds).toFixed(0)} µs an append`)
report('appends, metrics and readiness on', formatRate(rate(onRounds)), `by round ${byRound(onRounds)}; CPU ${micros(onRounds).toFixed(0)} µs an append; ${scrapes} scrapes + probes`)
const ratio = rate(onRounds) / rate(offRounds)
report('on / off, appends a second', ratio.toFixed(3), `${goal(ratio >= 0.97, '>= 0.97 (cost < 3%)', errors)}; by round ${onRounds.map((m, i) => (m.result.ok / m.result.seconds / (offRounds[i]!.result.ok / offRounds[i]!.result.seconds)).toFixed(2)).join(' ')}`)
report('on / off, server CPU an append', (micros(onRounds) / micros(offRounds)).toFixed(3))

await Promise.all([off.running.close(), on.running.close(), on.metricsServer!.close()])
loader.disconnect()
for (const ledger of ledgers) await ledger.close()
for (const directory of directories) await rm(directory, { recursive: true, force: true })

interface Measured {
  readonly result: LoadResult
  /** This process's CPU over the round, all threads. */
  readonly cpuSeconds: number
}

async function measure(run: LoadJob): Promise<Measured> {
  const cpu = process.cpuUsage()
  const result = await load(run)
  const used = process.cpuUsage(cpu)
  return { result, cpuSeconds: (used.user + used.system) / 1e6 }
}

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
