import { describe, expect, it } from 'vitest'
import c2sp from '../../testdata/c2sp-examples.json' with { type: 'json' }
import sumdb from '../../testdata/go-sumdb-checkpoint.json' with { type: 'json' }
import sigsum from '../../testdata/sigsum.json' with { type: 'json' }
import torchwood from '../../testdata/torchwood-sigsum-checkpoint.json' with { type: 'json' }
import {
  VerifiedCheckpoint, formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint,
} from '../checkpoint.js'
import { createSigner, createVerifier, formatVerifierKey, parseVerifierKey, type KeyOptions } from '../keys.js'
import { openNote, parseNote, signNote } from '../note.js'
import { expectCode, expectMisuse, fromBase64, hex, testSeed, toHex, type SuiteProviders } from './helpers.js'

const ROOT = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I='
const body = (...lines: string[]): string => lines.map((line) => `${line}\n`).join('')

export function checkpointSuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }
  const sigsumSeed = hex(sigsum.seedHex)
  const cp = sigsum.logCheckpoint
  const sigsumLog = createVerifier(cp.origin, 1, hex(sigsum.publicKeyHex), options)

  describe(`checkpoints: interop (${providers.signature.name})`, () => {
    it('opens the sigsum checkpoint and signs it byte-identically', () => {
      const opened = openCheckpoint(cp.note, [sigsumLog])
      expect(opened).toBeInstanceOf(VerifiedCheckpoint)
      expect([opened.origin, opened.size, toHex(opened.rootHash)]).toEqual([cp.origin, cp.size, cp.rootHashHex])
      expect(opened.signatures.map((s) => s.keyId)).toEqual([Number.parseInt(cp.keyId, 16)])
      expect([opened.note, opened.body]).toEqual([cp.note, parseNote(cp.note).text])
      const signer = createSigner(cp.origin, 1, sigsumSeed, options)
      expect(signCheckpoint(opened, signer)).toBe(cp.note)
      expect(sigsumLog.keyId).toBe(0x809da1a3)
    })

    it('does not recognise the legacy sigsum key ID', () => {
      expectCode(() => openCheckpoint(sigsum.legacyKeyIdNote.note, [sigsumLog]), 'NOTE_UNVERIFIED')
    })

    it('opens the torchwood/litewitness sigsum checkpoint', () => {
      const publicKey = hex(torchwood.publicKeyHex)
      expect(torchwood.origin).toBe(`sigsum.org/v1/tree/${toHex(providers.hash.sha256(publicKey))}`)
      const log = parseVerifierKey(formatVerifierKey(createVerifier(torchwood.origin, 1, publicKey, options)), options)
      expect(log.keyId).toBe(Number.parseInt(torchwood.keyId, 16))
      const opened = openCheckpoint(torchwood.note, [log])
      expect([opened.origin, opened.size]).toEqual([torchwood.origin, torchwood.size])
    })

    it('opens sum.golang.org only when its key name may differ from the origin', () => {
      const log = parseVerifierKey(sumdb.verifierKey, options)
      expect(openNote(sumdb.note, [log]).text).toBe(body(sumdb.origin, String(sumdb.size), sumdb.rootHashBase64))
      expectCode(() => openCheckpoint(sumdb.note, [log]), 'NOTE_UNVERIFIED')
      const opened = openCheckpoint(sumdb.note, [log], { keyNameMustMatchOrigin: false })
      expect([opened.origin, opened.size]).toEqual([sumdb.origin, sumdb.size])
      expect(opened.rootHash).toEqual(fromBase64(sumdb.rootHashBase64))
    })

    it('parses the tlog-checkpoint spec example and formats it back', () => {
      const { text } = parseNote(c2sp.checkpoint.note)
      const parsed = parseCheckpoint(text)
      expect([parsed.origin, parsed.size, parsed.extensions]).toEqual([c2sp.checkpoint.origin, c2sp.checkpoint.size, []])
      expect(formatCheckpoint(parsed)).toBe(text)
      for (const note of [cp.note, sumdb.note, torchwood.note]) {
        const bodyText = parseNote(note).text
        expect(formatCheckpoint(parseCheckpoint(bodyText))).toBe(bodyText)
      }
    })
  })

  describe('checkpoints: syntax', () => {
    const accept = (text: string): Checkpoint => parseCheckpoint(text)
    const reject = (text: string, code: 'CHECKPOINT_MALFORMED' | 'SIZE_OUT_OF_RANGE' = 'CHECKPOINT_MALFORMED') =>
      expectCode(() => parseCheckpoint(text), code)

    it('needs origin, size and root hash lines ending in newlines', () => {
      for (const text of ['', '\n', body('o'), body('o', '1'), `o\n1\n${ROOT}`, body('', '1', ROOT), `\n1\n${ROOT}\n`]) {
        reject(text)
      }
      expect(accept(body('o', '1', ROOT)).origin).toBe('o')
      expect(accept(body('go.sum database tree', '1', ROOT)).origin).toBe('go.sum database tree')
    })

    it('accepts only canonical decimal sizes', () => {
      for (const size of ['01', '00', '+1', '-1', '-0', ' 1', '1 ', '1.0', '1e3', '0x10', '', '١', '１', '1_000', '٠']) {
        reject(body('o', size, ROOT))
      }
      expect(accept(body('o', '0', ROOT)).size).toBe(0)
      expect(accept(body('o', '20852163', ROOT)).size).toBe(20852163)
    })

    it('refuses sizes above 2^53 - 1 with SIZE_OUT_OF_RANGE', () => {
      expect(accept(body('o', '9007199254740991', ROOT)).size).toBe(Number.MAX_SAFE_INTEGER)
      for (const size of ['9007199254740992', '9999999999999999', '18446744073709551615', '1'.padEnd(40, '0')]) {
        reject(body('o', size, ROOT), 'SIZE_OUT_OF_RANGE')
      }
      reject(body('o', '09007199254740992', ROOT)) // not canonical comes first
    })

    it('needs a root hash of exactly 32 bytes in canonical base64', () => {
      const bytes = fromBase64(ROOT)
      const b64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b))
      for (const root of [b64(bytes.subarray(0, 31)), b64(Uint8Array.of(...bytes, 0)), '', ROOT.slice(0, -1),
        ROOT.slice(0, -2) + 'J=', ROOT + '=', ROOT.replace('/', '_'), ` ${ROOT}`, `${ROOT} `, toHex(bytes)]) {
        reject(body('o', '1', root))
      }
      expect(accept(body('o', '1', ROOT)).rootHash).toEqual(bytes)
    })

    it('keeps non-empty extension lines and refuses empty ones', () => {
      expect(accept(body('o', '1', ROOT, 'ext one', 'ext two')).extensions).toEqual(['ext one', 'ext two'])
      reject(body('o', '1', ROOT, ''))
      reject(body('o', '1', ROOT, 'a', '', 'b'))
    })

    it('refuses control characters, CRLF and lone surrogates', () => {
      reject(`o\r\n1\r\n${ROOT}\r\n`)
      reject(body('o\u0000', '1', ROOT))
      reject(body('o', '1', ROOT, 'tab\there'))
      reject(body('o\ud800', '1', ROOT))
    })

    it('formatCheckpoint refuses what parseCheckpoint would', () => {
      const good: Checkpoint = { origin: 'o', size: 1, rootHash: new Uint8Array(32), extensions: [] }
      expect(formatCheckpoint(good)).toBe(body('o', '1', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='))
      const bad: Checkpoint[] = [
        { ...good, origin: '' }, { ...good, origin: 'a\nb' }, { ...good, origin: 'a\u0001' },
        { ...good, size: -1 }, { ...good, size: 1.5 }, { ...good, size: 2 ** 53 }, { ...good, size: Number.NaN },
        { ...good, rootHash: new Uint8Array(31) }, { ...good, rootHash: new Uint8Array(33) },
        { ...good, extensions: [''] }, { ...good, extensions: ['a\nb'] },
      ]
      for (const checkpoint of bad) expectMisuse(() => formatCheckpoint(checkpoint), RangeError)
    })
  })

  describe(`checkpoints: open and sign (${providers.signature.name})`, () => {
    const origin = 'example.com/annal/test'
    const log = createSigner(origin, 1, testSeed(11), options)
    const checkpoint: Checkpoint = { origin, size: 42, rootHash: testSeed(12), extensions: ['x=1'] }

    it('round-trips and keeps other signatures unverified', () => {
      const other = createSigner('example.com/other', 1, testSeed(13), options)
      const note = signNote(formatCheckpoint(checkpoint), [log, other])
      const opened = openCheckpoint(note, [log.verifier])
      expect([opened.size, opened.extensions, opened.rootHash]).toEqual([42, ['x=1'], checkpoint.rootHash])
      expect(opened.otherSignatures.map((s) => s.name)).toEqual(['example.com/other'])
      expect(Object.isFrozen(opened)).toBe(true)
    })

    it('requires a verified signature from a key named after the origin', () => {
      const renamed = createSigner('example.com/renamed', 1, testSeed(11), options)
      const note = signNote(formatCheckpoint(checkpoint), [renamed])
      expectCode(() => openCheckpoint(note, [renamed.verifier]), 'NOTE_UNVERIFIED')
      expect(openCheckpoint(note, [renamed.verifier], { keyNameMustMatchOrigin: false }).size).toBe(42)
      expectMisuse(() => signCheckpoint(checkpoint, renamed), RangeError)
    })

    it('rejects tampering and non-checkpoint bodies', () => {
      const note = signCheckpoint(checkpoint, log)
      expectCode(() => openCheckpoint(note.replace('\n42\n', '\n43\n'), [log.verifier]), 'SIGNATURE_INVALID')
      expectCode(() => openCheckpoint(note, []), 'NOTE_UNVERIFIED')
      expectCode(() => openCheckpoint(signNote(`${origin}\n42\n`, [log]), [log.verifier]), 'CHECKPOINT_MALFORMED')
      const huge = signNote(body(origin, '9007199254740992', ROOT), [log])
      expectCode(() => openCheckpoint(huge, [log.verifier]), 'SIZE_OUT_OF_RANGE')
    })

    it('cannot be constructed outside openCheckpoint', () => {
      const Ctor = VerifiedCheckpoint as unknown as new (seal: symbol, fields: unknown) => unknown
      expect(() => new Ctor(Symbol('VerifiedCheckpoint'), {})).toThrow(TypeError)
    })
  })
}
