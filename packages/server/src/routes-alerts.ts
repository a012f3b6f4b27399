import type { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { requestBody } from '@annal/http'
import { parseJson } from './body.js'
import { type AppEnv, type Services, allowPublic, authorize } from './context.js'
import { countParam } from './params.js'
import { parseWindow } from './scope-review.js'
import { splitViewAlert } from './witness-evidence.js'
import { ApiError } from './errors.js'
import { KEEPALIVE_MS } from './event-streams.js'

/** Subject members an alert listing can be filtered on. */
const SUBJECT_FILTERS = ['client_id', 'sub', 'remote_address', 'log'] as const
/** Most alerts-log entries one listing reads, so that a filter that matches little stays cheap. */
const MAX_SCAN = 10_000
const utf8 = new TextDecoder()

/** The alerts (`audit:read`), the witness evidence webhook, and the scope review. */
export function alertRoutes(app: Hono<AppEnv>, services: Services): void {
  const { alerts, streams } = services

  app.get('/v1/alerts', async (c) => {
    authorize(c, 'audit:read')
    const log = alerts.log
    const start = countParam(c.req.query('start'), 'start', 0)
    const limit = Math.min(countParam(c.req.query('limit'), 'limit', 100), services.limits.listEntries)
    const rule = c.req.query('rule')
    const sinceText = c.req.query('since')
    const since = sinceText === undefined ? undefined : Date.parse(sinceText)
    if (since !== undefined && Number.isNaN(since)) throw new ApiError('REQUEST_MALFORMED', 'since is an RFC 3339 time')
    const subject = SUBJECT_FILTERS.flatMap((name) => {
      const value = c.req.query(name)
      return value === undefined ? [] : [[name, value] as const]
    })
    const size = log.size
    const found: { index: number; id: string; alert: Record<string, any> }[] = []
    let next = Math.min(start, size)
    while (next < size && next - start < MAX_SCAN && found.length < limit) {
      for (const entry of await log.entries(next, Math.min(1_000, size - next))) {
        next = entry.index + 1
        const alert = JSON.parse(utf8.decode(entry.data)) as Record<string, any>
        const matches = (rule === undefined || alert.rule === rule) && (since === undefined || Date.parse(alert.time) >= since)
          && subject.every(([name, value]) => alert.subject?.[name] === value)
        if (matches) found.push({ index: entry.index, id: entry.id, alert })
        if (found.length === limit) break
      }
    }
    return c.json({ size, next, evaluated: alerts.evaluated, alerts: found })
  })

  app.get('/v1/alerts/stream', async (c) => {
    authorize(c, 'audit:read')
    // A reconnecting EventSource sends the last id it saw; a new client may name where to start.
    const lastId = c.req.header('last-event-id')
    const from = c.req.query('from')
    let next = lastId !== undefined ? countParam(lastId, 'Last-Event-ID') + 1
      : from !== undefined ? countParam(from, 'from') : alerts.log.size
    const release = streams.take()
    return streamSSE(c, async (stream) => {
      const closed = Promise.race([new Promise<void>((resolve) => stream.onAbort(resolve)), streams.ending])
      let ended = false
      void closed.then(() => { ended = true })
      try {
        while (!ended && !stream.aborted && !stream.closed) {
          const size = alerts.log.size
          if (next < size) {
            for (const entry of await alerts.log.entries(next, Math.min(100, size - next))) {
              await stream.writeSSE({ id: String(entry.index), event: 'alert', data: utf8.decode(entry.data) })
              next = entry.index + 1
            }
            continue
          }
          let timer: ReturnType<typeof setTimeout> | undefined
          const keepalive = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), KEEPALIVE_MS) })
          const quiet = await Promise.race([alerts.changed().then(() => false), closed.then(() => false), keepalive])
          clearTimeout(timer)
          if (quiet) await stream.write(': keepalive\n\n')
        }
      } finally {
        release()
      }
    })
  })

  // A witness's webhook (packages/witness posts its split-view evidence as JSON): no token, as
  // the evidence proves itself (see splitViewAlert).
  app.post('/v1/alerts/witness-evidence', async (c) => {
    allowPublic(c)
    const body = parseJson(await requestBody(c, services.limits.bodyBytes, { timeoutMs: services.limits.bodyTimeoutMs }))
    const { draft, key } = splitViewAlert(services.ledger, body, services.clock())
    const index = await alerts.raise(draft, key)
    return c.json({ index: index ?? null }, index === undefined ? 200 : 201)
  })

  app.get('/v1/admin/activity', async (c) => {
    authorize(c, 'audit:read')
    const window = parseWindow(c.req.query('since') ?? '24h')
    if (window === undefined) throw new ApiError('REQUEST_MALFORMED', 'since is a window such as 24h, 7d or 90m, at most 400d')
    const now = services.clock().getTime()
    const { bucketMs, buckets } = await alerts.activity(now - window, now)
    return c.json({
      since: new Date(now - window).toISOString(), until: new Date(now).toISOString(), bucket_ms: bucketMs,
      evaluated: alerts.evaluated, buckets,
    })
  })

  app.get('/v1/admin/scope-review', async (c) => {
    authorize(c, 'audit:read')
    const window = parseWindow(c.req.query('since') ?? '30d')
    if (window === undefined) throw new ApiError('REQUEST_MALFORMED', 'since is a window such as 30d, 12h or 90m, at most 400d')
    const now = services.clock().getTime()
    const since = now - window
    const { evaluated, principals } = await alerts.review(since)
    const head = JSON.stringify({ since: new Date(since).toISOString(), until: new Date(now).toISOString(), evaluated })
    // The principals come as JSON texts (see reviewJson): joined, not parsed and written again.
    return c.body(`${head.slice(0, -1)},"principals":[${principals.join(',')}]}`, 200, { 'Content-Type': 'application/json' })
  })
}
