import type { Checkpoint } from '../checkpoint.js'
import type { NoteSignature, VerifiedSignature } from '../note.js'

const SEAL = Symbol('VerifiedCheckpoint')

interface VerifiedFields extends Checkpoint {
  readonly note: string
  readonly body: string
  readonly signatures: readonly VerifiedSignature[]
  readonly otherSignatures: readonly NoteSignature[]
}

/**
 * A checkpoint whose note carries a verified signature from its log. Only openCheckpoint and
 * addCosignatures make these (the constructor refuses other callers), so a VerifiedCheckpoint
 * is safe to cosign or serve. Its fields are frozen; `note` and `body` are authoritative.
 */
export class VerifiedCheckpoint implements Checkpoint {
  readonly origin: string
  readonly size: number
  readonly rootHash: Uint8Array
  readonly extensions: readonly string[]
  /** The signed note, exactly as opened (log signature and any cosignatures). */
  readonly note: string
  /** The note text that signatures cover: the checkpoint body, ending in a newline. */
  readonly body: string
  /** Signatures that verified under the caller's log keys. */
  readonly signatures: readonly VerifiedSignature[]
  /** Every other signature line (cosignatures, unknown keys), not verified here. */
  readonly otherSignatures: readonly NoteSignature[]

  constructor(seal: symbol, fields: VerifiedFields) {
    if (seal !== SEAL) throw new TypeError('a VerifiedCheckpoint comes from openCheckpoint')
    this.origin = fields.origin
    this.size = fields.size
    this.rootHash = fields.rootHash.slice()
    this.extensions = Object.freeze([...fields.extensions])
    this.note = fields.note
    this.body = fields.body
    this.signatures = Object.freeze([...fields.signatures])
    this.otherSignatures = Object.freeze([...fields.otherSignatures])
    Object.freeze(this)
  }
}

/** Internal: the only way to make a VerifiedCheckpoint. Callers must have verified it. */
export function sealCheckpoint(fields: VerifiedFields): VerifiedCheckpoint {
  return new VerifiedCheckpoint(SEAL, fields)
}
