import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBase64, encodeBase64 } from './base64.js'

describe('strict base64', () => {
  it('round-trips any bytes, including long inputs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes)
    }))
    const big = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251)
    expect(decodeBase64(encodeBase64(big))).toEqual(big)
  })

  it('decodes a string only if it is the canonical encoding of the result', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 24 }), (text) => {
      const bytes = decodeBase64(text)
      if (bytes !== undefined) expect(encodeBase64(bytes)).toBe(text)
    }), { numRuns: 2000 })
  })

  it('refuses the spellings atob accepts', () => {
    for (const text of ['QQ', 'QQ=', 'QR==', 'QUI', 'QUJ=', ' QQ==', 'QQ==\n', 'Q Q==', 'QQ==QQ==', '-_8=', 'QQ===']) {
      expect(decodeBase64(text), text).toBeUndefined()
    }
    expect(decodeBase64('QQ==')).toEqual(Uint8Array.of(0x41))
    expect(decodeBase64('')).toEqual(new Uint8Array(0))
  })
})
