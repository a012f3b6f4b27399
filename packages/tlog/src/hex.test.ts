import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, concatBytes, hexToBytes } from './hex.js'

describe('hex', () => {
  it('writes lowercase hex and reads it back', () => {
    expect(bytesToHex(new Uint8Array([0, 9, 10, 15, 16, 171, 255]))).toBe('00090a0f10abff')
    expect(bytesToHex(new Uint8Array(0))).toBe('')
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const hex = bytesToHex(bytes)
      expect(hex).toMatch(/^(?:[0-9a-f]{2})*$/)
      expect(hexToBytes(hex)).toEqual(bytes)
    }))
  })

  it.each(['abc', 'AB', '0g', ' 00', '00 ', '0x00'])('refuses %j', (text) => {
    expect(() => hexToBytes(text)).toThrow(expect.objectContaining({ code: 'HASH_MALFORMED' }))
  })

  it('concatenates', () => {
    expect(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]))
  })
})
