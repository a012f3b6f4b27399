/**
 * @module
 * C2SP signed notes, checkpoints and cosignatures with Ed25519: pure TypeScript that runs in
 * browsers. Parsing checks syntax (`parseCheckpoint`, `parseNote`); opening verifies
 * (`openCheckpoint` returns a `VerifiedCheckpoint`, the only kind that can be cosigned or
 * served). Start with `generateKeyPair`, `signCheckpoint`, `openCheckpoint` and
 * `verifyCosignatures`. The C2SP text formats built on checkpoints are here too: tlog-witness
 * add-checkpoint requests and tlog-proof files (`formatTlogProof`, `parseTlogProof`).
 * @example
 * import { generateKeyPair, openCheckpoint, parseSignerKey, parseVerifierKey, signCheckpoint } from '@annal/note'
 *
 * const origin = 'example.com/log'
 * const keys = generateKeyPair(origin)
 * const note = signCheckpoint({ origin, size: 1, rootHash: new Uint8Array(32), extensions: [] }, parseSignerKey(keys.signerKey))
 * // Throws NoteError NOTE_UNVERIFIED unless a key named after the origin signed it.
 * const checkpoint = openCheckpoint(note, [parseVerifierKey(keys.verifierKey)])
 * if (checkpoint.size !== 1 || checkpoint.origin !== origin) throw new Error('not the checkpoint signed')
 */
export { NOTE_ERROR_CODES, NoteError, isNoteError } from './errors.js'
export type { NoteErrorCode, NoteErrorOptions } from './errors.js'
export { decodeBase64, decodeBase64Hash, encodeBase64 } from './base64.js'
export { ED25519_PUBLIC_KEY_SIZE, ED25519_SEED_SIZE, ED25519_SIGNATURE_SIZE, nobleEd25519 } from './ed25519.js'
export type { SignatureProvider } from './ed25519.js'
export {
  SIGNATURE_TYPE_COSIGNATURE_V1, SIGNATURE_TYPE_ED25519, computeKeyId, defaultProviders, isValidKeyName,
} from './scheme.js'
export type { NoteProviders, NoteSigner, NoteVerifier, SignatureScheme } from './scheme.js'
export { ed25519NoteScheme } from './ed25519-note.js'
export {
  createSigner, createVerifier, defaultSchemes, formatSignerKey, formatVerifierKey, generateKeyPair,
  parseSignerKey, parseVerifierKey, schemeRegistry,
} from './keys.js'
export type { KeyOptions, KeyPair, SchemeRegistry } from './keys.js'
export {
  MAX_SIGNATURES, formatSignatureLine, openNote, parseNote, parseSignatureLine, parseSignatureLines, signNote,
} from './note.js'
export type { NoteSignature, OpenedNote, ParsedNote, VerifiedSignature } from './note.js'
export { VerifiedCheckpoint, formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js'
export type { Checkpoint, OpenCheckpointOptions } from './checkpoint.js'
export {
  COSIGNATURE_V1_SIZE, cosignatureV1Message, cosignatureV1Scheme, createCosignatureSigner, isCosignatureSigner,
  parseCosignatureV1,
} from './cosignature.js'
export type { CosignatureSigner, CosignatureSignerOptions, CosignatureV1 } from './cosignature.js'
export { addCosignatures, cosignCheckpoint, verifyCosignatures } from './witness.js'
export type { Cosignature } from './witness.js'
export { MAX_ADD_CHECKPOINT_SIZE, MAX_PROOF_LINES, formatAddCheckpoint, parseAddCheckpoint } from './add-checkpoint.js'
export type { AddCheckpointRequest } from './add-checkpoint.js'
export { TLOG_PROOF_HEADER, formatTlogProof, parseTlogProof } from './tlog-proof.js'
export type { TlogProof } from './tlog-proof.js'
