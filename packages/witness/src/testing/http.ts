import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A plain node:http listener on 127.0.0.1, any free port, for tests. */
export interface TestServer {
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

export async function listenOnLoopback(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<TestServer> {
  const server: Server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

/** A port that was free a moment ago (bound, read, released). */
export async function freePort(): Promise<number> {
  const server = await listenOnLoopback(() => undefined)
  await server.close()
  return server.port
}

/** A webhook receiver: every POSTed JSON body, in arrival order. */
export async function webhookReceiver(): Promise<TestServer & { readonly received: unknown[] }> {
  const received: unknown[] = []
  const server = await listenOnLoopback((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      response.writeHead(204).end()
    })
  })
  return Object.assign(server, { received })
}

/** Polls `check` every 20 ms until it is true; throws after `limitMs`. Returns the time taken. */
export async function waitFor(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const start = performance.now()
  while (!(await check())) {
    if (performance.now() - start > limitMs) throw new Error(`not within ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return performance.now() - start
}
