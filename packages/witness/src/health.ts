import { writeHealthReason } from '@annal/storage'
import type { Hono } from 'hono'
import type { Witness } from './witness.js'

/**
 * `GET /healthz`: 200 while the process serves. `GET /readyz`: 200 while the witness can store
 * what it cosigns; else 503 with the reason. After a write fault its database recovers by
 * itself (RecoveringDriver), and it turns ready again then.
 */
export function healthRoutes(app: Hono, witness: Witness): void {
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', (c) => {
    const reason = writeHealthReason(witness.writeHealth)
    c.header('Cache-Control', 'no-store')
    if (reason === undefined) return c.json({ status: 'ready' })
    return c.json({ status: 'not ready', reasons: [reason] }, 503)
  })
}
