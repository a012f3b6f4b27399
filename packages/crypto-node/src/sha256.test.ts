import { defaultHasher } from '@annal/tlog'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
// The tlog suites, run again with the node:crypto provider: both providers must agree byte for byte.
import { merkleSuite, tilesSuite } from '@annal/tlog/testing'
import { nodeHashProvider, nodeHasher } from './sha256.js'

describe('node:crypto SHA-256', () => {
  it('matches @noble/hashes on random inputs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      expect(nodeHashProvider.sha256(data)).toEqual(defaultHasher.provider.sha256(data))
      expect(nodeHasher.leaf(data)).toEqual(defaultHasher.leaf(data))
    }), { numRuns: 2000 })
  })

  it('writes the same digest in place, at any offset, and nothing around it', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 40 }), (data, offset) => {
      const out = new Uint8Array(offset + 40).fill(0xa5)
      nodeHashProvider.sha256Into!(data, out, offset)
      expect(out.subarray(offset, offset + 32)).toEqual(defaultHasher.provider.sha256(data))
      expect(out.subarray(0, offset).every((byte) => byte === 0xa5)).toBe(true)
      expect(out.subarray(offset + 32).every((byte) => byte === 0xa5)).toBe(true)
    }), { numRuns: 500 })
  })

  it('returns plain Uint8Arrays that the caller may keep', () => {
    const a = nodeHashProvider.sha256(new Uint8Array([1]))
    const b = nodeHashProvider.sha256(new Uint8Array([2]))
    expect(a.constructor).toBe(Uint8Array)
    expect(a).not.toEqual(b)
    expect(nodeHasher.emptyRoot).toEqual(defaultHasher.emptyRoot)
  })
})

merkleSuite(nodeHasher)
tilesSuite(nodeHasher)
