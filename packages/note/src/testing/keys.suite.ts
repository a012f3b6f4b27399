import { describe, expect, it } from 'vitest'
import goNote from '../../testdata/go-sumdb-note.json' with { type: 'json' }
import tdev from '../../testdata/transparency-dev-formats.json' with { type: 'json' }
import { cosignatureV1Scheme } from '../cosignature.js'
import { ed25519NoteScheme } from '../ed25519-note.js'
import {
  createSigner, createVerifier, formatSignerKey, formatVerifierKey, generateKeyPair, parseSignerKey,
  parseVerifierKey, schemeRegistry, type KeyOptions,
} from '../keys.js'
import {
  SIGNATURE_TYPE_COSIGNATURE_V1, SIGNATURE_TYPE_ED25519, computeKeyId, isValidKeyName,
  type NoteSigner, type NoteVerifier, type SignatureScheme,
} from '../scheme.js'
import { expectCode, expectMisuse, fromBase64, testSeed, toBase64, utf8, type SuiteProviders } from './helpers.js'

const peter = goNote.peterNeumann
const BAD_NAMES = ['', 'a b', 'a\tb', 'a\nb', 'a\u00a0b', 'a\u2028b', 'a\u3000b', 'a\u0085b', 'a+b', 'a\u0001b', 'a\ud800b']
const GOOD_NAMES = ['example.com/log', 'PeterNeumann', 'ünïcödé', 'emoji/😀', 'zero\u200bwidth', 'oid/1.3.6.1', 'a-b_c.d~e']

/** Go's testSignerAndVerifier: sign, verify, and fail on corrupted signature or message. */
function checkPair(signer: NoteSigner, verifier: NoteVerifier, message: Uint8Array): void {
  expect(signer.name).toBe(verifier.name)
  expect(signer.keyId).toBe(verifier.keyId)
  const signature = signer.sign(message)
  expect(verifier.verify(message, signature)).toBe(true)
  const corrupt = signature.slice()
  corrupt[corrupt.length - 1]! ^= 1
  expect(verifier.verify(message, corrupt)).toBe(false)
  const other = message.slice()
  other[0]! ^= 1
  expect(verifier.verify(other, signature)).toBe(false)
}

