import { encodeBase64, type VerifiedCheckpoint } from '@annal/note'
import { bytesEqual, consistencyProofRoots, verifyConsistency } from '@annal/tlog'
import { ClientError, codeOf, isClientError } from './errors.js'
import { SplitViewError, showsAnotherTree } from './split-view.js'

/** Whether a consistency proof from `old` to `newer` is worth asking for: one log, 0 < old size < newer size. */
export function proofNeeded(old: VerifiedCheckpoint, newer: VerifiedCheckpoint): boolean {
  return old.origin === newer.origin && 0 < old.size && old.size < newer.size
}

/**
 * Checks that `newer` extends `old` by `proof` (RFC 9162 §2.1.4.2), both checkpoints signed by
 * the log (verified against a policy first). Evidence of a fork needs no log online: two trees
 * of one size, or the newer tree's root at the older size (`oldSizeRoot`, else the one the
 * proof itself holds) that the proof leads from to the newer signed root and that is not the
 * older root. Throws SplitViewError (SPLIT_VIEW) with that evidence; ClientError
 * CONSISTENCY_FAILED for another origin, a smaller newer tree, or a proof that does not verify
 * and shows nothing (altered on the way, or a fork that only the newer tree's tiles show:
 * checkConsistent reads them).
 */
export function verifyConsistent(old: VerifiedCheckpoint, newer: VerifiedCheckpoint, proof: readonly Uint8Array[],
    oldSizeRoot?: Uint8Array): void {
  if (old.origin !== newer.origin) throw new ClientError('CONSISTENCY_FAILED', 'the new checkpoint is of another log')
  if (newer.size < old.size) {
    throw new ClientError('CONSISTENCY_FAILED', `the new checkpoint has size ${newer.size}, below the trusted size ${old.size}`)
  }
  if (newer.size === old.size && proof.length === 0 && !bytesEqual(old.rootHash, newer.rootHash)) {
    throw new SplitViewError(`the log signed two trees of size ${old.size}`,
      { old: old.note, new: newer.note, oldSizeRoot: encodeBase64(newer.rootHash), proof: [] })
  }
  try {
    verifyConsistency(old.size, newer.size, proof, old.rootHash, newer.rootHash)
  } catch (error) {
    if (codeOf(error) === undefined) throw error
    const shown = oldSizeRoot ?? rootInProof(old, newer, proof)
    if (shown === undefined || !showsAnotherTree(old, newer, shown, proof)) {
      throw new ClientError('CONSISTENCY_FAILED',
        `the consistency proof from ${old.size} to ${newer.size} does not verify: altered, or the log forked`, { cause: error })
    }
    throw new SplitViewError(`the log's checkpoints of sizes ${old.size} and ${newer.size} are not consistent`,
      { old: old.note, new: newer.note, oldSizeRoot: encodeBase64(shown), proof: proof.map(encodeBase64) }, { cause: error })
  }
}

/**
 * As verifyConsistent, and when the proof alone shows nothing, reads the newer tree's root at
 * the older size with `treeHash` (from hash tiles) to look for a fork there, as Go's sumdb
 * client does: from an older size that is a power of two, the proof starts at the older root
 * itself and cannot show another one. A treeHash that fails with a ClientError leaves the
 * proof's own failure to be thrown.
 */
export async function checkConsistent(old: VerifiedCheckpoint, newer: VerifiedCheckpoint, proof: readonly Uint8Array[],
    treeHash: (size: number) => Promise<Uint8Array>): Promise<void> {
  try {
    verifyConsistent(old, newer, proof)
  } catch (error) {
    if (!isClientError(error, 'CONSISTENCY_FAILED') || !proofNeeded(old, newer)) throw error
    let root: Uint8Array
    try {
      root = await treeHash(old.size)
    } catch (reading) {
      if (isClientError(reading)) throw error
      throw reading
    }
    verifyConsistent(old, newer, proof, root)
  }
}

/** The older root that `proof` holds, when it leads to the newer root (from a power of two, that is the older root itself). */
function rootInProof(old: VerifiedCheckpoint, newer: VerifiedCheckpoint, proof: readonly Uint8Array[]): Uint8Array | undefined {
  try {
    const roots = consistencyProofRoots(old.size, newer.size, proof, old.rootHash)
    return bytesEqual(roots.newRoot, newer.rootHash) ? roots.oldRoot : undefined
  } catch {
    return undefined
  }
}
