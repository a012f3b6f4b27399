// Raw HTTP/1.1 exchanges for the services' tests: what a client that does not play by the rules
// sends, and all the server answers before it closes the connection. `@annal/http/testing`.
import { connect } from 'node:net'

/**
 * Connects to 127.0.0.1:`port`, writes `parts` in order, and resolves with everything the server
 * sent once it closed the connection. A reset after the answer (the server closing with some of
 * the upload unread) is not an error; the answer has been read by then.
 */
export function exchange(port: number, parts: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      for (const part of parts) socket.write(part)
    })
    let data = ''
    socket.on('data', (chunk) => { data += chunk.toString('latin1') })
    socket.on('error', () => undefined)
    socket.on('close', () => resolve(data))
  })
}

/** A chunked body of 64 KiB in 1 KiB chunks without its last chunk: only the server can end the exchange. */
export const UNENDING_CHUNKED_BODY: readonly string[] = Array.from({ length: 64 }, () => `400\r\n${'x'.repeat(1024)}\r\n`)

export { parsePrometheus, sampleValue, scrape } from './prometheus.js'
export type { Sample } from './prometheus.js'