export function keysSuite(providers: SuiteProviders): void {
  const options: KeyOptions = { providers }
  const checkpointText = utf8('example.com/log\n1\nKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n')

  describe(`keys (${providers.signature.name}, ${providers.hash.name})`, () => {
    it('parses the Go PeterNeumann and EnochRoot keys', () => {
      const verifier = parseVerifierKey(peter.verifierKey, options)
      expect([verifier.name, verifier.keyId, verifier.type]).toEqual(['PeterNeumann', 0xc74f20a3, 1])
      const signer = parseSignerKey(peter.signerKey, options)
      expect(signer.publicKey).toEqual(verifier.publicKey)
      expect(signer.keyId).toBe(Number.parseInt(peter.keyId, 16))
      checkPair(signer, verifier, utf8('hi'))
      expect(parseVerifierKey(goNote.enochRoot.verifierKey, options).keyId).toBe(0xaf0cfe78)
    })

    it('formats keys byte-identically to Go', () => {
      const signer = parseSignerKey(peter.signerKey, options)
      expect(formatVerifierKey(signer.verifier)).toBe(peter.verifierKey)
      const seed = fromBase64(peter.signerKey.split('+').slice(4).join('+')).subarray(1)
      expect(formatSignerKey('PeterNeumann', 1, seed, options)).toBe(peter.signerKey)
      expect(computeKeyId('PeterNeumann', 1, signer.publicKey, providers.hash)).toBe(0xc74f20a3)
    })

    it('rejects every proper substring and every one-byte change of the Go keys', () => {
      for (const [key, parse] of [[peter.verifierKey, parseVerifierKey], [peter.signerKey, parseSignerKey]] as const) {
        for (let i = 0; i <= key.length; i++) {
          for (let j = i + 1; j <= key.length; j++) {
            if (i !== 0 || j !== key.length) expectCode(() => parse(key.slice(i, j), options), 'KEY_MALFORMED')
          }
        }
        for (let i = 0; i < key.length; i++) {
          const changed = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1)
          expectCode(() => parse(changed, options), 'KEY_MALFORMED')
        }
      }
    })

    it('rejects the bad keys from the Go and transparency-dev tests', () => {
      for (const { key } of [...goNote.badVerifierKeys, ...tdev.badVerifierKeys]) {
        expectCode(() => parseVerifierKey(key, options), 'KEY_MALFORMED')
      }
    })

    it('parses the transparency-dev keys, including a 0x04 witness key', () => {
      for (const { key, type, keyId } of tdev.verifierKeys) {
        const verifier = parseVerifierKey(key, options)
        expect([verifier.type, verifier.keyId]).toEqual([type, Number.parseInt(keyId, 16)])
        expect(formatVerifierKey(verifier)).toBe(key)
      }
    })

    it('rejects a key of the wrong length even with a matching key ID', () => {
      const publicKey = parseVerifierKey(peter.verifierKey, options).publicKey
      for (const key of [publicKey.subarray(0, 31), Uint8Array.of(...publicKey, 0)]) {
        const id = computeKeyId('PeterNeumann', 1, key, providers.hash).toString(16).padStart(8, '0')
        expectCode(() => parseVerifierKey(`PeterNeumann+${id}+${toBase64(Uint8Array.of(1, ...key))}`, options),
          'KEY_MALFORMED')
      }
    })

    it('accepts only 8 lowercase hex digits and canonical base64', () => {
      const [name, id, data] = ['PeterNeumann', peter.keyId, peter.verifierKey.slice(22)]
      for (const bad of [id.toUpperCase(), id.slice(1), `0${id}`, `+${id.slice(1)}`, ` ${id.slice(1)}`]) {
        expectCode(() => parseVerifierKey(`${name}+${bad}+${data}`, options), 'KEY_MALFORMED')
      }
      for (const bad of [`${data}=`, ` ${data}`, `${data}\n`, data.replace('/', '_'), `${data}AA==`, data.slice(0, -1)]) {
        expectCode(() => parseVerifierKey(`${name}+${id}+${bad}`, options), 'KEY_MALFORMED')
      }
      expectCode(() => parseVerifierKey(`PeterNeumann+${id}+`, options), 'KEY_MALFORMED')
      expectCode(() => parseSignerKey(peter.signerKey.replace('PRIVATE+KEY', 'private+key'), options), 'KEY_MALFORMED')
      expectCode(() => parseSignerKey(peter.verifierKey, options), 'KEY_MALFORMED')
    })

    it('validates key names per signed-note', () => {
      for (const name of GOOD_NAMES) expect(isValidKeyName(name), name).toBe(true)
      for (const name of BAD_NAMES) {
        expect(isValidKeyName(name), JSON.stringify(name)).toBe(false)
        if (!name.includes('+')) {
          expectCode(() => parseVerifierKey(`${name}+${peter.verifierKey.slice(13)}`, options), 'KEY_MALFORMED')
        }
        expectMisuse(() => createVerifier(name, 1, new Uint8Array(32), options), RangeError)
      }
    })

    it('refuses unknown signature types and honours a custom registry', () => {
      const publicKey = parseVerifierKey(peter.verifierKey, options).publicKey
      for (const type of [0x00, 0x02, 0x03, 0x05, 0x06, 0xff]) {
        const id = computeKeyId('PeterNeumann', type, publicKey, providers.hash).toString(16).padStart(8, '0')
        expectCode(() => parseVerifierKey(`PeterNeumann+${id}+${toBase64(Uint8Array.of(type, ...publicKey))}`, options),
          'KEY_MALFORMED')
      }
      const toy: SignatureScheme = { ...ed25519NoteScheme, type: 0x42, description: 'toy' }
      const schemes = schemeRegistry(toy)
      const vkey = formatVerifierKey({ ...parseVerifierKey(peter.verifierKey, options), type: 0x42 })
      // The toy scheme reuses the 0x01 key ID rule, so the key ID in the string still matches.
      expect(parseVerifierKey(vkey, { ...options, schemes }).name).toBe('PeterNeumann')
      expectCode(() => parseVerifierKey(peter.verifierKey, { ...options, schemes }), 'KEY_MALFORMED')
      expectMisuse(() => schemeRegistry(toy, toy), RangeError)
      expectMisuse(() => createVerifier('x', 0x42, publicKey, options), RangeError)
    })

    it('separates 0x01 and 0x04 keys by key ID', () => {
      const seed = testSeed(1)
      const plain = createSigner('example.com/w', SIGNATURE_TYPE_ED25519, seed, options)
      const witness = createSigner('example.com/w', SIGNATURE_TYPE_COSIGNATURE_V1, seed, options)
      expect(plain.publicKey).toEqual(witness.publicKey)
      expect(plain.keyId).not.toBe(witness.keyId)
      expect(witness.keyId).toBe(computeKeyId('example.com/w', 4, witness.publicKey, providers.hash))
      checkPair(witness, parseVerifierKey(formatVerifierKey(witness.verifier), options), checkpointText)
      const skey = formatSignerKey('example.com/w', 4, seed, options)
      expect(skey.startsWith(`PRIVATE+KEY+example.com/w+${witness.keyId.toString(16).padStart(8, '0')}+B`)).toBe(true)
      expect(parseSignerKey(skey, options).keyId).toBe(witness.keyId)
      expect(cosignatureV1Scheme.signer('example.com/w', seed, providers).keyId).toBe(witness.keyId)
    })

    it('generates working key pairs of both types', () => {
      for (const type of [SIGNATURE_TYPE_ED25519, SIGNATURE_TYPE_COSIGNATURE_V1]) {
        const a = generateKeyPair('example.com/generated', { ...options, type })
        const b = generateKeyPair('example.com/generated', { ...options, type })
        expect(a.signerKey).not.toBe(b.signerKey)
        expect(a.signerKey.startsWith('PRIVATE+KEY+example.com/generated+')).toBe(true)
        const signer = parseSignerKey(a.signerKey, options)
        const verifier = parseVerifierKey(a.verifierKey, options)
        expect(verifier.type).toBe(type)
        checkPair(signer, verifier, checkpointText)
      }
      expectMisuse(() => generateKeyPair('bad name', options), RangeError)
      expectMisuse(() => generateKeyPair('ok', { ...options, type: 0x02 }), RangeError)
    })

    it('checks raw key sizes and formatting input', () => {
      expectMisuse(() => createVerifier('a', 1, new Uint8Array(31), options), RangeError)
      expectMisuse(() => createSigner('a', 1, new Uint8Array(33), options), RangeError)
      expectMisuse(() => createSigner('a', 4, new Uint8Array(31), options), RangeError)
      const verifier = createVerifier('a', 1, new Uint8Array(32).fill(9), options)
      expectMisuse(() => formatVerifierKey({ ...verifier, keyId: -1 }), RangeError)
      expectMisuse(() => formatVerifierKey({ ...verifier, keyId: 2 ** 32 }), RangeError)
      expectMisuse(() => formatVerifierKey({ ...verifier, type: 256 }), RangeError)
      expectMisuse(() => formatVerifierKey({ ...verifier, name: 'a b' }), RangeError)
      expectMisuse(() => computeKeyId('a b', 1, new Uint8Array(32), providers.hash), RangeError)
      expectMisuse(() => parseVerifierKey(42 as unknown as string, options), TypeError)
    })

    it('keeps its own copies of key material', () => {
      const seed = testSeed(2)
      const signer = createSigner('copy', 1, seed, options)
      const before = signer.sign(utf8('x'))
      seed.fill(0)
      expect(signer.sign(utf8('x'))).toEqual(before)
      const publicKey = signer.publicKey.slice()
      const verifier = createVerifier('copy', 1, publicKey, options)
      publicKey.fill(0)
      expect(verifier.verify(utf8('x'), before)).toBe(true)
      expect(Object.isFrozen(verifier) && Object.isFrozen(signer)).toBe(true)
    })
  })
}
