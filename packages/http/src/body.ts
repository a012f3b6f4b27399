import { TlogError, concatBytes } from '@annal/tlog'

/** What readBody needs of a Request or a Response. */
export interface BodySource {
  readonly headers: Headers
  readonly body: ReadableStream<Uint8Array> | null
}

/**
 * The body of a request (or a response), refused as soon as it passes `limit` bytes (by
 * Content-Length or while reading).
 * @throws TlogError BODY_TOO_LARGE; BODY_MALFORMED when the transfer breaks off.
 */
export async function readBody(source: BodySource, limit: number): Promise<Uint8Array> {
  const declared = source.headers.get('content-length')
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    throw new TlogError('BODY_TOO_LARGE', `bodies are limited to ${limit} bytes`)
  }
  if (source.body === null) return new Uint8Array(0)
  const reader = source.body.getReader()
  const chunks: Uint8Array[] = []
  let length = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      length += value.length
      if (length > limit) {
        void reader.cancel().catch(() => undefined)
        throw new TlogError('BODY_TOO_LARGE', `bodies are limited to ${limit} bytes`)
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof TlogError) throw error
    throw new TlogError('BODY_MALFORMED', 'the transfer broke off', { cause: error })
  }
  return concatBytes(...chunks)
}
