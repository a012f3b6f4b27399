import { type IncomingHttpHeaders, type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** How the receiver answers the n-th request (from 0): a status and headers. */
export type Answer = (n: number) => { status: number; headers?: Record<string, string> }

/**
 * A webhook receiver on 127.0.0.1: keeps what it was sent, answers as `answer` says, and can
 * stop and start again on the same port (a receiver outage).
 */
export class Receiver {
  readonly received: Received[] = []
  #server: Server | undefined
  #port = 0
  #waiters: (() => void)[] = []
  answer: Answer

  private constructor(answer: Answer) {
    this.answer = answer
  }

  static async start(answer: Answer = () => ({ status: 204 })): Promise<Receiver> {
    const receiver = new Receiver(answer)
    await receiver.listen()
    return receiver
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`
  }

  async listen(): Promise<void> {
    const server = createServer((request, response) => {
      let body = ''
      request.setEncoding('utf8')
      request.on('data', (chunk) => (body += chunk))
      request.on('end', () => {
        const { status, headers } = this.answer(this.received.length)
        this.received.push({ headers: request.headers, body })
        response.writeHead(status, headers).end()
        for (const wake of this.#waiters.splice(0)) wake()
      })
    })
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve))
    this.#port = (server.address() as AddressInfo).port
    this.#server = server
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    server?.closeAllConnections()
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  }

  /** Resolves once `count` requests have arrived (rejects after `ms`). */
  async until(count: number, ms = 20_000): Promise<Received[]> {
    const deadline = Date.now() + ms
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`the receiver got ${this.received.length} of ${count} requests`)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 200).unref()
      })
    }
    return this.received
  }
}
