import type { Hono } from 'hono'
import { type AppEnv, type Services, allowPublic } from './context.js'
import { ACCESS_LOG } from './scopes.js'

/** Whether the server can take appends now, and if not, why (one short reason a check). */
export interface Readiness {
  readonly ready: boolean
  readonly reasons: readonly string[]
}

/** While writes fail, at most one probe write this often, however often readiness is asked. */
const PROBE_INTERVAL_MS = 1_000

/**
 * The readiness checks: the ledger is open and its database could write at its last write
 * (after a failed one, a probe write at most once a second learns whether it can again); the
 * access log, which records every append, is there; and every witnessed log has at least k of
 * its policy's witnesses configured and not failing, so that new checkpoints can meet it.
 */
export class ReadinessCheck {
  readonly #services: Services
  #probedAt = Number.NEGATIVE_INFINITY

  constructor(services: Services) {
    this.#services = services
  }

  async check(): Promise<Readiness> {
    const { ledger, witnessing } = this.#services
    if (ledger.closed) return { ready: false, reasons: ['storage: the ledger is closed'] }
    const reasons: string[] = []
    if (!ledger.writeHealth.ok && Date.now() - this.#probedAt >= PROBE_INTERVAL_MS) {
      this.#probedAt = Date.now()
      await ledger.probeWrite().catch(() => undefined)
    }
    const health = ledger.writeHealth
    if (!health.ok) reasons.push(`storage: writes fail since ${health.since.toISOString()}: ${errorCode(health.error)}`)
    const logs = ledger.logs()
    if (!logs.some((log) => log.name === ACCESS_LOG)) reasons.push('access log: missing')
    if (witnessing !== undefined) {
      const failing = new Set(witnessing.status().filter((s) => s.failures > 0).map((s) => `${s.witness}\n${s.log}`))
      const configured = new Set(witnessing.names)
      for (const { name } of logs) {
        const policy = witnessing.policy(name)
        if (policy === undefined) continue
        const answering = policy.witnesses.filter((witness) => configured.has(witness) && !failing.has(`${witness}\n${name}`)).length
        if (answering < policy.k) reasons.push(`witnesses: log ${name} needs ${policy.k}, ${answering} answering`)
      }
    }
    return { ready: reasons.length === 0, reasons }
  }
}

/**
 * An error's code (ENOSPC, DATABASE_CLOSED), else its name: anyone may ask, and a message may
 * name the data directory.
 */
export function errorCode(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown }
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,39}$/.test(code)) return code
  return typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name) ? name : 'unknown'
}

/** `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"not ready","reasons":[...]}`. */
export function readinessRoute(app: Hono<AppEnv>, check: ReadinessCheck): void {
  app.get('/readyz', async (c) => {
    allowPublic(c)
    const { ready, reasons } = await check.check()
    c.header('Cache-Control', 'no-store')
    return ready ? c.json({ status: 'ready' }) : c.json({ status: 'not ready', reasons }, 503)
  })
}
