// The witness's Prometheus metrics: requests and add-checkpoint outcomes counted as answered,
// writes as they settle, evidence and cosigned sizes read when scraped. Labels take route
// patterns, statuses and the configured origins only.
import { type DriverWrite, diskFigures, faultCode, isWriteFault } from '@annal/storage'
import { Hono, type MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Witness } from './witness.js'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * A witness's metrics, in a registry of their own. Give `wrote` to the WatchedDriver the witness
 * writes through, and `middleware` to its app (WitnessAppOptions.metrics); then `bind` it.
 */
export class WitnessMetrics {
  readonly registry = new Registry()
  readonly #requests: Counter<'method' | 'route' | 'status'>
  readonly #addCheckpoint: Counter<'status'>
  readonly #writeSeconds: Histogram<'sync'>
  readonly #writeErrors: Counter<'code'>

  /** `directory`: the database's, for its disk gauges. */
  constructor(readonly directory: string) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#requests = new Counter({
      name: 'annal_http_requests_total', help: 'Requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'], registers,
    })
    this.#addCheckpoint = new Counter({
      name: 'annal_witness_add_checkpoint_total', help: 'add-checkpoint requests by the status answered (200 cosigned, 409, 422, 403, ...).',
      labelNames: ['status'], registers,
    })
    this.#writeSeconds = new Histogram({
      name: 'annal_storage_write_duration_seconds', help: 'Writes to the database, synced or not.',
      labelNames: ['sync'], buckets: LATENCY_BUCKETS, registers,
    })
    this.#writeErrors = new Counter({
      name: 'annal_storage_write_errors_total', help: 'Writes the database refused, by error code (ENOSPC, EIO, ...).',
      labelNames: ['code'], registers,
    })
  }

  readonly wrote = (write: DriverWrite): void => {
    this.#writeSeconds.observe({ sync: String(write.sync) }, write.seconds)
    if (isWriteFault(write.error)) this.#writeErrors.inc({ code: faultCode(write.error) })
  }

  readonly middleware: MiddlewareHandler = async (c, next) => {
    await next()
    // The last route matched is the one that answered; only this middleware's own means none did.
    const path = routePath(c, -1)
    const route = path === '*' || path === '/*' || path === '' ? 'unmatched' : path
    const status = String(c.res.status)
    this.#requests.inc({ method: c.req.method, route, status })
    if (route === '/add-checkpoint' && c.req.method === 'POST') this.#addCheckpoint.inc({ status })
  }

  /** Adds the gauges read from `witness` and its database when scraped. */
  bind(witness: Witness): void {
    const registers = [this.registry]
    new Gauge({
      name: 'annal_witness_evidence_held', help: '1 for an origin whose split-view evidence is held (cosigning it is stopped), else 0.',
      labelNames: ['origin'], registers,
      async collect() {
        const held = new Set((await witness.evidence()).map((evidence) => evidence.origin))
        this.reset()
        for (const log of await witness.logs()) this.set({ origin: log.origin }, held.has(log.origin) ? 1 : 0)
      },
    })
    new Gauge({
      name: 'annal_witness_cosigned_size', help: 'The size of the latest checkpoint cosigned for each origin.', labelNames: ['origin'], registers,
      async collect() {
        this.reset()
        for (const log of await witness.logs()) if (log.latest !== undefined) this.set({ origin: log.origin }, log.latest.size)
      },
    })
    new Gauge({
      name: 'annal_storage_writable', help: '1 while the database can write, else 0 (from a failed write until it recovered).', registers,
      collect() {
        this.set(witness.writeHealth.ok ? 1 : 0)
      },
    })
    for (const figure of diskFigures(this.directory, 'the witness database')) {
      new Gauge({
        name: figure.name, help: figure.help, registers,
        async collect() {
          const value = await figure.read()
          if (value === undefined) this.reset()
          else this.set(value)
        },
      })
    }
  }
}

/** `GET /metrics` in the Prometheus text format, for a listener of its own. */
export function metricsApp(metrics: WitnessMetrics): Hono {
  const app = new Hono()
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }))
  return app
}
