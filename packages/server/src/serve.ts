import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'

export interface ServeOptions {
  /** Default 127.0.0.1: loopback only, unless asked. */
  readonly host?: string
  /** Default 0: an ephemeral port. */
  readonly port?: number
  /** Longest a whole request (headers and body) may take, in ms; slow uploads are cut off. Default 30,000. */
  readonly requestTimeoutMs?: number
  /** How long `close` lets in-flight requests finish before cutting connections, in ms. Default 10,000. */
  readonly closeGraceMs?: number
}

export interface RunningServer {
  readonly server: Server
  readonly host: string
  readonly port: number
  /** `http://host:port`, with IPv6 hosts bracketed. */
  readonly url: string
  /** Stops accepting, lets in-flight requests finish (up to the grace period), then resolves. */
  close(): Promise<void>
}

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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const grace = options.closeGraceMs ?? 10_000
  let closing: Promise<void> | undefined
  return {
    server,
    host,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => server.closeAllConnections(), grace)
        timer.unref()
        // A keep-alive client would hold its connection, and so the close, open until Node's
        // keepAliveTimeout: connections are closed once their answer is out, looked for every
        // 50 ms (marking each answer as the last would cost every request a hook).
        const sweep = setInterval(() => server.closeIdleConnections(), 50)
        server.close((error) => {
          clearInterval(sweep)
          clearTimeout(timer)
          if (error) reject(error)
          else resolve()
        })
        server.closeIdleConnections()
      })
      return closing
    },
  }
}
