import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createSigner, type KeyOptions } from '../keys.js'
import { openNote, parseNote, signNote } from '../note.js'
import { keyNameArb, noteTextArb, seedArb } from './arbitraries.js'
import { isNoteFailure, utf8, type SuiteProviders } from './helpers.js'

/** Runs `run` and returns what it threw, or undefined. */
function thrown(run: () => unknown): unknown {
  try {
    run()
    return undefined
  } catch (error) {
    return error
  }
}

export function notePropertySuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }

  describe(`signed notes: properties (${providers.signature.name})`, () => {
    it('any text signed by any keys opens to the same text', () => {
      fc.assert(fc.property(noteTextArb, fc.array(fc.tuple(keyNameArb, seedArb), { minLength: 1, maxLength: 3 }),
        (text, keys) => {
          const signers = keys.map(([name, seed], i) => createSigner(`${i}.${name}`, 1, seed, options))
          const note = signNote(text, signers)
          const opened = openNote(utf8(note), signers.map((s) => s.verifier))
          expect(opened.text).toBe(text)
          expect(opened.verified.map((s) => s.name)).toEqual(signers.map((s) => s.name))
          expect(signNote(text, [], parseNote(note).signatures)).toBe(note)
        }), { numRuns: 60 })
    })

    it('no single-byte change of a note signed by one key opens', () => {
      const signer = createSigner('example.com/prop', 1, new Uint8Array(32).fill(5), options)
      fc.assert(fc.property(noteTextArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, delta) => {
        const bytes = utf8(signNote(text, [signer]))
        const i = at % bytes.length
        bytes[i] = (bytes[i]! + delta) % 256
        const error = thrown(() => openNote(bytes, [signer.verifier]))
        expect(isNoteFailure(error), String(error)).toBe(true)
      }), { numRuns: 300 })
    })

    it('a single-byte change of a note signed by two keys never keeps both signatures', () => {
      const signers = [1, 2].map((n) => createSigner(`example.com/k${n}`, 1, new Uint8Array(32).fill(n), options))
      const verifiers = signers.map((s) => s.verifier)
      fc.assert(fc.property(noteTextArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, delta) => {
        const bytes = utf8(signNote(text, signers))
        const i = at % bytes.length
        bytes[i] = (bytes[i]! + delta) % 256
        try {
          const opened = openNote(bytes, verifiers)
          expect(opened.text).toBe(text)
          expect(opened.verified.length).toBeLessThan(2)
        } catch (error) {
          expect(isNoteFailure(error), String(error)).toBe(true)
        }
      }), { numRuns: 200 })
    })

    it('arbitrary input throws nothing but NoteError or TlogError', () => {
      const signer = createSigner('example.com/fuzz', 1, new Uint8Array(32).fill(9), options)
      const near = fc.tuple(noteTextArb, fc.string({ unit: 'binary', maxLength: 120 }))
        .map(([text, tail]) => `${text}\n— example.com/fuzz ${tail}`)
      fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), near, fc.uint8Array()), (input) => {
        const error = thrown(() => openNote(input, [signer.verifier]))
        expect(error === undefined || isNoteFailure(error), String(error)).toBe(true)
      }), { numRuns: 500 })
    })
  })
}
