import type { Hono } from 'hono'
import type { Witness } from './witness.js'

/** While writes fail, at most one probe write this often, however often readiness is asked. */
const PROBE_INTERVAL_MS = 1_000

/**
 * `GET /healthz`: 200 while the process serves. `GET /readyz`: 200 while the witness can store
 * what it cosigns: its database could write at its last write (after a failed one, a probe
 * write at most once a second learns whether it can again); else 503 with the reason.
 */
export function healthRoutes(app: Hono, witness: Witness): void {
  let probedAt = Number.NEGATIVE_INFINITY
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    if (!witness.writeHealth.ok && Date.now() - probedAt >= PROBE_INTERVAL_MS) {
      probedAt = Date.now()
      await witness.probeWrite().catch(() => undefined)
    }
    const health = witness.writeHealth
    c.header('Cache-Control', 'no-store')
    if (health.ok) return c.json({ status: 'ready' })
    const reason = `storage: writes fail since ${health.since.toISOString()}: ${errorCode(health.error)}`
    return c.json({ status: 'not ready', reasons: [reason] }, 503)
  })
}

/** An error's code (ENOSPC, DATABASE_CLOSED), else its name: anyone may ask, and a message may name the data directory. */
export function errorCode(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown }
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,39}$/.test(code)) return code
  return typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name) ? name : 'unknown'
}
