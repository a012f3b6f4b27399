import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint } from '../checkpoint.js'
import { createSigner, type KeyOptions } from '../keys.js'
import { hashArb, nonEmptyLineArb } from './arbitraries.js'
import { expectCode, isNoteFailure, utf8, type SuiteProviders } from './helpers.js'

const ROOT = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
const checkpointArb: fc.Arbitrary<Checkpoint> = fc.record({
  origin: nonEmptyLineArb,
  size: fc.maxSafeNat(),
  rootHash: hashArb,
  extensions: fc.array(nonEmptyLineArb, { maxLength: 3 }),
})

export function checkpointPropertySuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }

  describe(`checkpoints: properties (${providers.signature.name})`, () => {
    it('format and parse are inverse', () => {
      fc.assert(fc.property(checkpointArb, (checkpoint) => {
        const body = formatCheckpoint(checkpoint)
        expect(parseCheckpoint(body)).toEqual(checkpoint)
        expect(formatCheckpoint(parseCheckpoint(body))).toBe(body)
      }))
    })

    it('sizes parse only in canonical decimal, up to 2^53 - 1', () => {
      fc.assert(fc.property(fc.maxSafeNat(), (n) => {
        expect(parseCheckpoint(`o\n${n}\n${ROOT}\n`).size).toBe(n)
        expectCode(() => parseCheckpoint(`o\n0${n}\n${ROOT}\n`), 'CHECKPOINT_MALFORMED')
        expectCode(() => parseCheckpoint(`o\n+${n}\n${ROOT}\n`), 'CHECKPOINT_MALFORMED')
        expectCode(() => parseCheckpoint(`o\n${n} \n${ROOT}\n`), 'CHECKPOINT_MALFORMED')
      }))
      fc.assert(fc.property(fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: 2n ** 80n }), (n) => {
        expectCode(() => parseCheckpoint(`o\n${n}\n${ROOT}\n`), 'SIZE_OUT_OF_RANGE')
      }))
    })

    it('root hashes of any other length are refused', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }).filter((b) => b.length !== 32), (bytes) => {
        const root = btoa(String.fromCharCode(...bytes))
        expectCode(() => parseCheckpoint(`o\n1\n${root}\n`), 'CHECKPOINT_MALFORMED')
      }))
    })

    it('signed checkpoints open to the same fields, and no single-byte change opens', () => {
      // Three changes per signed note: signing (a key per origin) costs more than opening.
      const changes = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 3, maxLength: 3 })
      fc.assert(fc.property(checkpointArb, changes, (checkpoint, edits) => {
        const log = createSigner(checkpoint.origin.replace(/[\p{White_Space}+]/gu, '_'), 1, new Uint8Array(32).fill(3), options)
        const mine = { ...checkpoint, origin: log.name }
        const note = signCheckpoint(mine, log)
        const opened = openCheckpoint(note, [log.verifier])
        expect([opened.origin, opened.size, opened.rootHash, opened.extensions])
          .toEqual([mine.origin, mine.size, mine.rootHash, mine.extensions])
        for (const [at, delta] of edits) {
          const bytes = utf8(note)
          const i = at % bytes.length
          bytes[i] = (bytes[i]! + delta) % 256
          let error: unknown
          try {
            openCheckpoint(bytes, [log.verifier])
          } catch (caught) {
            error = caught
          }
          expect(isNoteFailure(error), String(error)).toBe(true)
        }
      }), { numRuns: 50 })
    })
  })
}
