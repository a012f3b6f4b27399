import { describe, expect, it } from 'vitest'
import c2sp from '../../testdata/c2sp-examples.json' with { type: 'json' }
import goNote from '../../testdata/go-sumdb-note.json' with { type: 'json' }
import { createSigner, parseSignerKey, parseVerifierKey, type KeyOptions } from '../keys.js'
import {
  MAX_SIGNATURES, formatSignatureLine, openNote, parseNote, parseSignatureLine, parseSignatureLines, signNote,
  type NoteSignature,
} from '../note.js'
import type { NoteVerifier } from '../scheme.js'
import { expectCode, expectMisuse, fromBase64, testSeed, toBase64, utf8, type SuiteProviders } from './helpers.js'

const { text, signedNote, doublySignedNote } = goNote
const peterLine = goNote.peterNeumann.signatureLine
const enochLine = goNote.enochRoot.signatureLine
const peterBase64 = peterLine.slice(peterLine.lastIndexOf(' ') + 1, -1)

/** Peter's line with its base64 replaced. */
const peterWith = (base64: string): string => `— PeterNeumann ${base64}\n`

export function noteSuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }
  const peterSigner = parseSignerKey(goNote.peterNeumann.signerKey, options)
  const peter = parseVerifierKey(goNote.peterNeumann.verifierKey, options)
  const enoch = parseVerifierKey(goNote.enochRoot.verifierKey, options)

  describe(`signed notes: interop (${providers.signature.name})`, () => {
    it('signs the Go example byte-identically', () => {
      expect(signNote(text, [peterSigner])).toBe(signedNote)
    })

    it('opens the Go example', () => {
      const opened = openNote(signedNote, [peter])
      expect(opened.text).toBe(text)
      expect(opened.verified.map((s) => [s.name, s.keyId, s.base64])).toEqual([['PeterNeumann', 0xc74f20a3, peterBase64]])
      expect(opened.verified[0]!.verifier).toBe(peter)
      expect(opened.unverified).toEqual([])
      expect(openNote(utf8(signedNote), [peter]).text).toBe(text)
    })

    it('verifies one of two signatures, or both, or rejects with none known', () => {
      const one = openNote(doublySignedNote, [peter])
      expect(one.verified.map((s) => s.name)).toEqual(['PeterNeumann'])
      expect(one.unverified.map((s) => [s.name, s.keyId])).toEqual([['EnochRoot', 0xaf0cfe78]])
      const both = openNote(doublySignedNote, [peter, enoch])
      expect(both.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot'])
      expect(both.unverified).toEqual([])
      expectCode(() => openNote(doublySignedNote, []), 'NOTE_UNVERIFIED')
      expect(parseNote(doublySignedNote).signatures.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot'])
    })

    it('rejects the whole note when a known key\'s signature fails', () => {
      expectCode(() => openNote(goNote.invalidSignatureNote.note, [peter]), 'SIGNATURE_INVALID')
      // Unknown to the caller, the same bad line is only listed.
      expectCode(() => openNote(goNote.invalidSignatureNote.note, [enoch]), 'NOTE_UNVERIFIED')
      // Every line from a known key is verified, also after a good one (Go skips repeats by key).
      const raw = fromBase64(peterBase64)
      raw[10]! ^= 1
      expectCode(() => openNote(`${text}\n${peterLine}${peterWith(toBase64(raw))}`, [peter]), 'SIGNATURE_INVALID')
    })

    it('lists repeated lines once (Go TestOpen, duplicated signatures)', () => {
      const enochABCD = enochLine.slice(0, 60) + 'ABCD' + enochLine.slice(60)
      const opened = openNote(`${text}\n${peterLine}${peterLine}${enochLine}${enochLine}${enochABCD}`, [peter])
      expect(opened.verified.map((s) => s.name)).toEqual(['PeterNeumann'])
      expect(opened.unverified.map((s) => formatSignatureLine(s))).toEqual([enochLine, enochABCD])
    })

    it('re-signing keeps other signatures first and replaces the signer\'s own', () => {
      const enochSig = parseSignatureLine(enochLine.slice(0, -1))
      expect(signNote(text, [peterSigner], [enochSig])).toBe(`${text}\n${enochLine}${peterLine}`)
      const stale = parseSignatureLine(peterWith(toBase64(Uint8Array.of(0xc7, 0x4f, 0x20, 0xa3, 1, 2, 3))).slice(0, -1))
      expect(signNote(text, [peterSigner], [stale])).toBe(signedNote)
      expect(signNote(text, [], parseNote(doublySignedNote).signatures)).toBe(doublySignedNote)
    })

    it('parses the signed-note spec example', () => {
      const parsed = parseNote(c2sp.signedNote.note)
      expect(parsed.text).toBe(c2sp.signedNote.text)
      expect(parsed.signatures.map((s) => [s.name, s.keyId])).toEqual([[c2sp.signedNote.keyName, 0x367ba04b]])
      expectCode(() => openNote(c2sp.signedNote.note, [peter]), 'NOTE_UNVERIFIED')
    })
  })

  describe(`signed notes: text rules (${providers.signature.name})`, () => {
    it('rejects the Go malformed notes', () => {
      for (const { note, why } of goNote.badNotes) {
        expectCode(() => openNote(note, [peter]), 'NOTE_MALFORMED')
        expect(() => parseNote(note), why).toThrow()
      }
    })

    it('rejects invalid UTF-8 and lone surrogates', () => {
      const good = utf8(signedNote)
      for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
        const bytes = Uint8Array.of(...bad, ...good)
        expectCode(() => openNote(bytes, [peter]), 'NOTE_MALFORMED')
      }
      expectCode(() => openNote(`\ud800${signedNote}`, [peter]), 'NOTE_MALFORMED')
      expectCode(() => openNote(signedNote.replace('problem,', 'problem\udc00,'), [peter]), 'NOTE_MALFORMED')
    })

    it('rejects every ASCII control character except newline, anywhere', () => {
      for (let code = 0; code < 0x20; code++) {
        if (code === 0x0a) continue
        const c = String.fromCharCode(code)
        expectCode(() => openNote(c + signedNote, [peter]), 'NOTE_MALFORMED')
        expectCode(() => openNote(signedNote.replace(' PeterNeumann', ` Peter${c}Neumann`), [peter]), 'NOTE_MALFORMED')
        expectCode(() => openNote(signedNote.slice(0, -1) + c + '\n', [peter]), 'NOTE_MALFORMED')
        expectCode(() => signNote(`a${c}b\n`, [peterSigner]), 'NOTE_MALFORMED')
      }
      expectCode(() => openNote(signedNote.replaceAll('\n', '\r\n'), [peter]), 'NOTE_MALFORMED')
    })

    it('accepts DEL, a BOM, non-ASCII text and blank lines inside the text', () => {
      for (const body of ['\u007f\n', '\ufeffbom first\n', 'caffè ☕ 😀\n', 'a\n\nb\n\n\nc\n', '\n', 'x\n\n']) {
        const note = signNote(body, [peterSigner])
        expect(openNote(note, [peter]).text).toBe(body)
        expect(openNote(utf8(note), [peter]).text).toBe(body)
      }
    })

    it('requires "— " (em dash, space) before each signature', () => {
      const lines = ['-- PeterNeumann', '—PeterNeumann', '–  PeterNeumann', '―  PeterNeumann', '—  PeterNeumann',
        '—\u00a0PeterNeumann', ' — PeterNeumann', '— — PeterNeumann']
      for (const start of lines) {
        expectCode(() => openNote(signedNote.replace('— PeterNeumann', start), [peter]), 'NOTE_MALFORMED')
      }
      expectCode(() => openNote(signedNote.replace(' x08go', '  x08go'), [peter]), 'NOTE_MALFORMED')
      expectCode(() => openNote(signedNote.replace('AM=\n', 'AM= \n'), [peter]), 'NOTE_MALFORMED')
      expectCode(() => openNote(signedNote.replace('— PeterNeumann ', '— '), [peter]), 'NOTE_MALFORMED')
      // The text ends at the last blank line, so a blank line between signatures moves the
      // first signature line into the text, which the second line then fails to sign.
      const split = `${text}\n${peterLine}\n${peterLine}`
      expect(parseNote(split).text).toBe(`${text}\n${peterLine}`)
      expectCode(() => openNote(split, [peter]), 'SIGNATURE_INVALID')
    })

    it('requires canonical base64 of at least five bytes', () => {
      const bad = [
        peterBase64.slice(0, -2) + 'N=', // non-zero padding bits ('M' -> 'N')
        peterBase64.slice(0, -1), // missing padding
        peterBase64 + '=',
        peterBase64.replace('/', '_'),
        peterBase64.slice(0, 8) + ' ' + peterBase64.slice(8),
        'x08gow==', // 4 bytes: key ID only
        'AAAAAA==',
        '',
      ]
      for (const base64 of bad) {
        expectCode(() => openNote(`${text}\n${peterWith(base64)}`, [peter]), 'NOTE_MALFORMED')
      }
      expect(openNote(`${text}\n${peterWith(peterBase64)}`, [peter]).text).toBe(text)
    })

    it('ignores a signature whose name or key ID does not match a known key', () => {
      const raw = fromBase64(peterBase64)
      raw[3]! ^= 1
      const wrongId = `${text}\n${peterWith(toBase64(raw))}`
      expectCode(() => openNote(wrongId, [peter]), 'NOTE_UNVERIFIED')
      expect(parseNote(wrongId).signatures[0]!.keyId).toBe(0xc74f20a2)
      expectCode(() => openNote(signedNote.replace('PeterNeumann', 'PeterNeumanN'), [peter]), 'NOTE_UNVERIFIED')
      expect(openNote(`${text}\n${peterWith(toBase64(raw))}${peterLine}`, [peter]).unverified).toHaveLength(1)
    })

    it('detects any tampering with the text or the signature', () => {
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '\n') continue // changing a newline breaks the syntax instead
        const changed = text.slice(0, i) + (text[i] === 'x' ? 'y' : 'x') + text.slice(i + 1)
        expectCode(() => openNote(`${changed}\n${peterLine}`, [peter]), 'SIGNATURE_INVALID')
      }
      const raw = fromBase64(peterBase64)
      for (let i = 4; i < raw.length; i++) {
        const bad = raw.slice()
        bad[i]! ^= 0x40
        expectCode(() => openNote(`${text}\n${peterWith(toBase64(bad))}`, [peter]), 'SIGNATURE_INVALID')
      }
    })

    it(`accepts up to ${MAX_SIGNATURES} signature lines and at least 16 keys`, () => {
      expect(openNote(`${text}\n${peterLine.repeat(MAX_SIGNATURES)}`, [peter]).verified).toHaveLength(1)
      expectCode(() => openNote(`${text}\n${peterLine.repeat(MAX_SIGNATURES + 1)}`, [peter]), 'NOTE_MALFORMED')
      expectCode(() => openNote(`${text}\n${peterLine.repeat(MAX_SIGNATURES + 1)}`, []), 'NOTE_MALFORMED')
      const signers = Array.from({ length: 16 }, (_, i) => createSigner(`example.com/k${i}`, 1, testSeed(i), options))
      const opened = openNote(signNote(text, signers), signers.map((s) => s.verifier))
      expect(opened.verified).toHaveLength(16)
    })
  })

  describe(`signed notes: API contracts (${providers.signature.name})`, () => {
    it('signNote refuses bad text and bad signer sets', () => {
      expectCode(() => signNote('no final newline', [peterSigner]), 'NOTE_MALFORMED')
      expectCode(() => signNote('', [peterSigner]), 'NOTE_MALFORMED')
      expectCode(() => signNote('lone \ud800\n', [peterSigner]), 'NOTE_MALFORMED')
      expectMisuse(() => signNote(text, []), RangeError)
      expectMisuse(() => signNote(text, [peterSigner, peterSigner]), RangeError)
      expectMisuse(() => signNote(text, [{ ...peterSigner, name: 'bad name' }]), RangeError)
      expectMisuse(() => signNote(text, [{ ...peterSigner, sign: () => new Uint8Array(0) }]), TypeError)
      const many = Array.from({ length: MAX_SIGNATURES + 1 }, (_, i) => ({ ...peterSigner, keyId: i }))
      expectCode(() => signNote(text, many), 'NOTE_MALFORMED')
    })

    it('signNote refuses existing signatures that do not parse', () => {
      const good = parseSignatureLine(enochLine.slice(0, -1))
      const bad: NoteSignature[] = [
        { ...good, name: 'bad name' },
        { ...good, keyId: good.keyId + 1 },
        { ...good, base64: good.base64.slice(0, -1) },
        { ...good, base64: 'AAAA' },
      ]
      for (const signature of bad) expectCode(() => signNote(text, [peterSigner], [signature]), 'NOTE_MALFORMED')
    })

    it('refuses two different verifiers sharing a name and key ID', () => {
      const impostor: NoteVerifier = { ...peter, publicKey: new Uint8Array(32).fill(1), verify: () => true }
      expectMisuse(() => openNote(signedNote, [peter, impostor]), RangeError)
      expect(openNote(signedNote, [peter, peter]).verified).toHaveLength(1)
    })

    it('parses and formats signature lines and blocks', () => {
      const signature = parseSignatureLine(peterLine.slice(0, -1))
      expect(formatSignatureLine(signature)).toBe(peterLine)
      expect(signature.signature).toEqual(fromBase64(peterBase64).subarray(4))
      expect(parseSignatureLines(peterLine + enochLine).map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot'])
      for (const block of ['', peterLine.slice(0, -1), `${peterLine}\n`, `\n${peterLine}`]) {
        expectCode(() => parseSignatureLines(block), 'NOTE_MALFORMED')
      }
      expectCode(() => parseSignatureLine(peterLine), 'NOTE_MALFORMED')
      expectMisuse(() => openNote(42 as unknown as string, [peter]), TypeError)
    })
  })
}
