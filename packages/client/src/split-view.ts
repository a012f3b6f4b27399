import { decodeBase64Hash, type VerifiedCheckpoint } from '@annal/note'
import { bytesEqual, consistencyProofRoots } from '@annal/tlog'
import { verifyLogSignature } from './checkpoint.js'
import { ClientError } from './errors.js'
import type { Policy } from './policy.js'

/**
 * What shows that a log forked, kept without the log: two checkpoint notes, each signed by the
 * log's key, and the consistency proof the log gave between them (base64 hashes; empty when
 * the two have one size and different roots). Anyone with the log's key can check it offline
 * (verifyEvidence): both notes verify, and the proof does not connect the older root to the
 * newer one.
 */
export interface SplitViewEvidence {
  /** The smaller (or, at one size, the earlier trusted) checkpoint note, verbatim. */
  readonly old: string
  readonly new: string
  readonly proof: readonly string[]
}

/** The log signed two checkpoints that cannot both be true. `evidence` says which. */
export class SplitViewError extends ClientError {
  readonly evidence: SplitViewEvidence

  constructor(message: string, evidence: SplitViewEvidence, options: ErrorOptions = {}) {
    super('SPLIT_VIEW', message, options)
    this.evidence = Object.freeze({ ...evidence, proof: Object.freeze([...evidence.proof]) })
  }

  /** The evidence as formatEvidence prints it. */
  formatEvidence(): string {
    return formatEvidence(this.evidence)
  }
}

const BANNER = 'SECURITY ERROR\nThis log has misbehaved: it signed two checkpoints that are not consistent with each other.\n\n'
const NO_PROOF = '\t(none: both checkpoints have one size and different roots)\n'

function indent(note: string): string {
  return `\t${note.replace(/\n$/, '').replaceAll('\n', '\n\t')}\n`
}

/**
 * The evidence in the style of Go's sumdb client (golang.org/x/mod/sumdb, checkTrees): a
 * SECURITY ERROR banner, then each note and each proof hash on its own tab-indented line,
 * under `old:`, `new:` and `proof of misbehavior:`. parseEvidence reads it back. (Go's
 * proof begins with the root the newer tree gives at the older size; here that root follows
 * from the proof and the newer root, so it is left out.)
 */
export function formatEvidence(evidence: SplitViewEvidence): string {
  const proof = evidence.proof.length === 0 ? NO_PROOF : evidence.proof.map((hash) => `\t${hash}\n`).join('')
  return `${BANNER}old:\n${indent(evidence.old)}new:\n${indent(evidence.new)}proof of misbehavior:\n${proof}`
}

/**
 * Reads formatEvidence's text back, exactly as it prints it. Throws ClientError
 * EVIDENCE_MALFORMED. It checks syntax only: verifyEvidence says whether it shows a fork.
 */
export function parseEvidence(text: string): SplitViewEvidence {
  const malformed = (why: string): ClientError => new ClientError('EVIDENCE_MALFORMED', `the evidence does not parse: ${why}`)
  if (!text.startsWith(BANNER)) throw malformed('it does not open with the SECURITY ERROR banner')
  if (!text.endsWith('\n')) throw malformed('its last line does not end')
  const lines = text.slice(BANNER.length, -1).split('\n')
  const section = (heading: string): string[] => {
    if (lines.shift() !== heading) throw malformed(`no ${JSON.stringify(heading)} where expected`)
    const body: string[] = []
    while (lines[0]?.startsWith('\t')) body.push(lines.shift()!.slice(1))
    if (body.length === 0) throw malformed(`nothing under ${JSON.stringify(heading)}`)
    return body
  }
  const [old, now] = [section('old:'), section('new:')]
  const proof = section('proof of misbehavior:')
  if (lines.length > 0) throw malformed('lines after the proof')
  const none = proof.length === 1 && `\t${proof[0]}\n` === NO_PROOF
  if (!none && proof.some((hash) => decodeBase64Hash(hash) === undefined)) throw malformed('a proof line is not a base64 hash')
  return Object.freeze({ old: `${old.join('\n')}\n`, new: `${now.join('\n')}\n`, proof: Object.freeze(none ? [] : proof) })
}

/**
 * Checks that evidence shows a fork of a policy log: both notes are signed by one of its keys
 * (cosignatures are not needed), for one origin, and either have one size and two roots (with
 * no proof), or `old` is the smaller tree and the proof, made of the larger tree's nodes (it
 * leads to the new root), shows another tree at the old size than `old`'s root.
 * Throws ClientError EVIDENCE_INVALID, or CHECKPOINT_MALFORMED, LOG_UNKNOWN, SIGNATURE_INVALID.
 */
export function verifyEvidence(evidence: SplitViewEvidence, policy: Policy): { old: VerifiedCheckpoint; new: VerifiedCheckpoint } {
  const [old, now] = [verifyLogSignature(evidence.old, policy).checkpoint, verifyLogSignature(evidence.new, policy).checkpoint]
  const invalid = (why: string): ClientError => new ClientError('EVIDENCE_INVALID', `the evidence shows no fork: ${why}`)
  if (old.origin !== now.origin) throw invalid('the two checkpoints are of different logs')
  const proof = evidence.proof.map((hash) => decodeBase64Hash(hash))
  if (proof.some((hash) => hash === undefined)) throw invalid('a proof hash is not base64 of 32 bytes')
  if (old.size === now.size) {
    if (bytesEqual(old.rootHash, now.rootHash)) throw invalid('the two checkpoints have one size and one root')
    if (proof.length > 0) throw invalid('two checkpoints of one size need no proof')
  } else if (old.size > now.size || !showsAnotherTree(old, now, proof as Uint8Array[])) {
    throw invalid(`the proof does not lead from another tree of size ${old.size} to the root of size ${now.size}`)
  }
  return { old, new: now }
}

/** A tree size and its root, as a checkpoint says them. */
interface SizedRoot {
  readonly size: number
  readonly rootHash: Uint8Array
}

/** The proof leads to the larger checkpoint's root, and from it to another root than the smaller one's. */
export function showsAnotherTree(small: SizedRoot, large: SizedRoot, proof: readonly Uint8Array[]): boolean {
  try {
    const roots = consistencyProofRoots(small.size, large.size, proof, small.rootHash)
    return bytesEqual(roots.newRoot, large.rootHash) && !bytesEqual(roots.oldRoot, small.rootHash)
  } catch {
    return false
  }
}
