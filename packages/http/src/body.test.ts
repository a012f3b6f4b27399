import { describe, expect, it } from 'vitest'
import { type BodyOptions, readBody, requestBody } from './body.js'
import { UNENDING_CHUNKED_BODY, exchange } from './testing/index.js'

const code = (code: string) => expect.objectContaining({ name: 'BodyError', code })

function streamOf(chunks: Uint8Array[], fail = false): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      if (fail) controller.error(new Error('connection reset'))
      else controller.close()
    },
  })
}

describe('readBody', () => {
  it('joins the chunks of a body within the limit', async () => {
    const body = streamOf([new Uint8Array([1, 2]), new Uint8Array([3])])
    expect(await readBody({ headers: new Headers(), body }, 3)).toEqual(new Uint8Array([1, 2, 3]))
    expect(await readBody({ headers: new Headers(), body: null }, 3)).toEqual(new Uint8Array(0))
  })

  it('refuses a declared or streamed length over the limit', async () => {
    const declared = new Headers({ 'content-length': '4' })
    await expect(readBody({ headers: declared, body: streamOf([]) }, 3)).rejects.toThrow(code('BODY_TOO_LARGE'))
    const streamed = streamOf([new Uint8Array(2), new Uint8Array(2)])
    await expect(readBody({ headers: new Headers(), body: streamed }, 3)).rejects.toThrow(code('BODY_TOO_LARGE'))
  })

  it('says the transfer broke off', async () => {
    await expect(readBody({ headers: new Headers(), body: streamOf([new Uint8Array(1)], true) }, 3))
      .rejects.toThrow(code('BODY_MALFORMED'))
  })

  it('gives up on a body that does not arrive in time, and stops reading it', async () => {
    let cancelled = false
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(1))
      },
      cancel() {
        cancelled = true
      },
    })
    await expect(readBody({ headers: new Headers(), body: stalled }, 3, { timeoutMs: 50 })).rejects.toThrow(code('BODY_TIMEOUT'))
    expect(cancelled).toBe(true)
    const prompt = streamOf([new Uint8Array([1, 2])])
    expect(await readBody({ headers: new Headers(), body: prompt }, 3, { timeoutMs: 50 })).toEqual(new Uint8Array([1, 2]))
    await expect(readBody({ headers: new Headers(), body: streamOf([]) }, 3, { timeoutMs: 0 })).rejects.toThrow(RangeError)
  })
})

