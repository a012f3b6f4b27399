// GET /v1/logs/{log}/export over a real socket: a SIEM that loses its connection mid-stream
// resumes from the index after the last complete line and ends with every entry exactly once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exportLine } from './routes-export.js'
import { type LiveHarness, bearer, expectProblem, liveHarness } from './testing/fixture.js'

const ENTRIES = 5000
const utf8 = new TextEncoder()
let h: LiveHarness

beforeEach(async () => {
  h = await liveHarness()
  const records = Array.from({ length: ENTRIES }, (_, i) => utf8.encode(JSON.stringify({ n: i, time: '2026-01-01T00:00:00.000Z' })))
  for (let i = 0; i < ENTRIES; i += 1000) await h.ledger.log('access').append(records.slice(i, i + 1000))
})
afterEach(async () => h.close())

interface Line { entry?: Record<string, unknown>; leaf_base64?: string; index: number; id: string }

/** Reads an export until `stopAfter` complete lines (then drops the connection) or its end. */
async function read(since: number, stopAfter = Infinity): Promise<{ lines: Line[]; end: number }> {
  const controller = new AbortController()
  const response = await fetch(h.url(`/v1/logs/access/export?since=${since}`), { headers: bearer(h.auditor), signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('application/x-ndjson')
  const end = Number(response.headers.get('annal-export-end'))
  const decoder = new TextDecoder()
  const lines: Line[] = []
  let partial = ''
  const reader = response.body!.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    const parts = (partial + decoder.decode(value, { stream: true })).split('\n')
    partial = parts.pop()!
    lines.push(...parts.map((part) => JSON.parse(part) as Line))
    if (lines.length >= stopAfter) {
      controller.abort()
      await reader.cancel().catch(() => undefined)
      break
    }
  }
  return { lines, end }
}

describe('GET /v1/logs/{log}/export', () => {
  it('resumes after an interruption with every entry once, in order', async () => {
    const first = await read(0, 1234)
    expect(first.lines.length).toBeLessThan(first.end)
    const second = await read(first.lines.at(-1)!.index + 1)
    const lines = [...first.lines, ...second.lines]
    expect(second.end).toBeGreaterThanOrEqual(first.end)
    expect(lines.map((line) => line.index)).toEqual(Array.from({ length: second.end }, (_, i) => i))
    const stored = await h.ledger.log('access').entries(0, second.end)
    expect(lines.map((line) => line.id)).toEqual(stored.map((entry) => entry.id))
    expect(lines[17]!.entry).toEqual({ n: 17, time: '2026-01-01T00:00:00.000Z' })
  })

  it('needs audit:read for the access log, and a since within the log', async () => {
    const reader = await h.mint.token({ scope: 'log:read' })
    await expectProblem(await fetch(h.url('/v1/logs/access/export'), { headers: bearer(reader) }), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await fetch(h.url('/v1/logs/access/export?since=99999999'), { headers: bearer(h.auditor) }), 400, 'SIZE_OUT_OF_RANGE')
  })
})

describe('exportLine', () => {
  it('keeps a JSON leaf as stored, reflows one with line breaks, and gives others in base64', () => {
    expect(exportLine(utf8.encode('{"a":1}'), 3, 'ab')).toBe('{"entry":{"a":1},"index":3,"id":"ab"}\n')
    expect(exportLine(utf8.encode('{\n"a" : 1}'), 3, 'ab')).toBe('{"entry":{"a":1},"index":3,"id":"ab"}\n')
    expect(exportLine(Uint8Array.of(0xff, 0x0a), 3, 'ab')).toBe('{"leaf_base64":"/wo=","index":3,"id":"ab"}\n')
  })
})
