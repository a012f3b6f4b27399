import { openCheckpoint, parseCheckpoint, parseNote, verifyCosignatures, type VerifiedCheckpoint } from '@annal/note'
import { ClientError, codeOf, type ClientErrorCode } from './errors.js'
import { quorumMet, type Policy, type PolicyLog } from './policy.js'

/** A checkpoint signed by one of a policy's logs and cosigned as its quorum requires. */
export interface TrustedCheckpoint {
  readonly checkpoint: VerifiedCheckpoint
  /** The policy's log whose key signed it. */
  readonly log: PolicyLog
  /** The policy names of the witnesses whose cosignatures verified, in note order. */
  readonly witnesses: readonly string[]
}

/**
 * Re-throws an error from tlog or note as the ClientError that `codes` gives for its `code`.
 * Errors are told apart by their `code` string, not their class. Misuse (TypeError,
 * RangeError) and codes not listed pass through unchanged.
 */
export function translate(error: unknown, codes: Readonly<Record<string, ClientErrorCode>>, message: string): never {
  const code = codeOf(error)
  const mapped = code === undefined ? undefined : codes[code]
  if (mapped === undefined) throw error
  throw new ClientError(mapped, `${message}: ${(error as Error).message}`, { cause: error })
}

/** How note and tlog errors in a checkpoint's syntax are told to the caller. */
export const CHECKPOINT_SYNTAX = { NOTE_MALFORMED: 'CHECKPOINT_MALFORMED', CHECKPOINT_MALFORMED: 'CHECKPOINT_MALFORMED', SIZE_OUT_OF_RANGE: 'CHECKPOINT_MALFORMED' } as const
const OPENING = { ...CHECKPOINT_SYNTAX, NOTE_UNVERIFIED: 'SIGNATURE_INVALID', SIGNATURE_INVALID: 'SIGNATURE_INVALID' } as const

/** The origin of a checkpoint note, checking its syntax only. Throws ClientError CHECKPOINT_MALFORMED. */
function checkpointOrigin(note: string | Uint8Array): string {
  try {
    return parseCheckpoint(parseNote(note).text).origin
  } catch (error) {
    return translate(error, CHECKPOINT_SYNTAX, 'the checkpoint does not parse')
  }
}

/**
 * The first steps of verifyCheckpoint: the checkpoint's origin names a policy log, and a key of
 * that log signed it; cosignatures are not looked at. Enough to hold a log to what it signed.
 * Throws ClientError CHECKPOINT_MALFORMED, LOG_UNKNOWN or SIGNATURE_INVALID.
 */
export function verifyLogSignature(note: string | Uint8Array, policy: Policy): { checkpoint: VerifiedCheckpoint; log: PolicyLog } {
  const origin = checkpointOrigin(note)
  const logs = policy.logs.filter((log) => log.verifier.name === origin)
  if (logs.length === 0) throw new ClientError('LOG_UNKNOWN', `no log of the policy has the origin ${JSON.stringify(origin)}`)
  let checkpoint: VerifiedCheckpoint
  try {
    checkpoint = openCheckpoint(note, logs.map((log) => log.verifier))
  } catch (error) {
    return translate(error, OPENING, 'the log signature does not verify')
  }
  const signer = checkpoint.signatures[0]!.verifier
  return { checkpoint, log: logs.find((candidate) => candidate.verifier === signer)! }
}

/**
 * Verifies a checkpoint note against a policy, in the order of tlog-proof §Verifying: its
 * origin must name a policy log, a key of that log must have signed it, every cosignature by a
 * policy witness must verify, and the witnesses that cosigned must meet the quorum.
 * Throws ClientError CHECKPOINT_MALFORMED, LOG_UNKNOWN, SIGNATURE_INVALID or QUORUM_UNMET.
 */
export function verifyCheckpoint(note: string | Uint8Array, policy: Policy): TrustedCheckpoint {
  const { checkpoint, log } = verifyLogSignature(note, policy)
  let cosigned: string[]
  try {
    const cosignatures = verifyCosignatures(checkpoint, policy.witnesses.map((witness) => witness.verifier))
    cosigned = cosignatures.map((cosignature) => policy.witnesses.find((witness) => witness.verifier === cosignature.verifier)!.name)
  } catch (error) {
    return translate(error, { SIGNATURE_INVALID: 'SIGNATURE_INVALID', COSIGNATURE_MALFORMED: 'SIGNATURE_INVALID' }, 'a witness cosignature does not verify')
  }
  if (!quorumMet(policy.quorum, new Set(cosigned))) {
    const by = cosigned.length === 0 ? 'no witness' : cosigned.join(', ')
    throw new ClientError('QUORUM_UNMET', `the quorum is not met: cosigned by ${by}`)
  }
  return Object.freeze({ checkpoint, log, witnesses: Object.freeze(cosigned) })
}
