import { describe, expect, it } from 'vitest'
import c2sp from '../../testdata/c2sp-examples.json' with { type: 'json' }
import sigsum from '../../testdata/sigsum.json' with { type: 'json' }
import tdev from '../../testdata/transparency-dev-formats.json' with { type: 'json' }
import { formatCheckpoint, openCheckpoint, signCheckpoint, type VerifiedCheckpoint } from '../checkpoint.js'
import {
  COSIGNATURE_V1_SIZE, cosignatureV1Message, createCosignatureSigner, isCosignatureSigner, parseCosignatureV1,
} from '../cosignature.js'
import { createSigner, formatSignerKey, formatVerifierKey, parseSignerKey, parseVerifierKey, type KeyOptions } from '../keys.js'
import {
  formatSignatureLine, openNote, parseNote, parseSignatureLine, parseSignatureLines, signNote,
} from '../note.js'
import { addCosignatures, cosignCheckpoint, verifyCosignatures } from '../witness.js'
import { expectCode, expectMisuse, fromBase64, hex, testSeed, toBase64, utf8, type SuiteProviders } from './helpers.js'

const co = sigsum.cosignature
const line = (text: string) => parseSignatureLine(text.replace(/\n$/, ''))

export function cosignatureSuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }
  const sigsumSeed = hex(sigsum.seedHex)
  const witness = createCosignatureSigner(co.witnessName, sigsumSeed, { providers })
  // A log for the sigsum test checkpoint body; the cosignature covers the body only.
  const log = createSigner('example.org/log', 1, testSeed(21), options)
  const open = (note: string): VerifiedCheckpoint => openCheckpoint(note, [log.verifier])
  const sigsumCheckpoint = open(signNote(co.checkpointBody, [log]))

  describe(`cosignatures: interop (${providers.signature.name})`, () => {
    it('reproduces the sigsum cosignature byte for byte', () => {
      expect(witness.keyId).toBe(Number.parseInt(co.keyId, 16))
      expect(formatSignatureLine(cosignCheckpoint(sigsumCheckpoint, witness, co.timestamp))).toBe(co.line)
      const clocked = createCosignatureSigner(co.witnessName, sigsumSeed, { providers, clock: () => co.timestamp })
      expect(formatSignatureLine(cosignCheckpoint(sigsumCheckpoint, clocked))).toBe(co.line)
    })

    it('verifies the sigsum cosignature and reads its timestamp', () => {
      const vkey = formatVerifierKey(witness.verifier)
      expect(vkey).toBe(`${co.witnessName}+${co.keyId}+${toBase64(Uint8Array.of(4, ...hex(sigsum.publicKeyHex)))}`)
      const verifier = parseVerifierKey(vkey, options)
      expect(verifier.verify(utf8(co.checkpointBody), line(co.line).signature)).toBe(true)
      const cosigned = addCosignatures(sigsumCheckpoint, [line(co.line)], [verifier])
      expect(cosigned.note).toBe(`${sigsumCheckpoint.note}${co.line}`)
      const found = verifyCosignatures(cosigned, [verifier])
      expect(found.map((c) => [c.name, c.keyId, c.timestamp])).toEqual([[co.witnessName, witness.keyId, 1234]])
    })

    it('ignores sigsum lines with another key ID or name, and rejects one of the wrong size', () => {
      const note = `${sigsumCheckpoint.note}${co.otherKeyIdLine}${co.otherNameLine}${co.line}`
      expect(verifyCosignatures(open(note), [witness.verifier]).map((c) => c.timestamp)).toEqual([1234])
      expectCode(() => verifyCosignatures(open(`${note}${co.wrongSizeLine}`), [witness.verifier]), 'SIGNATURE_INVALID')
      expectCode(() => openNote(`${note}${co.wrongSizeLine}`, [witness.verifier]), 'SIGNATURE_INVALID')
    })

    it('builds the signed message of the tlog-cosignature example', () => {
      const { text } = parseNote(c2sp.cosignedCheckpoint.note)
      expect(cosignatureV1Message(text, c2sp.cosignedCheckpoint.timestamp)).toEqual(utf8(c2sp.cosignedCheckpoint.signedMessage))
      const cosig = parseNote(c2sp.cosignedCheckpoint.note).signatures[1]!
      expect([cosig.name, cosig.keyId]).toEqual([c2sp.cosignedCheckpoint.witnessName, 0x8d66cf3f])
      expect(parseCosignatureV1(cosig.signature).timestamp).toBe(c2sp.cosignedCheckpoint.timestamp)
    })

    it('reads the transparency-dev timestamp and refuses a plain signature', () => {
      const bytes = fromBase64(tdev.cosignatureTimestamp.base64).subarray(4)
      expect(parseCosignatureV1(bytes).timestamp).toBe(tdev.cosignatureTimestamp.timestamp)
      expect(parseCosignatureV1(bytes).signature).toEqual(bytes.subarray(8))
      expectCode(() => parseCosignatureV1(fromBase64(tdev.notACosignature.base64).subarray(4)), 'COSIGNATURE_MALFORMED')
    })
  })

  describe(`cosignatures: rules (${providers.signature.name})`, () => {
    const ts = 1_700_000_000
    const body = utf8(sigsumCheckpoint.body)

    it('is exactly 72 bytes with a timestamp up to 2^53 - 1', () => {
      const signature = witness.signAt(body, ts)
      expect(signature.length).toBe(COSIGNATURE_V1_SIZE)
      for (const length of [0, 71, 73]) expectCode(() => parseCosignatureV1(new Uint8Array(length)), 'COSIGNATURE_MALFORMED')
      const max = witness.signAt(body, Number.MAX_SAFE_INTEGER)
      expect(parseCosignatureV1(max).timestamp).toBe(Number.MAX_SAFE_INTEGER)
      expect(witness.verifier.verify(body, max)).toBe(true)
      const over = signature.slice()
      over.set([0, 0x20, 0, 0, 0, 0, 0, 0], 0) // 2^53
      expectCode(() => parseCosignatureV1(over), 'COSIGNATURE_MALFORMED')
      expect(witness.verifier.verify(body, over)).toBe(false)
    })

    it('binds the timestamp, the body and the key type', () => {
      const signature = witness.signAt(body, ts)
      expect(witness.verifier.verify(body, signature)).toBe(true)
      for (let i = 0; i < signature.length; i++) {
        const bad = signature.slice()
        bad[i]! ^= 1
        expect(witness.verifier.verify(body, bad)).toBe(false)
      }
      expect(witness.verifier.verify(utf8(sigsumCheckpoint.body.replace('\n10\n', '\n11\n')), signature)).toBe(false)
      // The same key as a plain 0x01 note key: a different key ID, and neither accepts the other's signature.
      const plain = createSigner(co.witnessName, 1, sigsumSeed, options)
      expect(plain.keyId).not.toBe(witness.keyId)
      expect(plain.verifier.verify(body, signature.subarray(8))).toBe(false)
      expect(witness.verifier.verify(body, Uint8Array.of(...new Uint8Array(8), ...plain.sign(body)))).toBe(false)
    })

    it('signs and verifies only checkpoint bodies', () => {
      // A well-formed cosignature/v1 signature by the witness key over a text that is not a checkpoint.
      const text = utf8('not a checkpoint\n')
      const raw = providers.signature.sign(sigsumSeed, cosignatureV1Message(text, ts))
      const forged = Uint8Array.of(0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00, ...raw) // ts = 1_700_000_000
      expect(parseCosignatureV1(forged).timestamp).toBe(ts)
      expect(providers.signature.verify(witness.publicKey, cosignatureV1Message(text, ts), raw)).toBe(true)
      expect(witness.verifier.verify(text, forged)).toBe(false)
      expectCode(() => witness.signAt(utf8('not a checkpoint\n'), ts), 'CHECKPOINT_MALFORMED')
      expectCode(() => witness.signAt(Uint8Array.of(0xff, 0x0a), ts), 'CHECKPOINT_MALFORMED')
      expectCode(() => witness.sign(utf8('a\n9007199254740992\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n')),
        'SIZE_OUT_OF_RANGE')
      expectCode(() => signNote('hello\n', [witness]), 'CHECKPOINT_MALFORMED')
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expectMisuse(() => witness.signAt(body, bad), RangeError)
      expectMisuse(() => createCosignatureSigner('w', sigsumSeed, { providers, clock: () => -5 }).sign(body), RangeError)
    })

    it('works as a plain note signer and verifier through openNote', () => {
      const note = signNote(sigsumCheckpoint.body, [log, witness])
      const opened = openNote(note, [witness.verifier])
      expect(opened.verified.map((s) => s.name)).toEqual([co.witnessName])
      expectCode(() => openNote(note.replace('\n10\n', '\n12\n'), [witness.verifier]), 'SIGNATURE_INVALID')
      const fromKey = parseSignerKey(formatSignerKey(co.witnessName, 4, sigsumSeed, options), options)
      expect(isCosignatureSigner(fromKey)).toBe(true)
      expect(isCosignatureSigner(log)).toBe(false)
    })
  })

  describe(`cosignatures: witness helpers (${providers.signature.name})`, () => {
    const w1 = createCosignatureSigner('example.net/w1', testSeed(31), { providers })
    const w2 = createCosignatureSigner('example.net/w2', testSeed(32), { providers })
    const checkpoint = open(signCheckpoint({ origin: 'example.org/log', size: 7, rootHash: testSeed(33), extensions: [] }, log))

    it('collects cosignatures from several witnesses', () => {
      const lines = formatSignatureLine(cosignCheckpoint(checkpoint, w1, 100)) +
        formatSignatureLine(cosignCheckpoint(checkpoint, w2, 200))
      const cosigned = addCosignatures(checkpoint, parseSignatureLines(lines), [w1.verifier, w2.verifier])
      expect(cosigned.signatures.map((s) => s.name)).toEqual(['example.org/log'])
      expect(cosigned.otherSignatures.map((s) => s.name)).toEqual(['example.net/w1', 'example.net/w2'])
      const found = verifyCosignatures(cosigned, [w2.verifier, w1.verifier])
      expect(found.map((c) => [c.name, c.timestamp])).toEqual([['example.net/w1', 100], ['example.net/w2', 200]])
      expect(verifyCosignatures(cosigned, [w2.verifier]).map((c) => c.timestamp)).toEqual([200])
      expect(verifyCosignatures(checkpoint, [w1.verifier])).toEqual([])
      expect(openCheckpoint(cosigned.note, [log.verifier]).otherSignatures).toHaveLength(2)
    })

    it('replaces an older cosignature by the same witness', () => {
      const first = addCosignatures(checkpoint, [cosignCheckpoint(checkpoint, w1, 100)], [w1.verifier])
      const second = addCosignatures(first, [cosignCheckpoint(first, w1, 150)], [w1.verifier])
      expect(verifyCosignatures(second, [w1.verifier]).map((c) => c.timestamp)).toEqual([150])
      expect(parseNote(second.note).signatures).toHaveLength(2)
    })

    it('refuses unknown, invalid and non-witness cosignatures', () => {
      const good = cosignCheckpoint(checkpoint, w1, 100)
      expectCode(() => addCosignatures(checkpoint, [good], [w2.verifier]), 'NOTE_UNVERIFIED')
      const bad = { ...good, signature: Uint8Array.of(...good.signature.subarray(0, 71), good.signature[71]! ^ 1) }
      expectCode(() => addCosignatures(checkpoint, [bad], [w1.verifier]), 'SIGNATURE_INVALID')
      const other = open(signCheckpoint({ origin: 'example.org/log', size: 8, rootHash: testSeed(33), extensions: [] }, log))
      expectCode(() => addCosignatures(other, [good], [w1.verifier]), 'SIGNATURE_INVALID')
      expectMisuse(() => addCosignatures(checkpoint, [good], [log.verifier]), RangeError)
      expectMisuse(() => verifyCosignatures(checkpoint, [log.verifier]), RangeError)
    })

    it('only cosigns and inspects checkpoints from openCheckpoint', () => {
      const forged = { ...checkpoint } as VerifiedCheckpoint
      expectMisuse(() => cosignCheckpoint(forged, w1, 1), TypeError)
      expectMisuse(() => verifyCosignatures(forged, [w1.verifier]), TypeError)
      expectMisuse(() => addCosignatures(forged, [], [w1.verifier]), TypeError)
      expectMisuse(() => cosignCheckpoint(checkpoint, log as never, 1), TypeError)
      expect(formatCheckpoint(checkpoint)).toBe(checkpoint.body)
    })
  })
}
