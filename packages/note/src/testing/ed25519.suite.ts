import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import vectors from '../../testdata/rfc8032-ed25519.json' with { type: 'json' }
import { hex, utf8, type SuiteProviders } from './helpers.js'

/** A SignatureProvider against RFC 8032 §7.1 and the "never throw on bad input" contract. */
export function signatureProviderSuite({ signature: ed }: SuiteProviders): void {
  describe(`Ed25519 provider (${ed.name})`, () => {
    for (const v of vectors.vectors) {
      it(`RFC 8032 ${v.name}: public key, signature, verification`, () => {
        const seed = hex(v.seedHex)
        const message = hex(v.messageHex)
        expect(ed.publicKey(seed)).toEqual(hex(v.publicKeyHex))
        expect(ed.sign(seed, message)).toEqual(hex(v.signatureHex))
        expect(ed.verify(hex(v.publicKeyHex), message, hex(v.signatureHex))).toBe(true)
      })
    }

    const v1 = vectors.vectors[1]!
    const publicKey = hex(v1.publicKeyHex)
    const message = hex(v1.messageHex)
    const signature = hex(v1.signatureHex)

    // A bit in every byte, every bit of the bytes that end R and S (R's sign bit, S's range
    // check), and random bits: every bit of the signature, one verification each, took seconds.
    it('rejects any single flipped bit of the signature, message or key', () => {
      const rejects = (bit: number) => {
        const bad = signature.slice()
        bad[bit >> 3]! ^= 1 << (bit & 7)
        expect(ed.verify(publicKey, message, bad), `bit ${bit}`).toBe(false)
      }
      for (let byte = 0; byte < 64; byte++) rejects(byte * 8 + (byte % 8))
      for (const byte of [0, 31, 32, 63]) for (let bit = 0; bit < 8; bit++) rejects(byte * 8 + bit)
      fc.assert(fc.property(fc.nat({ max: 64 * 8 - 1 }), rejects), { numRuns: 64 })
      expect(ed.verify(publicKey, Uint8Array.of(0x73), signature)).toBe(false)
      expect(ed.verify(publicKey, new Uint8Array(0), signature)).toBe(false)
      const otherKey = hex(vectors.vectors[0]!.publicKeyHex)
      expect(ed.verify(otherKey, message, signature)).toBe(false)
    })

    it('returns false, without throwing, for malformed keys and signatures', () => {
      const cases: Array<[Uint8Array, Uint8Array]> = [
        [publicKey.subarray(0, 31), signature],
        [Uint8Array.of(...publicKey, 0), signature],
        [new Uint8Array(0), signature],
        [new Uint8Array(32).fill(0xff), signature], // y >= p: not a canonical point
        [publicKey, signature.subarray(0, 63)],
        [publicKey, Uint8Array.of(...signature, 0)],
        [publicKey, new Uint8Array(0)],
        [publicKey, Uint8Array.of(...signature.subarray(0, 32), ...new Uint8Array(32).fill(0xff))], // S >= L
      ]
      for (const [key, sig] of cases) {
        expect(() => ed.verify(key, message, sig)).not.toThrow()
        expect(ed.verify(key, message, sig)).toBe(false)
      }
    })

    it('refuses seeds that are not 32 bytes', () => {
      for (const length of [0, 31, 33, 64]) {
        expect(() => ed.publicKey(new Uint8Array(length))).toThrow(RangeError)
        expect(() => ed.sign(new Uint8Array(length), message)).toThrow(RangeError)
      }
    })

    it('signs deterministically and returns fresh arrays', () => {
      const seed = hex(v1.seedHex)
      const a = ed.sign(seed, utf8('note text\n'))
      const b = ed.sign(seed, utf8('note text\n'))
      expect(a).toEqual(b)
      expect(a).not.toBe(b)
      expect(ed.verify(ed.publicKey(seed), utf8('note text\n'), a)).toBe(true)
    })

    // ZIP-215, Go's crypto/ed25519 and plain OpenSSL accept this degenerate signature (R = identity,
    // S = 0) under the small-order identity key. Every Annal provider refuses small-order keys, so
    // that providers agree on every input.
    it('refuses the small-order identity key with the identity signature', () => {
      const identity = new Uint8Array(32)
      identity[0] = 1
      const signature = new Uint8Array(64)
      signature[0] = 1
      expect(ed.verify(identity, utf8('any message\n'), signature)).toBe(false)
    })
  })
}
