import { readFile } from 'node:fs/promises'
import { formatEvidence, parseEvidence, type SplitViewEvidence } from '../split-view.js'
import { writeFileAtomic } from './atomic.js'

/** Evidence is meant to be shown to others; nothing in it is secret. */
const EVIDENCE_MODE = 0o644

/**
 * Saves split-view evidence to `path` as formatEvidence prints it (both signed notes verbatim
 * and the proof), written atomically (writeFileAtomic), so that it outlives the log. Replaces
 * a file at `path`. readEvidence, or parseEvidence on the text, reads it back.
 */
export async function writeEvidence(path: string, evidence: SplitViewEvidence): Promise<void> {
  await writeFileAtomic(path, formatEvidence(evidence), EVIDENCE_MODE)
}

/** The evidence in a file writeEvidence wrote. Throws ClientError EVIDENCE_MALFORMED, or the read's error. */
export async function readEvidence(path: string): Promise<SplitViewEvidence> {
  return parseEvidence(await readFile(path, 'utf8'))
}
