import { defaultHasher } from '@annal/tlog'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
// The tlog suites, run again with the node:crypto provider: both providers must agree byte for byte.
import { merkleSuite } from '../../tlog/src/testing/merkle.suite.js'
import { tilesSuite } from '../../tlog/src/testing/tiles.suite.js'
import { nodeHashProvider, nodeHasher } from './sha256.js'

describe('node:crypto SHA-256', () => {
  it('matches @noble/hashes on random inputs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      expect(nodeHashProvider.sha256(data)).toEqual(defaultHasher.provider.sha256(data))
      expect(nodeHasher.leaf(data)).toEqual(defaultHasher.leaf(data))
    }), { numRuns: 2000 })
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
