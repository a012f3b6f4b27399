import { cosignatureV1Scheme } from './cosignature.js'
import { ed25519NoteScheme } from './ed25519-note.js'
import { decodeBase64, encodeBase64 } from './base64.js'
import { concatBytes, hex32 } from './internal/bytes.js'
import { isValidName } from './internal/text.js'
import {
  SIGNATURE_TYPE_ED25519, defaultProviders,
  type NoteProviders, type NoteSigner, type NoteVerifier, type SignatureScheme,
} from './scheme.js'
import { NoteError } from './errors.js'

/** Signature schemes by type byte. */
export type SchemeRegistry = ReadonlyMap<number, SignatureScheme>

/** A registry of the given schemes; throws RangeError if two share a type byte. */
export function schemeRegistry(...schemes: readonly SignatureScheme[]): SchemeRegistry {
  const registry = new Map<number, SignatureScheme>()
  for (const scheme of schemes) {
    if (registry.has(scheme.type)) throw new RangeError('two schemes share a signature type')
    registry.set(scheme.type, scheme)
  }
  return registry
}

/** 0x01 Ed25519 note signatures and 0x04 cosignature/v1. */
export const defaultSchemes: SchemeRegistry = schemeRegistry(ed25519NoteScheme, cosignatureV1Scheme)

export interface KeyOptions {
  readonly providers?: NoteProviders
  readonly schemes?: SchemeRegistry
}

export interface KeyPair {
  /** `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`: keep secret. */
  readonly signerKey: string
  /** `<name>+<hex key ID>+<base64(type || public key)>`. */
  readonly verifierKey: string
}

const PRIVATE_PREFIX = 'PRIVATE+KEY+'
const KEY_ID = /^[0-9a-f]{8}$/

function malformed(message: string): NoteError {
  return new NoteError('KEY_MALFORMED', message)
}

function schemeFor(type: number, options: KeyOptions): SignatureScheme | undefined {
  return (options.schemes ?? defaultSchemes).get(type)
}

interface KeyParts {
  readonly name: string
  readonly keyId: number
  readonly scheme: SignatureScheme
  readonly key: Uint8Array
}

/**
 * Splits `<name>+<8 lowercase hex>+<canonical base64(type || key)>` and looks the type up.
 * Names hold no '+', so the first two '+' are the separators. Throws KEY_MALFORMED.
 */
function splitKey(text: string, options: KeyOptions): KeyParts {
  const first = text.indexOf('+')
  const second = text.indexOf('+', first + 1)
  const name = text.slice(0, first)
  const id = text.slice(first + 1, second)
  const bytes = decodeBase64(text.slice(second + 1))
  if (first < 0 || second < 0 || !isValidName(name) || !KEY_ID.test(id) || bytes === undefined ||
      bytes.length === 0) {
    throw malformed('malformed key')
  }
  const scheme = schemeFor(bytes[0] as number, options)
  if (scheme === undefined) throw malformed('unknown signature type')
  return { name, keyId: Number.parseInt(id, 16), scheme, key: bytes.subarray(1) }
}

/**
 * Parses a verifier key (vkey) `<name>+<hex key ID>+<base64(type || public key)>` strictly:
 * valid name, 8 lowercase hex digits, canonical base64, a registered type, the scheme's key
 * size, and a key ID equal to the one computed from the key. Throws KEY_MALFORMED.
 */
export function parseVerifierKey(vkey: string, options: KeyOptions = {}): NoteVerifier {
  if (typeof vkey !== 'string') throw new TypeError('verifier key must be a string')
  const { name, keyId, scheme, key } = splitKey(vkey, options)
  if (key.length !== scheme.publicKeySize) throw malformed('wrong public key size')
  const verifier = scheme.verifier(name, key, options.providers ?? defaultProviders)
  if (verifier.keyId !== keyId) throw malformed('key ID does not match the key')
  return verifier
}

/**
 * Parses a signer key `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>` with the same
 * checks as parseVerifierKey; the key ID is checked against the derived public key.
 * Throws KEY_MALFORMED.
 */
export function parseSignerKey(skey: string, options: KeyOptions = {}): NoteSigner {
  if (typeof skey !== 'string') throw new TypeError('signer key must be a string')
  if (!skey.startsWith(PRIVATE_PREFIX)) throw malformed('signer key must start with PRIVATE+KEY+')
  const { name, keyId, scheme, key } = splitKey(skey.slice(PRIVATE_PREFIX.length), options)
  if (key.length !== scheme.seedSize) throw malformed('wrong private key size')
  const signer = scheme.signer(name, key, options.providers ?? defaultProviders)
  if (signer.keyId !== keyId) throw malformed('key ID does not match the key')
  return signer
}

/**
 * The verifier key string of `verifier`. Requires a valid name, a uint32 key ID and a type
 * byte (else RangeError).
 */
export function formatVerifierKey(verifier: Pick<NoteVerifier, 'name' | 'keyId' | 'type' | 'publicKey'>): string {
  const { name, keyId, type, publicKey } = verifier
  if (!isValidName(name)) throw new RangeError('invalid key name')
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) throw new RangeError('invalid key ID')
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError('invalid signature type')
  return `${name}+${hex32(keyId)}+${encodeBase64(concatBytes(Uint8Array.of(type), publicKey))}`
}

/** A verifier for a raw public key. RangeError for an unknown type, bad name or key size. */
export function createVerifier(name: string, type: number, publicKey: Uint8Array,
    options: KeyOptions = {}): NoteVerifier {
  const scheme = schemeFor(type, options)
  if (scheme === undefined) throw new RangeError('unknown signature type')
  return scheme.verifier(name, publicKey, options.providers ?? defaultProviders)
}

/** A signer for a raw seed. RangeError for an unknown type, bad name or seed size. */
export function createSigner(name: string, type: number, seed: Uint8Array, options: KeyOptions = {}): NoteSigner {
  const scheme = schemeFor(type, options)
  if (scheme === undefined) throw new RangeError('unknown signature type')
  return scheme.signer(name, seed, options.providers ?? defaultProviders)
}

/** The signer key string for a raw seed. RangeError for an unknown type, bad name or seed size. */
export function formatSignerKey(name: string, type: number, seed: Uint8Array, options: KeyOptions = {}): string {
  const signer = createSigner(name, type, seed, options)
  return `${PRIVATE_PREFIX}${name}+${hex32(signer.keyId)}+${encodeBase64(concatBytes(Uint8Array.of(type), seed))}`
}

/**
 * A new key pair named `name`, of `options.type` (default 0x01), from a seed drawn with
 * crypto.getRandomValues. RangeError for an invalid name or unknown type.
 */
export function generateKeyPair(name: string, options: KeyOptions & { readonly type?: number } = {}): KeyPair {
  const type = options.type ?? SIGNATURE_TYPE_ED25519
  const scheme = schemeFor(type, options)
  if (scheme === undefined) throw new RangeError('unknown signature type')
  const seed = crypto.getRandomValues(new Uint8Array(scheme.seedSize))
  try {
    const signerKey = formatSignerKey(name, type, seed, options)
    const verifierKey = formatVerifierKey(createSigner(name, type, seed, options).verifier)
    return Object.freeze({ signerKey, verifierKey })
  } finally {
    seed.fill(0)
  }
}
