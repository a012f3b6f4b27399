import { describe, expect, it } from 'vitest'
import * as api from './index.js'

describe('public API', () => {
  it('exports exactly these values (types are erased)', () => {
    expect(Object.keys(api).sort()).toEqual([
      'COSIGNATURE_V1_SIZE', 'ED25519_PUBLIC_KEY_SIZE', 'ED25519_SEED_SIZE', 'ED25519_SIGNATURE_SIZE',
      'MAX_SIGNATURES', 'SIGNATURE_TYPE_COSIGNATURE_V1', 'SIGNATURE_TYPE_ED25519', 'VerifiedCheckpoint',
      'addCosignatures', 'computeKeyId', 'cosignCheckpoint', 'cosignatureV1Message', 'cosignatureV1Scheme',
      'createCosignatureSigner', 'createSigner', 'createVerifier', 'defaultProviders', 'defaultSchemes',
      'ed25519NoteScheme', 'formatCheckpoint', 'formatSignatureLine', 'formatSignerKey', 'formatVerifierKey',
      'generateKeyPair', 'isCosignatureSigner', 'isValidKeyName', 'nobleEd25519', 'openCheckpoint', 'openNote',
      'parseCheckpoint', 'parseCosignatureV1', 'parseNote', 'parseSignatureLine', 'parseSignatureLines',
      'parseSignerKey', 'parseVerifierKey', 'schemeRegistry', 'signCheckpoint', 'signNote', 'verifyCosignatures',
    ])
  })

  it('wires the default registry and providers', () => {
    expect([...api.defaultSchemes.keys()]).toEqual([0x01, 0x04])
    expect(api.defaultProviders.signature).toBe(api.nobleEd25519)
    expect(Object.isFrozen(api.defaultProviders)).toBe(true)
  })
})
