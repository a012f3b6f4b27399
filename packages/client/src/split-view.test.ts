import { decodeBase64, encodeBase64, signCheckpoint } from '@annal/note'
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

const base64Root = (tree: MemoryTree, size: number): string => encodeBase64(tree.root(size))

/** The honest tree at `size`, the fork at 6, the fork's root at `size` and its proof between them. */
const forkedAt = (size: number): SplitViewEvidence => ({
  old: log.checkpoint(size), new: forkNote(6), oldSizeRoot: base64Root(fork, size), proof: fork.consistencyProof(size, 6).map(encodeBase64),
})
const inconsistent = forkedAt(5)
// At a power of two the proof does not hold the root at the old size: only oldSizeRoot shows it.
const atPowerOfTwo = forkedAt(4)
const sameSize: SplitViewEvidence = { old: log.checkpoint(5), new: forkNote(5), oldSizeRoot: base64Root(fork, 5), proof: [] }
const flipped = (hash: string): string => encodeBase64(decodeBase64(hash)!.map((byte, i) => (i === 0 ? byte ^ 1 : byte)))

describe('formatEvidence and parseEvidence', () => {
  it('read back what they print, notes verbatim', () => {
    for (const evidence of [inconsistent, atPowerOfTwo, sameSize]) {
      const text = formatEvidence(evidence)
      expect(parseEvidence(text)).toEqual(evidence)
      expect(formatEvidence(parseEvidence(text))).toBe(text)
    }
    expect(formatEvidence(inconsistent)).toMatch(/^SECURITY ERROR\n.*\n\nold:\n\texample\.com\/forking\n\t5\n[^]*\n\t\n\t— example\.com\/forking [^]*\nnew:\n\texample\.com\/forking\n\t6\n[^]*\nproof of misbehavior:\n(\t[A-Za-z0-9+/]{43}=\n)+$/)
    // As Go prints it: the root at the old size first, then the proof.
    const hashes = (evidence: SplitViewEvidence): string => formatEvidence(evidence).split('proof of misbehavior:\n')[1]!
    expect(hashes(atPowerOfTwo)).toBe([atPowerOfTwo.oldSizeRoot, ...atPowerOfTwo.proof].map((hash) => `\t${hash}\n`).join(''))
    expect(hashes(sameSize)).toBe(`\t${sameSize.oldSizeRoot}\n`)
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
      text.replace(`\t${inconsistent.oldSizeRoot}\n`, '\t(none)\n'),
      // Without the root at the old size (the new root, at one size), or as this format was before it.
      formatEvidence(sameSize).replace(/\t.*\n$/, ''),
      formatEvidence(sameSize).replace(/\t.*\n$/, '\t(none: both checkpoints have one size and different roots)\n'),
    ]) {
      expectClientError(() => parseEvidence(altered), 'EVIDENCE_MALFORMED')
    }
  })
})

describe('verifyEvidence', () => {
  it('accepts two log-signed checkpoints that no proof connects', () => {
    expect(verifyEvidence(inconsistent, policy).new.size).toBe(6)
    expect(verifyEvidence(atPowerOfTwo, policy).old.size).toBe(4)
    expect(verifyEvidence(sameSize, policy).old.size).toBe(5)
  })

  it('refuses evidence that shows no fork', () => {
    const honestProof = log.tree.consistencyProof(4, 6).map(encodeBase64)
    for (const evidence of [
      // The honest tree: its proof leads from the old root itself.
      { old: log.checkpoint(4), new: log.checkpoint(6), oldSizeRoot: base64Root(log.tree, 4), proof: honestProof },
      { ...sameSize, new: sameSize.old, oldSizeRoot: base64Root(log.tree, 5) },
      { ...sameSize, proof: [inconsistent.proof[0]!] },
      { ...sameSize, oldSizeRoot: flipped(sameSize.oldSizeRoot) },
      // Swapped, or with a proof that does not lead to the new root.
      { ...inconsistent, old: inconsistent.new, new: inconsistent.old },
      { ...inconsistent, proof: inconsistent.proof.slice(1) },
      { ...inconsistent, proof: [...inconsistent.proof].reverse() },
      // The root at the old size altered, the old root itself, or the proof altered.
      ...([[inconsistent, 5], [atPowerOfTwo, 4]] as const).flatMap(([evidence, size]) => [
        { ...evidence, oldSizeRoot: flipped(evidence.oldSizeRoot) },
        { ...evidence, oldSizeRoot: base64Root(log.tree, size) },
        ...evidence.proof.map((_, i) => ({ ...evidence, proof: evidence.proof.map((hash, j) => (j === i ? flipped(hash) : hash)) })),
        { ...evidence, proof: [...evidence.proof, evidence.proof[0]!] },
        { ...evidence, oldSizeRoot: 'AAAA' },
      ]),
      // Every tree has the empty tree's root at size 0.
      { old: log.checkpoint(0), new: forkNote(6), oldSizeRoot: base64Root(fork, 4), proof: [] },
    ]) {
      expectClientError(() => verifyEvidence(evidence, policy), 'EVIDENCE_INVALID')
    }
  })

  it('refuses notes the log did not sign', () => {
    const other = testLog('example.com/forking', 6, [])
    expectClientError(() => verifyEvidence({ ...inconsistent, new: other.checkpoint(6) }, policy), 'SIGNATURE_INVALID')
    expectClientError(() => verifyEvidence({ ...inconsistent, old: inconsistent.old.replace('\n5\n', '\n3\n') }, policy), 'SIGNATURE_INVALID')
  })
})
