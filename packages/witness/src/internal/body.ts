import { TlogError } from '@annal/tlog'

/**
 * The request body, refused as soon as it passes `limit` bytes (by Content-Length or while
 * reading). Throws BODY_TOO_LARGE, or BODY_MALFORMED when the upload breaks off.
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    throw new TlogError('BODY_TOO_LARGE', `bodies are limited to ${limit} bytes`)
  }
  if (request.body === null) return new Uint8Array(0)
  const reader = request.body.getReader()
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
    throw new TlogError('BODY_MALFORMED', 'the upload broke off', { cause: error })
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}
