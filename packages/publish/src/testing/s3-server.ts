// A real S3-compatible server for tests: s3rver (objects in a directory, SigV4 checked with
// the S3RVER/S3RVER key pair) on a listener of ours, which can be stopped and started again on
// the same port, and made to answer chosen requests with an error.
/// <reference path="./s3rver.d.ts" />
import { Agent, type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import S3rver from 's3rver'

/** The key pair s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

/** Hosts under s3.<this> reach the server when resolved to 127.0.0.1 (see vhostAgent). */
export const VHOST_DOMAIN = 'annal.test'

/** An HTTP agent that resolves every host to 127.0.0.1, for virtual-hosted requests to a TestS3Server. */
export function vhostAgent(): Agent {
  return new Agent({
    lookup: ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }])
      else callback(null, '127.0.0.1', 4)
    }) as never,
  })
}

/** A request as the fault hook sees it: its method, host, and bucket and key as a path-style request names them. */
export interface S3Request {
  readonly method: string
  /** The Host header: `<bucket>.s3.annal.test:<port>` for a virtual-hosted request. */
  readonly host: string
  readonly bucket: string
  readonly key: string
}

export class TestS3Server {
  readonly bucket: string
  readonly #s3rver: S3rver
  readonly #handler: ReturnType<S3rver['callback']>
  #server: Server | undefined
  #port = 0
  /** A status to answer a request with instead of s3rver, or undefined to pass it on. */
  fault: ((request: S3Request) => number | undefined) | undefined
  /** Requests answered (by s3rver or a fault), for counting. */
  readonly requests: S3Request[] = []
  /** The most requests in progress at once. */
  maxInFlight = 0
  #inFlight = 0

  private constructor(directory: string, bucket: string) {
    this.bucket = bucket
    // Virtual-hosted requests name the bucket in the host: <bucket>.s3.annal.test.
    this.#s3rver = new S3rver({ silent: true, directory, configureBuckets: [{ name: bucket }], serviceEndpoint: VHOST_DOMAIN })
    this.#handler = this.#s3rver.callback()
  }

  /** Starts a server keeping its objects in `directory`, with `bucket` made. */
  static async start(directory: string, bucket: string): Promise<TestS3Server> {
    const server = new TestS3Server(directory, bucket)
    await server.#s3rver.configureBuckets()
    await server.listen()
    return server
  }

  /** `http://127.0.0.1:<port>`: the endpoint, also while stopped. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /** The URL an anonymous GET reads the object `key` from. */
  objectUrl(key: string): string {
    return `${this.url}/${this.bucket}/${key}`
  }

  /** Listens again, on the port it had (or a free one the first time). */
  async listen(): Promise<void> {
    const server = createServer((request, response) => this.#serve(request, response))
    // Longer than any test: a client must never send on a connection the server is just closing.
    server.keepAliveTimeout = 120_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, '127.0.0.1', () => resolve())
    })
    this.#port = (server.address() as AddressInfo).port
    this.#server = server
  }

  /** Stops listening and drops every connection: requests to it fail until listen(). */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    const closed = new Promise((resolve) => server.close(resolve))
    server.closeAllConnections()
    await closed
  }

  async close(): Promise<void> {
    await this.stop()
    this.#s3rver.logger.close()
  }

  #serve(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const [, bucket = '', ...key] = url.pathname.split('/')
    const seen: S3Request = { method: request.method ?? '', host: request.headers.host ?? '', bucket, key: decodeURIComponent(key.join('/')) }
    this.requests.push(seen)
    this.#inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight)
    response.once('close', () => this.#inFlight--)
    const status = this.fault?.(seen)
    if (status === undefined) {
      this.#handler(request, response)
      return
    }
    request.resume()
    response.writeHead(status, { 'Content-Type': 'application/xml' })
    response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>fault injected</Message></Error>')
  }
}
