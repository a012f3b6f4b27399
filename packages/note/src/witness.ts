import { openCheckpoint } from './checkpoint.js'
import { isCosignatureSigner, parseCosignatureV1, type CosignatureSigner } from './cosignature.js'
import { utf8Encode } from './internal/bytes.js'
import { makeSignature } from './internal/signature.js'
import { VerifiedCheckpoint } from './internal/verified.js'
import { indexVerifiers, nameKeyId } from './internal/verifiers.js'
import { parseNote, signNote, type NoteSignature } from './note.js'
import { SIGNATURE_TYPE_COSIGNATURE_V1, type NoteVerifier } from './scheme.js'
import { NoteError } from './errors.js'

/** A cosignature/v1 that verified under one of the caller's witness keys. */
export interface Cosignature {
  readonly name: string
  readonly keyId: number
  /** When the witness signed, in POSIX seconds. */
  readonly timestamp: number
  readonly signature: NoteSignature
  readonly verifier: NoteVerifier
}

function checkVerified(checkpoint: VerifiedCheckpoint): void {
  if (!(checkpoint instanceof VerifiedCheckpoint)) throw new TypeError('checkpoint must come from openCheckpoint')
}

function witnessIndex(witnesses: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const index = indexVerifiers(witnesses)
  for (const witness of index.values()) {
    if (witness.type !== SIGNATURE_TYPE_COSIGNATURE_V1) throw new RangeError('witness keys must be cosignature/v1 (0x04)')
  }
  return index
}

/**
 * A witness's cosignature of a verified checkpoint (tlog-cosignature v1), at `timestamp` or,
 * if omitted, the signer's clock. Format it with formatSignatureLine. Requires a checkpoint
 * from openCheckpoint and a cosignature/v1 signer (else TypeError). The caller (the witness)
 * must have checked consistency with what it cosigned before.
 */
export function cosignCheckpoint(checkpoint: VerifiedCheckpoint, signer: CosignatureSigner,
    timestamp?: number): NoteSignature {
  checkVerified(checkpoint)
  if (!isCosignatureSigner(signer)) throw new TypeError('signer must be a cosignature/v1 signer')
  const message = utf8Encode(checkpoint.body)
  const signature = timestamp === undefined ? signer.sign(message) : signer.signAt(message, timestamp)
  return makeSignature(signer.name, signer.keyId, signature)
}

/**
 * Verifies the cosignatures in a checkpoint's note from the given witnesses (all type 0x04,
 * else RangeError). Lines from other keys are ignored; a line from a given witness that does
 * not verify rejects the note, as in signed-note §Signatures. Returns one entry per witness
 * (its first line), in note order; quorum is the caller's policy.
 * Throws SIGNATURE_INVALID; TypeError for a checkpoint not from openCheckpoint.
 */
export function verifyCosignatures(checkpoint: VerifiedCheckpoint, witnesses: readonly NoteVerifier[]): Cosignature[] {
  checkVerified(checkpoint)
  const index = witnessIndex(witnesses)
  const message = utf8Encode(checkpoint.body)
  const found = new Map<string, Cosignature>()
  for (const signature of parseNote(checkpoint.note).signatures) {
    const key = nameKeyId(signature.name, signature.keyId)
    const verifier = index.get(key)
    if (verifier === undefined) continue
    if (!verifier.verify(message, signature.signature)) {
      throw new NoteError('SIGNATURE_INVALID', 'a cosignature from a known witness does not verify')
    }
    if (found.has(key)) continue
    const { timestamp } = parseCosignatureV1(signature.signature)
    found.set(key, Object.freeze({ name: signature.name, keyId: signature.keyId, timestamp, signature, verifier }))
  }
  return [...found.values()]
}

/**
 * Adds cosignatures (say, from parseSignatureLines on witness responses) to a verified
 * checkpoint's note. Each must verify under one of `witnesses` (all type 0x04, else
 * RangeError); a new line replaces an older line by the same witness. Returns the checkpoint
 * with the new note. Throws NOTE_UNVERIFIED for a line from an unknown key,
 * SIGNATURE_INVALID for one that does not verify, NOTE_MALFORMED past MAX_SIGNATURES.
 */
export function addCosignatures(checkpoint: VerifiedCheckpoint, cosignatures: readonly NoteSignature[],
    witnesses: readonly NoteVerifier[]): VerifiedCheckpoint {
  checkVerified(checkpoint)
  const index = witnessIndex(witnesses)
  const message = utf8Encode(checkpoint.body)
  const added = new Map<string, NoteSignature>()
  for (const given of cosignatures) {
    // Rebuilt from the bytes that are verified, so the line served is the line checked.
    const signature = makeSignature(given.name, given.keyId, given.signature)
    const key = nameKeyId(signature.name, signature.keyId)
    const verifier = index.get(key)
    if (verifier === undefined) throw new NoteError('NOTE_UNVERIFIED', 'cosignature from an unknown witness')
    if (!verifier.verify(message, signature.signature)) {
      throw new NoteError('SIGNATURE_INVALID', 'cosignature does not verify')
    }
    if (!added.has(key)) added.set(key, signature)
  }
  const kept = parseNote(checkpoint.note).signatures
    .filter((signature) => !added.has(nameKeyId(signature.name, signature.keyId)))
  const note = signNote(checkpoint.body, [], [...kept, ...added.values()])
  // Re-open with the same log keys: the result is verified exactly as openCheckpoint would.
  const logKeys = checkpoint.signatures.map((signature) => signature.verifier)
  return openCheckpoint(note, logKeys, { keyNameMustMatchOrigin: false })
}
