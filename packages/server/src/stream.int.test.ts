import { afterEach, describe, expect, it } from 'vitest'
import { endStreams } from './app.js'
import { type LiveHarness, bearer, expectProblem, liveHarness } from './testing/fixture.js'

let h: LiveHarness

afterEach(async () => {
  await h?.close()
})

interface ServerEvent {
  readonly id: string
  readonly event: string
  readonly data: string
}

/** Reads the server-sent events of an open response, a few at a time. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<string>
  #buffer = ''

  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  }

  /** The next `count` events, or those before the stream ended. */
  async read(count: number): Promise<{ events: ServerEvent[]; ended: boolean }> {
    const events: ServerEvent[] = []
    for (;;) {
      let end: number
      while (events.length < count && (end = this.#buffer.indexOf('\n\n')) !== -1) {
        const block = this.#buffer.slice(0, end)
        this.#buffer = this.#buffer.slice(end + 2)
        const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? ''
        if (!block.startsWith(':')) events.push({ id: field('id'), event: field('event'), data: field('data') })
      }
      if (events.length === count) return { events, ended: false }
      const { done, value } = await this.#reader.read()
      if (done) return { events, ended: true }
      this.#buffer += value
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel()
  }
}

async function append(token: string, events: readonly unknown[]): Promise<void> {
  for (const event of events) {
    const response = await fetch(h.url('/v1/logs/audit/entries'), {
      method: 'POST', body: JSON.stringify(event), headers: { ...bearer(token), 'content-type': 'application/json' },
    })
    expect(response.status).toBe(201)
  }
}

describe('GET /v1/logs/{log}/stream', () => {
  it('streams entries as served from `from`, follows appends, and resumes after Last-Event-ID', async () => {
    h = await liveHarness()
    await h.ledger.createLog('audit')
    const appender = await h.mint.token({ scope: 'log:append' })
    const reader = await h.mint.token({ scope: 'log:read' })
    await append(appender, [{ n: 0 }, { n: 1 }])
    const response = await fetch(h.url('/v1/logs/audit/stream?from=1'), { headers: bearer(reader) })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    const events = new EventReader(response)
    const first = await events.read(1)
    await append(appender, [{ n: 2 }])
    const second = await events.read(1)
    await events.cancel()
    const seen = [...first.events, ...second.events]
    expect(seen.map(({ id, event }) => [id, event])).toEqual([['1', 'entry'], ['2', 'entry']])
    const entry = JSON.parse(seen[1]!.data) as { index: number; id: string; payload: unknown; envelope: { type: string } }
    expect(entry).toMatchObject({ index: 2, payload: { n: 2 }, envelope: { type: 'annal.event/v1' } })
    const served = await (await fetch(h.url('/v1/logs/audit/entries/2'), { headers: bearer(reader) })).json()
    expect(entry).toEqual(served)

    const resumed = await fetch(h.url('/v1/logs/audit/stream'), { headers: { ...bearer(reader), 'Last-Event-ID': '0' } })
    const reading = new EventReader(resumed)
    const again = await reading.read(2)
    await reading.cancel()
    expect(again.events.map((event) => event.id)).toEqual(['1', '2'])
  })

  it('needs log:read, audit:read for the access log, and refuses a start past the end', async () => {
    h = await liveHarness()
    await h.ledger.createLog('audit')
    const appender = await h.mint.token({ scope: 'log:append' })
    const reader = await h.mint.token({ scope: 'log:read' })
    await expectProblem(await fetch(h.url('/v1/logs/audit/stream'), { headers: bearer(appender) }), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await fetch(h.url('/v1/logs/access/stream'), { headers: bearer(reader) }), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await fetch(h.url('/v1/logs/audit/stream?from=5'), { headers: bearer(reader) }), 400, 'SIZE_OUT_OF_RANGE')
    const access = await fetch(h.url('/v1/logs/access/stream?from=0'), { headers: bearer(h.auditor) })
    const reading = new EventReader(access)
    const { events } = await reading.read(1)
    await reading.cancel()
    expect(JSON.parse(events[0]!.data)).toMatchObject({ index: 0, envelope: { type: 'annal.access/v1' } })
  })

  it('holds at most limits.streams open, and ends them all at endStreams', async () => {
    h = await liveHarness({ app: { limits: { streams: 2 } } })
    await h.ledger.createLog('audit')
    const reader = await h.mint.token({ scope: 'log:read' })
    const open = [
      await fetch(h.url('/v1/logs/audit/stream'), { headers: bearer(reader) }),
      await fetch(h.url('/v1/alerts/stream'), { headers: bearer(h.auditor) }),
    ]
    expect(open.map((response) => response.status)).toEqual([200, 200])
    await expectProblem(await fetch(h.url('/v1/logs/audit/stream'), { headers: bearer(reader) }), 503, 'STREAMS_EXHAUSTED')
    endStreams(h.app)
    for (const response of open) expect(await new EventReader(response).read(1)).toEqual({ events: [], ended: true })
    await expectProblem(await fetch(h.url('/v1/logs/audit/stream'), { headers: bearer(reader) }), 503, 'SHUTTING_DOWN')
  })
})
