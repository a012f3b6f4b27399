import { describe, expect, it } from 'vitest'
import { readBody } from './body.js'

const code = (code: string) => expect.objectContaining({ name: 'TlogError', code })

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
})
