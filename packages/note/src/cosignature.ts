import { parseCheckpoint } from './checkpoint.js'
import { ED25519_PUBLIC_KEY_SIZE, ED25519_SEED_SIZE, ED25519_SIGNATURE_SIZE } from './ed25519.js'
import { concatBytes, readUint64, uint64Bytes, utf8Decode, utf8Encode } from './internal/bytes.js'
import { checkKeyInput } from './internal/text.js'
import {
  SIGNATURE_TYPE_COSIGNATURE_V1, computeKeyId, defaultProviders,
  type NoteProviders, type NoteSigner, type NoteVerifier, type SignatureScheme,
} from './scheme.js'
import { NoteError } from './errors.js'

/** timestamped_signature for Ed25519: u64 timestamp || 64-byte signature (tlog-cosignature §Format). */
export const COSIGNATURE_V1_SIZE = 8 + ED25519_SIGNATURE_SIZE

/** A witness key: signs checkpoints with cosignature/v1 (signature type 0x04). */
export interface CosignatureSigner extends NoteSigner {
  /**
   * The cosignature of the checkpoint body `message` at `timestamp` (POSIX seconds).
   * Requires a safe non-negative integer timestamp (else RangeError); throws
   * CHECKPOINT_MALFORMED or SIZE_OUT_OF_RANGE if `message` is not a checkpoint.
   */
  signAt(message: Uint8Array, timestamp: number): Uint8Array
}

export interface CosignatureSignerOptions {
  readonly providers?: NoteProviders
  /** Seconds since the epoch, used by `sign`. Defaults to the system clock. */
  readonly clock?: () => number
}

/** A decoded cosignature/v1 signature (the bytes after the key ID). */
export interface CosignatureV1 {
  readonly timestamp: number
  readonly signature: Uint8Array
}

const systemClock = (): number => Math.floor(Date.now() / 1000)

function checkTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError('timestamp must be a safe non-negative integer')
  }
}

/**
 * tlog-cosignature §Ed25519 signed message: "cosignature/v1\ntime <timestamp>\n" followed by
 * the checkpoint body. Requires a safe non-negative integer timestamp (else RangeError).
 */
export function cosignatureV1Message(body: string | Uint8Array, timestamp: number): Uint8Array {
  checkTimestamp(timestamp)
  const bytes = typeof body === 'string' ? utf8Encode(body) : body
  return concatBytes(utf8Encode(`cosignature/v1\ntime ${timestamp}\n`), bytes)
}

/**
 * Splits a cosignature/v1 signature: exactly 72 bytes, big-endian u64 timestamp then the
 * Ed25519 signature. The spec allows timestamps up to 2^63 - 1; Annal keeps them as numbers
 * and refuses anything above 2^53 - 1. Throws COSIGNATURE_MALFORMED.
 */
export function parseCosignatureV1(signature: Uint8Array): CosignatureV1 {
  if (!(signature instanceof Uint8Array) || signature.length !== COSIGNATURE_V1_SIZE) {
    throw new NoteError('COSIGNATURE_MALFORMED', 'cosignature must be 72 bytes')
  }
  const timestamp = readUint64(signature)
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new NoteError('COSIGNATURE_MALFORMED', 'cosignature timestamp is above 2^53 - 1')
  }
  return Object.freeze({ timestamp: Number(timestamp), signature: signature.slice(8) })
}

/** Checks that `message` is a checkpoint body; throws CHECKPOINT_MALFORMED or SIZE_OUT_OF_RANGE. */
function checkpointBody(message: Uint8Array): void {
  const body = utf8Decode(message)
  if (body === undefined) throw new NoteError('CHECKPOINT_MALFORMED', 'checkpoint is not valid UTF-8')
  parseCheckpoint(body)
}

/** Signature type 0x04 verifier. Throws RangeError for a bad name or key size. */
function cosignatureVerifier(name: string, publicKey: Uint8Array, providers: NoteProviders): NoteVerifier {
  checkKeyInput(name, publicKey, ED25519_PUBLIC_KEY_SIZE, 'Ed25519 public key')
  const key = publicKey.slice()
  return Object.freeze({
    name,
    keyId: computeKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, key, providers.hash),
    type: SIGNATURE_TYPE_COSIGNATURE_V1,
    publicKey: key.slice(),
    verify(message: Uint8Array, signature: Uint8Array): boolean {
      try {
        const parsed = parseCosignatureV1(signature)
        checkpointBody(message)
        return providers.signature.verify(key, cosignatureV1Message(message, parsed.timestamp), parsed.signature)
      } catch {
        return false
      }
    },
  })
}

/**
 * A witness signer for Ed25519 seed `seed`. Throws RangeError for a bad name or seed size.
 * Its `sign` reads the clock; `signAt` takes the timestamp.
 */
export function createCosignatureSigner(name: string, seed: Uint8Array,
    options: CosignatureSignerOptions = {}): CosignatureSigner {
  const providers = options.providers ?? defaultProviders
  const clock = options.clock ?? systemClock
  checkKeyInput(name, seed, ED25519_SEED_SIZE, 'Ed25519 seed')
  const secret = seed.slice()
  const verifier = cosignatureVerifier(name, providers.signature.publicKey(secret), providers)
  const signAt = (message: Uint8Array, timestamp: number): Uint8Array => {
    checkTimestamp(timestamp)
    checkpointBody(message)
    const signature = providers.signature.sign(secret, cosignatureV1Message(message, timestamp))
    return concatBytes(uint64Bytes(timestamp), signature)
  }
  return Object.freeze({
    name,
    keyId: verifier.keyId,
    type: SIGNATURE_TYPE_COSIGNATURE_V1,
    publicKey: verifier.publicKey,
    verifier,
    signAt,
    sign: (message: Uint8Array) => signAt(message, clock()),
  })
}

/** True for a signer that makes cosignature/v1 signatures with a caller-chosen timestamp. */
export function isCosignatureSigner(signer: NoteSigner): signer is CosignatureSigner {
  return signer.type === SIGNATURE_TYPE_COSIGNATURE_V1 &&
    typeof (signer as Partial<CosignatureSigner>).signAt === 'function'
}

/**
 * Signature type 0x04 (tlog-cosignature v1): Ed25519 over "cosignature/v1\ntime <t>\n" and
 * the checkpoint body; the signature is the u64 timestamp followed by the Ed25519 signature.
 * Verifiers return false, and signers throw, for a note text that is not a checkpoint.
 */
export const cosignatureV1Scheme: SignatureScheme = Object.freeze({
  type: SIGNATURE_TYPE_COSIGNATURE_V1,
  description: 'Ed25519 cosignature/v1 (timestamped)',
  publicKeySize: ED25519_PUBLIC_KEY_SIZE,
  seedSize: ED25519_SEED_SIZE,
  verifier: cosignatureVerifier,
  signer: (name: string, seed: Uint8Array, providers: NoteProviders) =>
    createCosignatureSigner(name, seed, { providers }),
})
