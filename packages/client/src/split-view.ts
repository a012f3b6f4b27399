import { decodeBase64Hash, type VerifiedCheckpoint } from '@annal/note'
import { bytesEqual, verifyConsistency } from '@annal/tlog'
import { verifyLogSignature } from './checkpoint.js'
import { ClientError } from './errors.js'
import type { Policy } from './policy.js'

/**
 * What shows that a log forked, kept without the log, as Go's sumdb client keeps it: two
 * checkpoint notes, each signed by the log's key; the root that the newer tree has at the
 * older size; and an RFC 9162 consistency proof from that root to the newer one (base64
 * hashes). Anyone with the log's key can check it offline (verifyEvidence): both notes verify,
 * the proof leads from `oldSizeRoot` to the newer signed root, so that root is the newer
 * tree's own, and it is not the older note's root.
 */
export interface SplitViewEvidence {
  /** The smaller (or, at one size, the earlier trusted) checkpoint note, verbatim. */
  readonly old: string
  readonly new: string
  /** The newer tree's root at the older size; at one size, the newer root itself. */
  readonly oldSizeRoot: string
  /** From `oldSizeRoot` to the newer root; empty at one size. */
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

function indent(note: string): string {
  return `\t${note.replace(/\n$/, '').replaceAll('\n', '\n\t')}\n`
}

/**
 * The evidence as Go's sumdb client prints it (golang.org/x/mod/sumdb, checkTrees): a
 * SECURITY ERROR banner, then each note and each hash on its own tab-indented line, under
 * `old:`, `new:` and `proof of misbehavior:`, which holds `oldSizeRoot` and then the proof.
 * parseEvidence reads it back.
 */
export function formatEvidence(evidence: SplitViewEvidence): string {
  const hashes = [evidence.oldSizeRoot, ...evidence.proof].map((hash) => `\t${hash}\n`).join('')
  return `${BANNER}old:\n${indent(evidence.old)}new:\n${indent(evidence.new)}proof of misbehavior:\n${hashes}`
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
  const [oldSizeRoot, ...proof] = section('proof of misbehavior:') as [string, ...string[]]
  if (lines.length > 0) throw malformed('lines after the proof')
  if (decodeBase64Hash(oldSizeRoot) === undefined) throw malformed('the root at the old size is not a base64 hash')
  if (proof.some((hash) => decodeBase64Hash(hash) === undefined)) throw malformed('a proof line is not a base64 hash')
  return Object.freeze({ old: `${old.join('\n')}\n`, new: `${now.join('\n')}\n`, oldSizeRoot, proof: Object.freeze(proof) })
}

/**
 * Checks that evidence shows a fork of a policy log: both notes are signed by one of its keys
 * (cosignatures are not needed), for one origin, `old` is not the larger tree, and the proof
 * leads from `oldSizeRoot` at the old size to the new root (so the newer tree has that root
 * there) while `old` says another. At one size, the proof is empty and `oldSizeRoot` is the new
 * root. Throws ClientError EVIDENCE_INVALID, or CHECKPOINT_MALFORMED, LOG_UNKNOWN,
 * SIGNATURE_INVALID.
 */
export function verifyEvidence(evidence: SplitViewEvidence, policy: Policy): { old: VerifiedCheckpoint; new: VerifiedCheckpoint } {
  const [old, now] = [verifyLogSignature(evidence.old, policy).checkpoint, verifyLogSignature(evidence.new, policy).checkpoint]
  const invalid = (why: string): ClientError => new ClientError('EVIDENCE_INVALID', `the evidence shows no fork: ${why}`)
  if (old.origin !== now.origin) throw invalid('the two checkpoints are of different logs')
  if (old.size > now.size) throw invalid('the old checkpoint is the larger tree')
  // Every tree has the same root at size 0, so no proof from it can show another.
  if (old.size === 0 && now.size > 0) throw invalid('a checkpoint of size 0 is part of every tree')
  const oldSizeRoot = decodeBase64Hash(evidence.oldSizeRoot)
  if (oldSizeRoot === undefined) throw invalid('the root at the old size is not base64 of 32 bytes')
  const proof = evidence.proof.map((hash) => decodeBase64Hash(hash))
  if (proof.some((hash) => hash === undefined)) throw invalid('a proof hash is not base64 of 32 bytes')
  if (!showsAnotherTree(old, now, oldSizeRoot, proof as Uint8Array[])) {
    throw invalid(`the proof does not lead from another tree of size ${old.size} to the root of size ${now.size}`)
  }
  return { old, new: now }
}

/** A tree size and its root, as a checkpoint says them. */
interface SizedRoot {
  readonly size: number
  readonly rootHash: Uint8Array
}

/**
 * The larger tree has another root at the smaller size than the smaller checkpoint: `proof`
 * leads from `oldSizeRoot` at that size to the larger root (RFC 9162 §2.1.4.2; at one size it
 * is empty and `oldSizeRoot` is the larger root), which vouches that the larger tree has it
 * there, and it is not the smaller root. Requires small.size <= large.size.
 */
export function showsAnotherTree(small: SizedRoot, large: SizedRoot, oldSizeRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  try {
    verifyConsistency(small.size, large.size, proof, oldSizeRoot, large.rootHash)
  } catch {
    return false
  }
  return !bytesEqual(oldSizeRoot, small.rootHash)
}
