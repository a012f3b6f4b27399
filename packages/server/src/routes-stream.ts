// A live tail of a log as server-sent events.
import type { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { TlogError } from '@annal/tlog'
import { type AppEnv, type Services, authorize } from './context.js'
import { entryJson, parseEntry } from './entry-json.js'
import { KEEPALIVE_MS, grown } from './event-streams.js'
import { countParam } from './params.js'

/** Entries read at once by a stream: what it holds in memory, with one inline payload. */
const STREAM_CHUNK = 100

/**
 * GET /v1/logs/{log}/stream (`log:read`; `audit:read` for `access` and `alerts`): each entry as
 * `event: entry`, `id:` its index, `data:` the entry as GET .../entries/{ref} serves it.
 */
export function streamRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger, limits, streams } = services

  app.get('/v1/logs/:log/stream', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    // A reconnecting client sends the last id it saw; a new one may name where to start.
    const lastId = c.req.header('last-event-id')
    const from = c.req.query('from')
    let next = lastId !== undefined ? countParam(lastId, 'Last-Event-ID') + 1
      : from !== undefined ? countParam(from, 'from') : log.size
    if (next > log.size) throw new TlogError('SIZE_OUT_OF_RANGE', 'the stream would start past the end of the log')
    const release = streams.take()
    const inline = { bytes: limits.pageBytes, depth: limits.jsonDepth }
    return streamSSE(c, async (stream) => {
      const closed = new Promise<void>((resolve) => stream.onAbort(resolve))
      const stop = Promise.race([closed, streams.ending])
      let ended = false
      void stop.then(() => { ended = true })
      try {
        while (!ended && !stream.aborted && !stream.closed) {
          const size = log.size
          if (next < size) {
            for (const entry of await log.entries(next, Math.min(STREAM_CHUNK, size - next))) {
              if (ended) break
              await stream.writeSSE({ id: String(entry.index), event: 'entry', data: await entryJson(ledger, parseEntry(entry), inline) })
              next = entry.index + 1
            }
            continue
          }
          let timer: ReturnType<typeof setTimeout> | undefined
          const keepalive = new Promise<void>((resolve) => { timer = setTimeout(resolve, KEEPALIVE_MS) })
          const grew = await grown(log, size, Promise.race([stop, keepalive]))
          clearTimeout(timer)
          if (!grew && !ended) await stream.write(': keepalive\n\n')
        }
      } finally {
        release()
      }
    })
  })
}
