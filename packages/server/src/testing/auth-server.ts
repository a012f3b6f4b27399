import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JSONWebKeySet } from 'jose'

/** A test authorization server: serves a JWKS over HTTP on an ephemeral loopback port. */
export class TestAuthServer {
  jwks: JSONWebKeySet
  fetches = 0
  /** When set, the JWKS endpoint answers with this status instead. */
  failWith: number | undefined
  readonly #server: Server
  #port = 0

  private constructor(jwks: JSONWebKeySet) {
    this.jwks = jwks
    this.#server = createServer((request, response) => {
      if (request.url !== '/jwks.json') {
        response.writeHead(404).end()
        return
      }
      this.fetches++
      if (this.failWith !== undefined) {
        response.writeHead(this.failWith).end()
        return
      }
      response.writeHead(200, { 'Content-Type': 'application/jwk-set+json' }).end(JSON.stringify(this.jwks))
    })
  }

  static async start(jwks: JSONWebKeySet): Promise<TestAuthServer> {
    const server = new TestAuthServer(jwks)
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve))
    server.#port = (server.#server.address() as AddressInfo).port
    return server
  }

  get jwksUrl(): string {
    return `http://127.0.0.1:${this.#port}/jwks.json`
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