describe('requestBody on a Node server', () => {
  // A real listener on loopback: each test sends a request and reads what the route got.
  // `readAfterMs`: the route reads the body only after this long, as one does after an awaited token check.
  // `onRequest`: what the server does to the message besides reading it.
  async function serveOnce(limit: number, send: (port: number) => Promise<void>, readAfterMs = 0,
      onRequest: (incoming: import('node:http').IncomingMessage) => void = () => undefined,
      options: BodyOptions = {}): Promise<unknown> {
    const { createServer } = await import('node:http')
    let outcome: Promise<unknown> = Promise.resolve(undefined)
    const server = createServer((incoming, response) => {
      onRequest(incoming)
      const read = () => requestBody({ env: { incoming }, req: { raw: { headers: new Headers(), body: null } } }, limit, options)
      outcome = (readAfterMs === 0 ? read() : new Promise((resolve) => setTimeout(resolve, readAfterMs)).then(read))
        .then((bytes) => bytes, (error: unknown) => error)
      void outcome.then(() => response.end('done'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      await send((server.address() as { port: number }).port)
      return await outcome
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }

  function rawRequest(port: number, head: string, chunks: string[], end: 'finish' | 'reset'): Promise<void> {
    return new Promise((resolve) => {
      void import('node:net').then(({ connect }) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(head)
          for (const chunk of chunks) socket.write(chunk)
          if (end === 'reset') setTimeout(() => socket.resetAndDestroy(), 50)
        })
        socket.on('data', () => socket.end())
        socket.on('close', () => resolve())
        socket.on('error', () => resolve())
      })
    })
  }

  it('reads the body from the IncomingMessage, not from a Request', async () => {
    const body = await serveOnce(10, (port) => rawRequest(port,
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ['3\r\nabc\r\n', '2\r\nde\r\n', '0\r\n\r\n'], 'finish'))
    expect(body).toEqual(new TextEncoder().encode('abcde'))
  })

  it('refuses a declared or streamed length over the limit', async () => {
    const declared = await serveOnce(4, (port) => rawRequest(port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n', ['abcde'], 'finish'))
    expect(declared).toEqual(code('BODY_TOO_LARGE'))
    const streamed = await serveOnce(4, (port) => rawRequest(port,
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ['3\r\nabc\r\n', '3\r\ndef\r\n', '0\r\n\r\n'], 'finish'))
    expect(streamed).toEqual(code('BODY_TOO_LARGE'))
  })

  it('says the transfer broke off', async () => {
    const broken = await serveOnce(100, (port) => rawRequest(port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n', ['abc'], 'reset'))
    expect(broken).toEqual(code('BODY_MALFORMED'))
  })

  it('says the transfer broke off when it did so before the route began to read', async () => {
    // The client resets at 50 ms; the route reads at 200 ms, when the message is already destroyed.
    const broken = await serveOnce(100, (port) => rawRequest(port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n', ['abc'], 'reset'), 200)
    expect(broken).toEqual(code('BODY_MALFORMED'))
  })

  it('says the transfer broke off when the server closes the message mid-body without an error', async () => {
    // As a request timeout does: destroy() with no error emits only 'close'. Waiting for 'end'
    // or 'error' would hold the route for ever.
    const closed = await serveOnce(100, (port) => rawRequest(port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n', ['abc'], 'finish'), 0,
    (incoming) => setTimeout(() => incoming.destroy(), 50))
    expect(closed).toEqual(code('BODY_MALFORMED'))
  }, 5_000)

  it('gives up on a body that does not arrive in time, keeping the socket for the answer', async () => {
    let answered = false
    const slow = await serveOnce(100, (port) => new Promise<void>((resolve) => {
      void import('node:net').then(({ connect }) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nabc'))
        socket.on('data', () => {
          answered = true
          socket.end()
        })
        socket.on('close', () => resolve())
      })
    }), 0, undefined, { timeoutMs: 100 })
    expect(slow).toEqual(code('BODY_TIMEOUT'))
    expect(answered).toBe(true)
  }, 5_000)

  it('refuses a chunked upload over the limit without resetting the connection, so the answer arrives', async () => {
    const { createServer } = await import('node:http')
    const server = createServer((incoming, response) => {
      requestBody({ env: { incoming }, req: { raw: { headers: new Headers(), body: null } } }, 1024).then(
        () => response.end('read'),
        (error: { code?: string }) => response.writeHead(413, { Connection: 'close' }).end(error.code),
      )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      // 64 KiB against a 1 KiB limit, and no last chunk: only the server can end this exchange.
      const reply = await exchange((server.address() as { port: number }).port,
        ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ...UNENDING_CHUNKED_BODY])
      expect(reply).toMatch(/^HTTP\/1\.1 413 /)
      expect(reply).toMatch(/\r\nConnection: close\r\n/i)
      expect(reply).toContain('BODY_TOO_LARGE')
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('falls back to the Request when there is no IncomingMessage', async () => {
    const raw = new Request('http://x/', { method: 'POST', body: 'abc' })
    expect(await requestBody({ req: { raw } }, 3)).toEqual(new TextEncoder().encode('abc'))
    await expect(requestBody({ env: {}, req: { raw: new Request('http://x/', { method: 'POST', body: 'abcd' }) } }, 3))
      .rejects.toThrow(code('BODY_TOO_LARGE'))
  })
})
