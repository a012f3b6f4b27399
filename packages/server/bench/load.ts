// The load generator of `npm run bench`, run in its own process (bench/server.bench.ts forks it):
// N keep-alive connections, each sending one request after another, until a request count or
// a deadline is reached. Bodies are made per request from a counter and the loader's own tag,
// so no two are alike, across phases too.
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { pathToFileURL } from 'node:url'

export interface LoadJob {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** `json`: one 256-byte JSON event; `ndjson`: `eventsPerRequest` of them, one a line. */
  readonly body: 'json' | 'ndjson'
  readonly eventsPerRequest: number
  readonly connections: number
  readonly maxRequests: number
  readonly maxSeconds: number
  /** Answers with another status count as errors, not in rates or latencies. */
  readonly expectStatus: number
}

export interface LoadResult {
  /** Answers with the expected status: the only ones rates count. */
  readonly ok: number
  /** Answers with another status, and transport failures. */
  readonly errors: number
  /** Statuses seen other than the expected one, with counts (`error` for transport failures). */
  readonly unexpected: Readonly<Record<string, number>>
  readonly seconds: number
  /** Latencies of the answers with the expected status. */
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** CPU time of this process (user + system) over the run, in seconds. */
  readonly cpuSeconds: number
}

export const EVENT_BYTES = 256
// Events carry the loader process's own tag and a counter that runs on across its jobs, so that
// no phase repeats the events of a warm-up or an earlier run (a repeat is a duplicate, which
// appends differently).
const PREFIX = `{"type":"user.login","actor":"svc-payments","ip":"203.0.113.7","run":"${randomBytes(4).toString('hex')}","seq":`
let sequence = 0

/** A JSON event of exactly EVENT_BYTES bytes, different each call. */
export function event(): string {
  const head = `${PREFIX}${sequence++},"pad":"`
  return `${head}${'x'.repeat(EVENT_BYTES - head.length - 2)}"}`
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const url = new URL(job.url)
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections })
  const latencies = new Float64Array(job.maxRequests)
  const unexpected: Record<string, number> = {}
  let issued = 0
  let ok = 0
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  const deadline = start + job.maxSeconds * 1000
  const send = (body: string): Promise<string> => new Promise((resolve) => {
    const outgoing = request({
      agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { ...job.headers, 'Content-Length': String(Buffer.byteLength(body)) },
    }, (response) => {
      response.resume()
      response.on('end', () => resolve(String(response.statusCode)))
      response.on('error', () => resolve('error'))
    })
    outgoing.on('error', () => resolve('error'))
    outgoing.end(body)
  })
  await Promise.all(Array.from({ length: job.connections }, async () => {
    while (issued < job.maxRequests && performance.now() < deadline) {
      issued++
      const body = job.body === 'json' ? event() : Array.from({ length: job.eventsPerRequest }, event).join('\n')
      const sent = performance.now()
      const status = await send(body)
      if (status === String(job.expectStatus)) latencies[ok++] = performance.now() - sent
      else unexpected[status] = (unexpected[status] ?? 0) + 1
    }
  }))
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuStart)
  agent.destroy()
  const sorted = latencies.subarray(0, ok).sort()
  const at = (q: number): number => sorted[Math.min(ok - 1, Math.floor(q * ok))] ?? Number.NaN
  return {
    ok,
    errors: Object.values(unexpected).reduce((a, b) => a + b, 0),
    unexpected,
    seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: sorted[ok - 1] ?? Number.NaN,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }
}

// Forked: run each job sent, one at a time, answering with its result, until the parent
// disconnects. (Imported, it does nothing.)
if (process.send !== undefined && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('message', (job: LoadJob) => {
    runLoad(job).then((result) => process.send!(result), (error: unknown) => {
      console.error(error)
      process.exit(1)
    })
  })
  process.once('disconnect', () => process.exit(0))
}
