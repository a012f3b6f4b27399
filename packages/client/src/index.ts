/**
 * @module
 * Clients that verify: the reader's side of a transparency log, pure TypeScript over `fetch`
 * that runs in browsers. A C2SP tlog-policy says which logs and witnesses to trust
 * (`parsePolicy`); a C2SP tlog-proof carries an entry's inclusion proof and its checkpoint,
 * verifiable offline (`verifyProof`); a `LogClient` verifies what an Annal server answers
 * (checkpoints, inclusion, consistency) and builds proofs (`proofFile`); a `Monitor` follows a
 * log entry by entry and stops with a `SplitViewError` when the log forks. Every failure is a
 * `ClientError` whose `code` says what did not verify.
 * @example
 * import { formatProof, parsePolicy, verifyProof } from '@annal/client'
 * import { generateKeyPair, parseSignerKey, signCheckpoint } from '@annal/note'
 * import { MemoryTree, defaultHasher } from '@annal/tlog'
 *
 * // A log of two entries and its signed checkpoint (a server does this part).
 * const origin = 'example.com/log'
 * const keys = generateKeyPair(origin)
 * const entries = ['login alice', 'grant bob admin'].map((event) => new TextEncoder().encode(event))
 * const tree = new MemoryTree()
 * for (const entry of entries) tree.append(defaultHasher.leaf(entry))
 * const checkpoint = signCheckpoint({ origin, size: 2, rootHash: tree.root(), extensions: [] }, parseSignerKey(keys.signerKey))
 * const proof = formatProof({ index: 1, hashes: tree.inclusionProof(1, 2), checkpoint })
 *
 * // The verifier's side: a policy, the entry's bytes and the proof file, no network.
 * const policy = parsePolicy(`log ${keys.verifierKey}\nquorum none\n`)
 * // Throws ClientError LOG_UNKNOWN, SIGNATURE_INVALID, QUORUM_UNMET or INCLUSION_FAILED.
 * const verified = verifyProof(proof, entries[1]!, policy)
 * if (verified.index !== 1 || verified.trusted.checkpoint.size !== 2) throw new Error('not the entry proven')
 * // Online, the same proof from a server: new LogClient(url, { policy }).proofFile(1)
 */
export { CLIENT_ERROR_CODES, ClientError, isClientError } from './errors.js'
export type { ClientErrorCode, ClientErrorOptions } from './errors.js'
export { parsePolicy, quorumMet } from './policy.js'
export type { Policy, PolicyLog, PolicyWitness, Quorum } from './policy.js'
export { verifyCheckpoint, verifyLogSignature } from './checkpoint.js'
export type { TrustedCheckpoint } from './checkpoint.js'
export { formatProof, parseProof, verifyIncluded, verifyProof } from './proof.js'
export type { VerifiedProof } from './proof.js'
export { TLOG_PROOF_HEADER } from '@annal/note'
export type { TlogProof } from '@annal/note'
export { checkConsistent, proofNeeded, verifyConsistent } from './consistency.js'
export { LogClient } from './log-client.js'
export type { EntryRef, Fetch, Inclusion, LogClientOptions } from './log-client.js'
export { Monitor } from './monitor.js'
export type { MonitorEntry, MonitorOptions } from './monitor.js'
export type { GossipOutcome } from './gossip.js'
export { MemoryStateStore } from './monitor-state.js'
export type { MonitorState, MonitorStateStore } from './monitor-state.js'
export { SplitViewError, formatEvidence, parseEvidence, verifyEvidence } from './split-view.js'
export type { SplitViewEvidence } from './split-view.js'
