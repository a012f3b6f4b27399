import { BodyError } from './errors.js'

/** What readBody needs of a Request or a Response. */
export interface BodySource {
  readonly headers: Headers
  readonly body: ReadableStream<Uint8Array> | null
}

/**
 * What @hono/node-server hands a route as `c.env.incoming`: Node's IncomingMessage, read here
 * through its events.
 */
export interface IncomingBody {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  /** Node sets it once anything read the stream (say, a Request made from it). */
  readonly readableDidRead?: boolean
  /** Set once the message is destroyed: say, the client went away before the route read it. */
  readonly destroyed?: boolean
  /** Set once the whole message has arrived (if not yet read). */
  readonly complete?: boolean
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown
  on(event: 'end' | 'close', listener: () => void): unknown
  on(event: 'error', listener: (error: unknown) => void): unknown
}

/** What requestBody needs of a Hono context. */
export interface RequestContext {
  readonly env?: unknown
  readonly req: { readonly raw: BodySource }
}

/** How a body is read. */
export interface BodyOptions {
  /**
   * Longest the body may take to arrive, in ms, from the call; a slower one is refused with
   * BODY_TIMEOUT, so that the answer is a problem the caller can read (and the access log can
   * record) rather than the bare 408 of the HTTP server's own request timeout. Default: no limit.
   */
  readonly timeoutMs?: number
}

function tooLarge(limit: number): BodyError {
  return new BodyError('BODY_TOO_LARGE', `bodies are limited to ${limit} bytes`)
}

function tooSlow(timeoutMs: number): BodyError {
  return new BodyError('BODY_TIMEOUT', `the body did not arrive within ${timeoutMs} ms`)
}

function declaredTooLarge(declared: string | null | undefined, limit: number): boolean {
  return typeof declared === 'string' && /^[0-9]+$/.test(declared) && Number(declared) > limit
}

/**
 * The body of a request (or a response), refused as soon as it passes `limit` bytes (by
 * Content-Length or while reading).
 * @throws BodyError BODY_TOO_LARGE; BODY_MALFORMED when the transfer breaks off; BODY_TIMEOUT.
 */
export async function readBody(source: BodySource | IncomingBody, limit: number, options: BodyOptions = {}): Promise<Uint8Array> {
  const { timeoutMs } = options
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError('timeoutMs must be positive')
  if (!(source.headers instanceof Headers)) return readIncoming(source as IncomingBody, limit, timeoutMs)
  const { headers, body } = source as BodySource
  if (body === null) {
    if (declaredTooLarge(headers.get('content-length'), limit)) throw tooLarge(limit)
    return new Uint8Array(0)
  }
  const reader = body.getReader()
  const reading = readChunks(readerChunks(reader), headers.get('content-length'), limit)
  if (timeoutMs === undefined) return reading
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(tooSlow(timeoutMs))
      // Ends the read in flight (it then reads as done; the race is already lost).
      void reader.cancel().catch(() => undefined)
    }, timeoutMs)
  })
  try {
    return await Promise.race([reading, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A route's request body, at most `limit` bytes: read straight from Node's IncomingMessage when
 * @hono/node-server serves the app (building the Fetch `Request` body stream costs more
 * main-thread time than the rest of a small request), from the Request otherwise.
 * @throws BodyError BODY_TOO_LARGE, BODY_MALFORMED, BODY_TIMEOUT, as readBody.
 */
export function requestBody(c: RequestContext, limit: number, options: BodyOptions = {}): Promise<Uint8Array> {
  const incoming = (c.env as { incoming?: IncomingBody } | undefined)?.incoming
  const direct = incoming !== undefined && typeof incoming.on === 'function' && incoming.readableDidRead !== true
  return readBody(direct ? incoming : c.req.raw, limit, options)
}

/**
 * An IncomingMessage's body, read through its events: an async iterator over it allocated more
 * per request (iterator, promises, listeners) than the rest of the body's handling. Over the
 * limit the rest is dropped as it arrives, not destroyed with the message: that resets the
 * connection before the refusal can be answered. The answer should close the connection
 * (`Connection: close`), which ends the upload once the answer is out.
 */
function readIncoming(incoming: IncomingBody, limit: number, timeoutMs: number | undefined): Promise<Uint8Array> {
  const declared = incoming.headers['content-length']
  if (typeof declared === 'string' && declaredTooLarge(declared, limit)) return Promise.reject(tooLarge(limit))
  // Its events have been and gone: listening now would wait for ever.
  if (incoming.destroyed === true) return Promise.reject(new BodyError('BODY_MALFORMED', 'the transfer broke off'))
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = []
    let length = 0
    let settled = false
    // Not destroyed when it fires, for the same reason: the socket must live to carry the 408.
    // None for a body already here, as a small one usually is by the time the route reads it.
    const timer = timeoutMs === undefined || incoming.complete === true ? undefined
      : setTimeout(() => fail(tooSlow(timeoutMs)), timeoutMs)
    const fail = (error: BodyError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(error)
    }
    incoming.on('data', (chunk) => {
      if (settled) return
      length += chunk.length
      if (length > limit) fail(tooLarge(limit))
      else parts.push(chunk)
    })
    incoming.on('end', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      // One chunk (the usual small event) is handed on as a view rather than copied.
      const only = parts.length === 1 ? parts[0]! : undefined
      resolve(only === undefined ? concatBytes(parts) : new Uint8Array(only.buffer, only.byteOffset, only.length))
    })
    incoming.on('error', (error) => fail(new BodyError('BODY_MALFORMED', 'the transfer broke off', { cause: error })))
    // Closed before its end: the client went away mid-upload. Every message closes, after its
    // end too, so the error (and its stack trace) is only made for one that broke off.
    incoming.on('close', () => {
      if (!settled) fail(new BodyError('BODY_MALFORMED', 'the transfer broke off'))
    })
  })
}

async function* readerChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    // Reached on a break (over the limit): stop the transfer.
    void reader.cancel().catch(() => undefined)
  }
}

async function readChunks(chunks: AsyncIterable<Uint8Array>, declared: string | string[] | null | undefined,
    limit: number): Promise<Uint8Array> {
  if (typeof declared === 'string' && declaredTooLarge(declared, limit)) throw tooLarge(limit)
  const parts: Uint8Array[] = []
  let length = 0
  try {
    for await (const chunk of chunks) {
      length += chunk.length
      if (length > limit) throw tooLarge(limit)
      parts.push(chunk)
    }
  } catch (error) {
    if (error instanceof BodyError) throw error
    throw new BodyError('BODY_MALFORMED', 'the transfer broke off', { cause: error })
  }
  return concatBytes(parts)
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
