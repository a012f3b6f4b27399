// The server's Prometheus metrics: counted per request in a middleware, per write from the
// ledger's watch, and the rest read when scraped. Labels take only bounded values: route
// patterns, statuses, problem codes, the ledger's log names and the configured witnesses.
import { join } from 'node:path'
import { diskFigures, faultCode, isWriteFault } from '@annal/storage'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { Hono, type MiddlewareHandler } from 'hono'
import { AppendTimes } from './append-times.js'
import type { AppEnv, Services } from './context.js'
import { ACCESS_LOG } from './scopes.js'
import type { Witnessing } from './witnessing.js'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000]
const APPEND_ROUTE = '/v1/logs/:log/entries'
/** The route label of a request that reached no route. */
const UNMATCHED = 'unmatched'

/** An app's metrics: a registry of its own, so that apps in one process do not mix. */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly #services: Services
  readonly #requests: Counter<'method' | 'route' | 'status'>
  readonly #appends: Counter<'log' | 'outcome'>
  readonly #appendSeconds: Histogram<'log'>
  readonly #times = new AppendTimes(Date.now())

  constructor(services: Services) {
    this.#services = services
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#requests = new Counter({
      name: 'annal_http_requests_total', help: 'Requests answered by the app, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'], registers,
    })
    this.#appends = new Counter({
      name: 'annal_appends_total', help: 'Append requests by log and outcome: appended, or the problem code they were refused with.',
      labelNames: ['log', 'outcome'], registers,
    })
    this.#appendSeconds = new Histogram({
      name: 'annal_append_duration_seconds', help: 'Appends from the request to the durable write, answered 201.',
      labelNames: ['log'], buckets: LATENCY_BUCKETS, registers,
    })
    this.#watchLedger(registers)
    this.#logGauges(registers)
    this.#witnessMetrics(registers)
    this.#publishMetrics(registers)
    this.#storageGauges(registers)
  }

  /** Counts each request once answered; runs first, so that its time includes the others'. */
  readonly middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const start = performance.now()
    await next()
    const route = c.get('route') ?? UNMATCHED
    const status = c.res.status
    this.#requests.inc({ method: c.req.method, route, status: String(status) })
    if (route !== APPEND_ROUTE || c.req.method !== 'POST') return
    const log = this.#knownLog(c.get('log'))
    this.#appends.inc({ log, outcome: status === 201 ? 'appended' : c.get('problemCode') ?? String(status) })
    if (status === 201) this.#appendSeconds.observe({ log }, (performance.now() - start) / 1000)
  }

  /** A log name from a request as a label: '' for one the ledger does not have. */
  #knownLog(name: string | undefined): string {
    if (name === undefined) return ''
    try {
      this.#services.ledger.log(name)
      return name
    } catch {
      return ''
    }
  }

  #watchLedger(registers: Registry[]): void {
    const writeSeconds = new Histogram({
      name: 'annal_storage_write_duration_seconds', help: 'Writes to the database, synced or not.',
      labelNames: ['sync'], buckets: LATENCY_BUCKETS, registers,
    })
    const writeErrors = new Counter({
      name: 'annal_storage_write_errors_total', help: 'Writes the database refused, by error code (ENOSPC, EIO, ...).',
      labelNames: ['code'], registers,
    })
    const batchEntries = new Histogram({
      name: 'annal_append_batch_entries', help: 'Entries in each batch of appends written (one synced write), over all logs.',
      buckets: BATCH_BUCKETS, registers,
    })
    const entries = new Counter({
      name: 'annal_entries_appended_total', help: 'Entries durably appended, by log (the access log\'s are its records).',
      labelNames: ['log'], registers,
    })
    const records = new Counter({
      name: 'annal_access_log_records_total', help: 'Access records, by outcome: written, or failed with their write.',
      labelNames: ['outcome'], registers,
    })
    const { ledger, witnessing } = this.#services
    ledger.watch((event) => {
      if (event.kind === 'write') {
        writeSeconds.observe({ sync: String(event.write.sync) }, event.write.seconds)
        if (isWriteFault(event.write.error)) writeErrors.inc({ code: faultCode(event.write.error) })
        return
      }
      if (event.kind === 'health') return // annal_storage_writable reads the health when scraped
      const ok = event.error === undefined
      let total = 0
      for (const [log, count] of event.entries) {
        total += count
        if (log === ACCESS_LOG) records.inc({ outcome: ok ? 'written' : 'failed' }, count)
        if (!ok) continue
        entries.inc({ log }, count)
        if (witnessing?.policy(log) !== undefined) this.#times.grew(log, ledger.log(log).size, Date.now())
      }
      if (ok) batchEntries.observe(total)
    })
  }

  #logGauges(registers: Registry[]): void {
    const { ledger, witnessing } = this.#services
    const times = this.#times
    const logs = () => (ledger.closed ? [] : ledger.logs().map((info) => ledger.log(info.name)))
    new Gauge({
      name: 'annal_log_entries', help: 'Entries in each log: the size of its latest signed checkpoint.', labelNames: ['log'], registers,
      collect() {
        this.reset()
        for (const log of logs()) this.set({ log: log.info.name }, log.size)
      },
    })
    const served = async () => Promise.all(logs().map(async (log) => {
      const health = await witnessing?.health(log)
      return { log, size: health === undefined ? log.size : health.policyMetSize ?? 0 }
    }))
    new Gauge({
      name: 'annal_checkpoint_size', help: 'The size of the checkpoint each log serves: for a witnessed log, the newest that meets its policy.',
      labelNames: ['log'], registers,
      async collect() {
        this.reset()
        for (const { log, size } of await served()) this.set({ log: log.info.name }, size)
      },
    })
    new Gauge({
      name: 'annal_checkpoint_age_seconds', help: 'How long the served checkpoint has lacked the log\'s newest entries: 0 while it has them all.',
      labelNames: ['log'], registers,
      async collect() {
        this.reset()
        const now = Date.now()
        for (const { log, size } of await served()) this.set({ log: log.info.name }, times.age(log.info.name, size, log.size, now))
      },
    })
  }

  #witnessMetrics(registers: Registry[]): void {
    const { witnessing } = this.#services
    if (witnessing === undefined) return
    type Status = ReturnType<Witnessing['status']>[number]
    // Each is read from the witnessing's status when scraped.
    const labels = (status: Status) => ({ witness: status.witness, log: status.log })
    const labelNames = ['witness', 'log'] as const
    new Counter({
      name: 'annal_witness_cosignatures_total', help: 'Checkpoints a witness cosigned (cosignature verified and kept), by witness and log.',
      labelNames, registers,
      collect() {
        this.reset()
        for (const status of witnessing.status()) this.inc(labels(status), status.successes)
      },
    })
    new Counter({
      name: 'annal_witness_failures_total', help: 'Submissions to a witness that failed, by witness and log.', labelNames, registers,
      collect() {
        this.reset()
        for (const status of witnessing.status()) this.inc(labels(status), status.totalFailures)
      },
    })
    new Gauge({
      name: 'annal_witness_cosigned_size', help: 'The newest checkpoint size a witness cosigned for a log since start.', labelNames, registers,
      collect() {
        this.reset()
        for (const status of witnessing.status()) if (status.cosignedSize !== undefined) this.set(labels(status), status.cosignedSize)
      },
    })
    new Gauge({
      name: 'annal_witness_consecutive_failures', help: 'Failures in a row of a witness for a log; 0 once it cosigns again.', labelNames, registers,
      collect() {
        this.reset()
        for (const status of witnessing.status()) this.set(labels(status), status.failures)
      },
    })
  }

  #publishMetrics(registers: Registry[]): void {
    const { publishing } = this.#services
    if (publishing === undefined) return
    new Gauge({
      name: 'annal_publish_size', help: 'The size of the checkpoint each log has in object storage (annal serve --publish).',
      labelNames: ['log'], registers,
      collect() {
        this.reset()
        for (const status of publishing.status()) if (status.publishedSize !== undefined) this.set({ log: status.log }, status.publishedSize)
      },
    })
    new Counter({
      name: 'annal_publish_failures_total', help: 'Publications of a log to object storage that failed (each is retried).',
      labelNames: ['log'], registers,
      collect() {
        this.reset()
        for (const status of publishing.status()) this.inc({ log: status.log }, status.failures)
      },
    })
    new Gauge({
      name: 'annal_publish_consecutive_failures', help: 'Failed publications of a log in a row; 0 once one succeeds.',
      labelNames: ['log'], registers,
      collect() {
        this.reset()
        for (const status of publishing.status()) this.set({ log: status.log }, status.consecutiveFailures)
      },
    })
  }

  #storageGauges(registers: Registry[]): void {
    const { ledger } = this.#services
    const directory = join(ledger.directory, 'db')
    for (const figure of diskFigures(directory, 'the ledger database')) {
      new Gauge({
        name: figure.name, help: figure.help, registers,
        async collect() {
          const value = await figure.read()
          if (value === undefined) this.reset()
          else this.set(value)
        },
      })
    }
    new Gauge({
      name: 'annal_storage_writable', help: '1 while the ledger is open and can write, else 0 (from a failed write until it recovered).', registers,
      collect() {
        this.set(!ledger.closed && ledger.writeHealth.ok ? 1 : 0)
      },
    })
  }
}

/** `GET /metrics` in the Prometheus text format, for a listener of its own. */
export function metricsApp(metrics: ServerMetrics): Hono {
  const app = new Hono()
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }))
  return app
}
