import { writeHealthReason } from '@annal/storage'
import type { Hono } from 'hono'
import { type AppEnv, type Services, allowPublic } from './context.js'
import { ACCESS_LOG } from './scopes.js'

/** Whether the server can take appends now, and if not, why (one short reason a check). */
export interface Readiness {
  readonly ready: boolean
  readonly reasons: readonly string[]
}

/**
 * The readiness checks: the ledger is open and its database can write (after a write fault the
 * ledger reopens and checks it by itself, and this turns ready again once it has); the access
 * log, which records every append, is there; and every witnessed log has at least k of its
 * policy's witnesses configured and not failing, so that new checkpoints can meet it.
 */
export class ReadinessCheck {
  readonly #services: Services

  constructor(services: Services) {
    this.#services = services
  }

  check(): Readiness {
    const { ledger, witnessing } = this.#services
    if (ledger.closed) return { ready: false, reasons: ['storage: the ledger is closed'] }
    const reasons: string[] = []
    const storage = writeHealthReason(ledger.writeHealth)
    if (storage !== undefined) reasons.push(storage)
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

/** `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"not ready","reasons":[...]}`. */
export function readinessRoute(app: Hono<AppEnv>, check: ReadinessCheck): void {
  app.get('/readyz', (c) => {
    allowPublic(c)
    const { ready, reasons } = check.check()
    c.header('Cache-Control', 'no-store')
    return ready ? c.json({ status: 'ready' }) : c.json({ status: 'not ready', reasons }, 503)
  })
}
