import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'
import { PROBLEMS, problemFor } from './problem.js'
import { BodyError, type ProblemBody, problemHeaders } from '@annal/http'
import { ApiError } from './errors.js'

export interface ServeOptions {
  /** Default 127.0.0.1: loopback only, unless asked. */
  readonly host?: string
  /** Default 0: an ephemeral port. */
  readonly port?: number
  /** Longest a whole request (headers and body) may take, in ms; slow uploads are cut off. Default 30,000. */
  readonly requestTimeoutMs?: number
  /** How long `close` lets in-flight requests finish before cutting connections, in ms. Default 10,000. */
  readonly closeGraceMs?: number
  /**
   * How long `close` keeps an idle keep-alive connection open, in ms, so that a request its
   * client sends meanwhile is answered (with `Connection: close`) rather than cut. Default 1,000.
   */
  readonly idleGraceMs?: number
  /**
   * Told of each request that Node's HTTP parser refused before the app saw it (headers too
   * large, malformed, too slow), after the problem answer went out: to record it.
   */
  readonly onRefused?: (refusal: Refusal) => void
}

/** A request refused by the HTTP server itself, before the app. */
export interface Refusal {
  /** Made for the refusal, and sent as its X-Request-Id. */
  readonly requestId: string
  readonly status: number
  readonly code: string
  /** The request's method, when the parser got that far. */
  readonly method?: string
  readonly remoteAddress?: string
}

export interface RunningServer {
  readonly server: Server
  readonly host: string
  readonly port: number
  /** `http://host:port`, with IPv6 hosts bracketed. */
  readonly url: string
  /**
   * Stops accepting, answers every request it has read (with `Connection: close` from then on),
   * lets in-flight requests finish (up to the grace period), then resolves.
   */
  close(): Promise<void>
}

/** How long the 503s of requests still running at the end of the grace period have to go out. */
const REFUSAL_FLUSH_MS = 1_000

/** Node's parser errors that a client can be told of, and how. */
const PARSER_REFUSALS: Record<string, ApiError | BodyError> = {
  HPE_HEADER_OVERFLOW: new ApiError('HEADERS_TOO_LARGE', 'the request headers are too large (a token of many kilobytes?)'),
  ERR_HTTP_REQUEST_TIMEOUT: new BodyError('BODY_TIMEOUT', 'the request did not arrive in time'),
  ERR_HTTP_HEADERS_TIMEOUT: new BodyError('BODY_TIMEOUT', 'the request headers did not arrive in time'),
}
const MALFORMED = new ApiError('REQUEST_MALFORMED', 'the request is not valid HTTP/1.1')

/**
 * Listens with `app` on `host:port` (Node's http server through @hono/node-server).
 * Resolves once listening; rejects if the address cannot be bound.
 */
export async function serve(app: Pick<Hono, 'fetch'>, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1'
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 10_000),
      // How often Node looks for requests past their timeout; its default is 30 s.
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
    },
  }) as Server
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    refuseUnparsed(error, socket, options.onRefused)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const grace = options.closeGraceMs ?? 10_000
  const idleGrace = options.idleGraceMs ?? 1_000
  let closing: Promise<void> | undefined
  return {
    server,
    host,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        // Each answer from now on ends its connection: the answers in flight, and those to
        // requests that keep-alive clients send on their open connections meanwhile.
        for (const socket of sockets) lastAnswer(currentResponse(socket))
        server.on('request', (_request: IncomingMessage, response: ServerResponse) => lastAnswer(response))
        // An idle connection cannot be told to stop: a client may be sending on it as it closes.
        // Kept a while, an active client's next request comes, gets its answer and the close.
        const idle = setTimeout(() => server.closeIdleConnections(), idleGrace)
        let cut: ReturnType<typeof setTimeout> | undefined
        const timer = setTimeout(() => {
          // A refused request's connection ends once its 503 is out; the rest are cut now, and
          // any whose 503 a client does not take shortly after.
          for (const socket of sockets) if (!refuseInFlight(currentResponse(socket))) socket.destroy()
          cut = setTimeout(() => server.closeAllConnections(), REFUSAL_FLUSH_MS)
          cut.unref()
        }, grace)
        idle.unref()
        timer.unref()
        // net's close, not http's: http's also closes the idle connections at once, which is
        // the moment a keep-alive client may be sending on one.
        NetServer.prototype.close.call(server, (error?: Error) => {
          clearTimeout(idle)
          clearTimeout(timer)
          clearTimeout(cut)
          if (error) reject(error)
          else resolve()
        })
      })
      return closing
    },
  }
}

/** The response a connection is writing, if any (Node keeps it on the socket). */
function currentResponse(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage ?? undefined
}

/** Marks `response` as its connection's last, unless its head is already out. */
function lastAnswer(response: ServerResponse | undefined): void {
  if (response !== undefined && !response.headersSent) response.setHeader('Connection', 'close')
}

/**
 * At the end of the grace period: a request still running is answered 503, not cut without a
 * word. True when it was answered (its answer had not begun).
 */
function refuseInFlight(response: ServerResponse | undefined): boolean {
  if (response === undefined || response.headersSent) return false
  const body = problemFor(new ApiError('SHUTTING_DOWN', 'the server is stopping; retry'))
  const text = JSON.stringify(body)
  response.writeHead(body.status, closingHeaders(body, { 'Retry-After': '1', 'Content-Length': String(Buffer.byteLength(text)) }))
  response.end(text)
  return true
}

/**
 * Answers a request that Node's parser refused with a problem instead of Node's bare status line,
 * and reports it. A socket that cannot be written (the client went away) is just destroyed.
 */
function refuseUnparsed(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket,
    onRefused: ServeOptions['onRefused']): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const refused = PARSER_REFUSALS[error.code ?? ''] ?? MALFORMED
  const body = problemFor(refused)
  const requestId = randomUUID()
  const text = JSON.stringify(body)
  const head = Object.entries(closingHeaders(body, { 'X-Request-Id': requestId, 'Content-Length': String(Buffer.byteLength(text)) }))
    .map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.end(`HTTP/1.1 ${body.status} ${PROBLEMS[refused.code].title}\r\n${head}\r\n${text}`)
  const method = /^([A-Z]{1,20}) /.exec(error.rawPacket?.subarray(0, 24).toString('latin1') ?? '')?.[1]
  onRefused?.({ requestId, status: body.status, code: body.code, method, remoteAddress: socket.remoteAddress })
}

/** The problem's headers, and the connection's end: nothing more is read on it. */
function closingHeaders(body: ProblemBody, extra: Record<string, string>): Record<string, string> {
  return { ...problemHeaders(body), Connection: 'close', ...extra }
}
