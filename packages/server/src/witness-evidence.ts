import { type VerifiedCheckpoint, decodeBase64, decodeBase64Hash, openCheckpoint, parseVerifierKey } from '@annal/note'
import type { Ledger } from '@annal/store'
import { bytesEqual, verifyConsistency } from '@annal/tlog'
import type { AlertDraft } from './alert-rules.js'
import { NODE_PROVIDERS } from './witness-config.js'
import { ApiError } from './errors.js'

/** The body a witness posts to its webhook (packages/witness, alert.ts). */
export const SPLIT_VIEW_TYPE = 'annal.witness.split-view/v1'

/**
 * The alert for split-view evidence a witness posted: two checkpoints, both signed with the
 * key of one of this ledger's logs, that cannot both be true (one size and two roots, or a
 * consistency proof from the larger showing another root at the smaller's size). The evidence
 * proves itself, so the route needs no token; anything that does not verify is refused.
 * @returns the draft and a key naming the evidence, to raise it once.
 * @throws ApiError EVIDENCE_INVALID.
 */
export function splitViewAlert(ledger: Ledger, body: unknown, now: Date): { draft: AlertDraft; key: string } {
  const { type, witness, evidence } = (body ?? {}) as Record<string, any>
  if (type !== SPLIT_VIEW_TYPE || typeof evidence !== 'object' || evidence === null) invalid(`the body is a ${SPLIT_VIEW_TYPE} alert`)
  const log = ledger.logs().find((info) => info.origin === evidence.origin)
  if (log === undefined) invalid('no log of this server has that origin')
  const verifier = parseVerifierKey(log.verifierKey, { providers: NODE_PROVIDERS })
  const notes = Array.isArray(evidence.checkpoints) ? evidence.checkpoints.map((seen: any) => seen?.note) : []
  if (notes.length !== 2 || !notes.every((note: unknown) => typeof note === 'string')) invalid('the evidence holds two checkpoint notes')
  let checkpoints: VerifiedCheckpoint[]
  try {
    checkpoints = (notes as string[]).map((note) => openCheckpoint(note, [verifier]))
  } catch {
    invalid('a checkpoint is not signed by the log')
  }
  const [a, b] = checkpoints.sort((x, y) => x.size - y.size) as [VerifiedCheckpoint, VerifiedCheckpoint]
  if (a.size === b.size) {
    if (bytesEqual(a.rootHash, b.rootHash)) invalid('the checkpoints agree')
  } else {
    const shown = typeof evidence.consistency?.root_hash === 'string' ? decodeBase64Hash(evidence.consistency.root_hash) : undefined
    const proof = Array.isArray(evidence.consistency?.proof) ? evidence.consistency.proof.map((hash: unknown) =>
      typeof hash === 'string' ? decodeBase64(hash) : undefined) : []
    if (shown === undefined || proof.some((hash: Uint8Array | undefined) => hash === undefined)) invalid('inconsistent evidence needs its consistency proof')
    try {
      verifyConsistency(a.size, b.size, proof, shown, b.rootHash)
    } catch {
      invalid('the consistency proof does not reach the larger checkpoint')
    }
    if (bytesEqual(shown, a.rootHash)) invalid('the checkpoints are consistent')
  }
  return {
    draft: {
      rule: 'witness_split_view', time: now.getTime(), subject: { log: log.name, origin: log.origin },
      summary: `a witness holds two checkpoints of ${log.name} that cannot both be true`,
      details: { witness: typeof witness === 'string' ? witness : null, sizes: [a.size, b.size], checkpoints: notes },
    },
    key: `${log.origin}\n${[...notes].sort().join('\n')}`,
  }
}

function invalid(message: string): never {
  throw new ApiError('EVIDENCE_INVALID', message)
}
