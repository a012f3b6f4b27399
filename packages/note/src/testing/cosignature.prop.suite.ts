import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { openCheckpoint, signCheckpoint } from '../checkpoint.js'
import { createCosignatureSigner, parseCosignatureV1 } from '../cosignature.js'
import { createSigner, type KeyOptions } from '../keys.js'
import { addCosignatures, cosignCheckpoint, verifyCosignatures } from '../witness.js'
import { hashArb, nonEmptyLineArb } from './arbitraries.js'
import { utf8, type SuiteProviders } from './helpers.js'

export function cosignaturePropertySuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }
  const log = createSigner('example.com/prop-log', 1, new Uint8Array(32).fill(7), options)
  const witness = createCosignatureSigner('example.com/prop-witness', new Uint8Array(32).fill(8), { providers })

  describe(`cosignatures: properties (${providers.signature.name})`, () => {
    it('any checkpoint cosigned at any timestamp verifies with that timestamp', () => {
      const arb = fc.tuple(fc.maxSafeNat(), hashArb, fc.array(nonEmptyLineArb, { maxLength: 2 }), fc.maxSafeNat())
      fc.assert(fc.property(arb, ([size, rootHash, extensions, timestamp]) => {
        const note = signCheckpoint({ origin: log.name, size, rootHash, extensions }, log)
        const checkpoint = openCheckpoint(note, [log.verifier])
        const cosignature = cosignCheckpoint(checkpoint, witness, timestamp)
        expect(parseCosignatureV1(cosignature.signature).timestamp).toBe(timestamp)
        const cosigned = addCosignatures(checkpoint, [cosignature], [witness.verifier])
        expect(verifyCosignatures(cosigned, [witness.verifier]).map((c) => c.timestamp)).toEqual([timestamp])
      }), { numRuns: 60 })
    })

    it('a cosignature never verifies under another timestamp', () => {
      const body = utf8(`${log.name}\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n`)
      fc.assert(fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
        fc.pre(a !== b)
        const signature = witness.signAt(body, a)
        const moved = signature.slice()
        new DataView(moved.buffer).setBigUint64(0, BigInt(b), false)
        expect(witness.verifier.verify(body, signature)).toBe(true)
        expect(witness.verifier.verify(body, moved)).toBe(false)
      }), { numRuns: 60 })
    })
  })
}
