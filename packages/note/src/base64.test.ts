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
    // Random text is almost never base64, so most inputs are encodings with one change (a
    // character swapped, padding dropped or added, whitespace): both answers must come often.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n-_'
    const nearMiss = fc.tuple(fc.uint8Array({ maxLength: 18 }).map(encodeBase64), fc.nat(), fc.constantFrom(...alphabet), fc.nat({ max: 3 }))
      .map(([text, at, char, how]) => {
        const i = at % (text.length + 1)
        if (how === 0) return text.slice(0, i) + char + text.slice(i + 1)
        if (how === 1) return text.slice(0, i) + char + text.slice(i)
        if (how === 2) return text.slice(0, i) + text.slice(i + 1)
        return text
      })
    const runs = 2000
    let decoded = 0
    fc.assert(fc.property(fc.oneof(nearMiss, fc.string({ unit: 'binary-ascii', maxLength: 24 })), (text) => {
      const bytes = decodeBase64(text)
      if (bytes !== undefined) {
        decoded++
        expect(encodeBase64(bytes)).toBe(text)
      }
    }), { numRuns: runs })
        expect(decoded, 'inputs that decoded').toBeGreaterThanOrEqual(runs * 0.2)
    expect(decoded, 'inputs that were refused').toBeLessThanOrEqual(runs * 0.8)
  })

  it('refuses the spellings atob accepts', () => {
    for (const text of ['QQ', 'QQ=', 'QR==', 'QUI', 'QUJ=', ' QQ==', 'QQ==\n', 'Q Q==', 'QQ==QQ==', '-_8=', 'QQ===']) {
      expect(decodeBase64(text), text).toBeUndefined()
    }
    expect(decodeBase64('QQ==')).toEqual(Uint8Array.of(0x41))
    expect(decodeBase64('')).toEqual(new Uint8Array(0))
  })
})
