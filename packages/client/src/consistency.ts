import { encodeBase64, type VerifiedCheckpoint } from '@annal/note'
import { bytesEqual, verifyConsistency } from '@annal/tlog'
import { ClientError, codeOf } from './errors.js'
import { SplitViewError, showsAnotherTree } from './split-view.js'

/** Whether a consistency proof from `old` to `newer` is worth asking for: one log, 0 < old size < newer size. */
export function proofNeeded(old: VerifiedCheckpoint, newer: VerifiedCheckpoint): boolean {
  return old.origin === newer.origin && 0 < old.size && old.size < newer.size
}

/**
 * Checks that `newer` extends `old` by `proof` (RFC 9162 §2.1.4.2), both checkpoints signed by
 * the log (verified against a policy first). Evidence of a fork needs no log online: two trees
 * of one size, or a proof that leads to the newer signed root from another older tree.
 * Throws SplitViewError (SPLIT_VIEW) with that evidence; ClientError CONSISTENCY_FAILED for
 * another origin, a smaller newer tree, or a proof that does not verify and shows nothing
 * (altered on the way, or the log forked and hides it).
 */
export function verifyConsistent(old: VerifiedCheckpoint, newer: VerifiedCheckpoint, proof: readonly Uint8Array[]): void {
  if (old.origin !== newer.origin) throw new ClientError('CONSISTENCY_FAILED', 'the new checkpoint is of another log')
  if (newer.size < old.size) {
    throw new ClientError('CONSISTENCY_FAILED', `the new checkpoint has size ${newer.size}, below the trusted size ${old.size}`)
  }
  if (newer.size === old.size && proof.length === 0 && !bytesEqual(old.rootHash, newer.rootHash)) {
    throw new SplitViewError(`the log signed two trees of size ${old.size}`, { old: old.note, new: newer.note, proof: [] })
  }
  try {
    verifyConsistency(old.size, newer.size, proof, old.rootHash, newer.rootHash)
  } catch (error) {
    if (codeOf(error) === undefined) throw error
    // Evidence only when the proof is made of the newer tree's nodes (it leads to that signed
    // root) and shows another older tree: a proof altered on the way shows nothing.
    if (!showsAnotherTree(old, newer, proof)) {
      throw new ClientError('CONSISTENCY_FAILED',
        `the consistency proof from ${old.size} to ${newer.size} does not verify: altered, or the log forked`, { cause: error })
    }
    throw new SplitViewError(`the log's checkpoints of sizes ${old.size} and ${newer.size} are not consistent`,
      { old: old.note, new: newer.note, proof: proof.map(encodeBase64) }, { cause: error })
  }
}
