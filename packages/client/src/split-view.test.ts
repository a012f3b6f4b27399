import { encodeBase64, signCheckpoint } from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'
import { describe, expect, it } from 'vitest'
import { parsePolicy } from './policy.js'
import { formatEvidence, parseEvidence, verifyEvidence, type SplitViewEvidence } from './split-view.js'
import { expectClientError } from './testing/expect.js'
import { policyFor, testLog } from './testing/world.js'

const log = testLog('example.com/forking', 6, [])
const policy = parsePolicy(policyFor(log))
// The same key signs another tree: the first 3 entries in common, then others.
const fork = new MemoryTree()
for (const [i, entry] of log.entries.entries()) fork.append(defaultHasher.leaf(i < 3 ? entry : new TextEncoder().encode(`other ${i}`)))
const forkNote = (size: number): string => signCheckpoint({ origin: log.origin, size, rootHash: fork.root(size), extensions: [] }, log.signer)

/** The honest tree at 5, the fork at 6, and the fork's proof between them. */
const inconsistent: SplitViewEvidence = { old: log.checkpoint(5), new: forkNote(6), proof: fork.consistencyProof(5, 6).map(encodeBase64) }
const sameSize: SplitViewEvidence = { old: log.checkpoint(5), new: forkNote(5), proof: [] }

describe('formatEvidence and parseEvidence', () => {
  it('read back what they print, notes verbatim', () => {
    for (const evidence of [inconsistent, sameSize]) {
      const text = formatEvidence(evidence)
      expect(parseEvidence(text)).toEqual(evidence)
      expect(formatEvidence(parseEvidence(text))).toBe(text)
    }
    expect(formatEvidence(inconsistent)).toMatch(/^SECURITY ERROR\n.*\n\nold:\n\texample\.com\/forking\n\t5\n[^]*\n\t\n\t— example\.com\/forking [^]*\nnew:\n\texample\.com\/forking\n\t6\n[^]*\nproof of misbehavior:\n(\t[A-Za-z0-9+/]{43}=\n)+$/)
  })

  it('refuse text that is not formatEvidence\'s', () => {
    const text = formatEvidence(inconsistent)
    const hash = inconsistent.proof[0]!
    for (const altered of [
      text.replace('SECURITY ERROR\n', ''),
      text.slice(0, -1),
      text.replace('\nnew:\n', '\nnewer:\n'),
      text.replace('proof of misbehavior:\n', 'proof:\n'),
      text.replace(`\t${hash}\n`, `\t${hash.slice(0, 42)}B=\n`),
      text.replace(`\t${hash}\n`, `\t ${hash}\n`),
      `${text}trailing\n`,
      text.replace(/old:\n[^]*?new:/, 'old:\nnew:'),
    ]) {
      expectClientError(() => parseEvidence(altered), 'EVIDENCE_MALFORMED')
    }
  })
})

describe('verifyEvidence', () => {
  it('accepts two log-signed checkpoints that no proof connects', () => {
    expect(verifyEvidence(inconsistent, policy).new.size).toBe(6)
    expect(verifyEvidence(sameSize, policy).old.size).toBe(5)
  })

  it('refuses evidence that shows no fork', () => {
    const honest = { old: log.checkpoint(4), new: log.checkpoint(6), proof: log.tree.consistencyProof(4, 6).map(encodeBase64) }
    expectClientError(() => verifyEvidence(honest, policy), 'EVIDENCE_INVALID')
    expectClientError(() => verifyEvidence({ ...sameSize, new: sameSize.old }, policy), 'EVIDENCE_INVALID')
    expectClientError(() => verifyEvidence({ ...sameSize, proof: [inconsistent.proof[0]!] }, policy), 'EVIDENCE_INVALID')
    // Swapped, or with a proof that does not lead to the new root.
    expectClientError(() => verifyEvidence({ ...inconsistent, old: inconsistent.new, new: inconsistent.old }, policy), 'EVIDENCE_INVALID')
    expectClientError(() => verifyEvidence({ ...inconsistent, proof: inconsistent.proof.slice(1) }, policy), 'EVIDENCE_INVALID')
    expectClientError(() => verifyEvidence({ ...inconsistent, proof: [...inconsistent.proof].reverse() }, policy), 'EVIDENCE_INVALID')
  })

  it('refuses notes the log did not sign', () => {
    const other = testLog('example.com/forking', 6, [])
    expectClientError(() => verifyEvidence({ ...inconsistent, new: other.checkpoint(6) }, policy), 'SIGNATURE_INVALID')
    expectClientError(() => verifyEvidence({ ...inconsistent, old: inconsistent.old.replace('\n5\n', '\n3\n') }, policy), 'SIGNATURE_INVALID')
  })
})
