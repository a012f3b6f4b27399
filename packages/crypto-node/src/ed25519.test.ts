import { nobleEd25519 } from '@annal/note'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
// The note suites, run again with the node:crypto providers: both must agree on every input.
import { noteConformanceSuites } from '@annal/note/testing'
import { nodeEd25519 } from './ed25519.js'
import { nodeHashProvider } from './sha256.js'

describe('node:crypto Ed25519', () => {
  it('signs byte-identically to @noble/ed25519 and each verifies the other', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (seed, message) => {
      const publicKey = nodeEd25519.publicKey(seed)
      expect(publicKey).toEqual(nobleEd25519.publicKey(seed))
      const signature = nodeEd25519.sign(seed, message)
      expect(signature).toEqual(nobleEd25519.sign(seed, message))
      expect(nobleEd25519.verify(publicKey, message, signature)).toBe(true)
      expect(nodeEd25519.verify(publicKey, message, signature)).toBe(true)
      signature[message.length % 64]! ^= 1
      expect(nodeEd25519.verify(publicKey, message, signature)).toBe(false)
    }), { numRuns: 100 })
  })
})

noteConformanceSuites({ hash: nodeHashProvider, signature: nodeEd25519 })
