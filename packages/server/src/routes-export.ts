// Exporting a log as NDJSON, for a SIEM to ingest and resume.
import type { Log } from '@annal/store'
import { TlogError } from '@annal/tlog'
import type { Hono } from 'hono'
import { type AppEnv, type Services, authorize } from './context.js'
import { countParam } from './params.js'

/** Entries read and written per chunk of an export: the most it holds in memory at once. */
const EXPORT_CHUNK = 256

/** GET /v1/logs/{log}/export (`log:read`; `audit:read` for the access log). */
export function exportRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger } = services

  app.get('/v1/logs/:log/export', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const since = countParam(c.req.query('since'), 'since', 0)
    const end = log.size
    if (since > end) throw new TlogError('SIZE_OUT_OF_RANGE', 'since is past the end of the log')
    return c.body(exportStream(log, since, end), 200, {
      'Content-Type': 'application/x-ndjson', 'Cache-Control': 'private, no-cache', 'Annal-Export-End': String(end),
    })
  })
}

/**
 * Entries from `since` below `end` as NDJSON, `{"entry":<leaf JSON>,"index":i,"id":"<hex>"}` a
 * line (`leaf_base64` instead of `entry` for a leaf that is not JSON), read a chunk at a time
 * when the socket wants more: memory stays bounded however large the log, and a client that
 * stops reading stops the reads.
 */
export function exportStream(log: Log, since: number, end: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let next = since
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next >= end) {
        controller.close()
        return
      }
      const entries = await log.entries(next, Math.min(EXPORT_CHUNK, end - next))
      next += entries.length
      controller.enqueue(encoder.encode(entries.map((entry) => exportLine(entry.data, entry.index, entry.id)).join('')))
    },
  }, { highWaterMark: 1 })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** One export line; a leaf's JSON goes out as stored unless a line break in it would split the line. */
export function exportLine(leaf: Uint8Array, index: number, id: string): string {
  const tail = `,"index":${index},"id":"${id}"}\n`
  let text: string | undefined
  try {
    text = utf8.decode(leaf)
    const value = JSON.parse(text) as unknown
    if (/[\r\n]/.test(text)) text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  return text === undefined ? `{"leaf_base64":"${Buffer.from(leaf).toString('base64')}"${tail}` : `{"entry":${text}${tail}`
}
