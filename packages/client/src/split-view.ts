import { ClientError } from './errors.js'

/**
 * What shows that a log forked, kept without the log: two checkpoint notes, each signed by the
 * log's key, and the consistency proof the log gave between them (base64 hashes; empty when
 * the two have one size and different roots). Anyone with the log's key can check it offline:
 * both notes verify, and the proof does not connect the older root to the newer one.
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

function indent(note: string): string {
  return `\t${note.replace(/\n$/, '').replaceAll('\n', '\n\t')}\n`
}

/**
 * The evidence in the style of Go's sumdb client (golang.org/x/mod/sumdb, checkTrees): a
 * SECURITY ERROR banner, then each note and each proof hash on its own tab-indented line.
 */
export function formatEvidence(evidence: SplitViewEvidence): string {
  const proof = evidence.proof.length === 0 ? '\t(none: both checkpoints have one size and different roots)\n'
    : evidence.proof.map((hash) => `\t${hash}\n`).join('')
  return 'SECURITY ERROR\n'
    + 'This log has misbehaved: it signed two checkpoints that are not consistent with each other.\n\n'
    + `old:\n${indent(evidence.old)}`
    + `new:\n${indent(evidence.new)}`
    + `proof of misbehavior:\n${proof}`
}
