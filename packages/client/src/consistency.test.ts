import { decodeBase64, generateKeyPair, openCheckpoint, parseSignerKey, signCheckpoint, type VerifiedCheckpoint } from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'
import { describe, expect, it } from 'vitest'
import { proofNeeded, verifyConsistent } from './consistency.js'
import { SplitViewError } from './split-view.js'
import { expectClientError } from './testing/expect.js'

const origin = 'example.com/forking'
const signer = parseSignerKey(generateKeyPair(origin).signerKey)
const otherSigner = parseSignerKey(generateKeyPair('example.com/other').signerKey)

/** A tree of `count` entries `<prefix> i`, and its checkpoints signed by the one log key. */
function tree(count: number, prefix: string) {
  const memory = new MemoryTree()
  for (let i = 0; i < count; i++) memory.append(defaultHasher.leaf(new TextEncoder().encode(`${prefix} ${i}`)))
  const checkpoint = (size: number, by = signer): VerifiedCheckpoint =>
    openCheckpoint(signCheckpoint({ origin: by.name, size, rootHash: memory.root(size), extensions: [] }, by), [by.verifier])
  return { memory, checkpoint }
}

const ours = tree(8, 'a')
const theirs = tree(8, 'b')

describe('verifyConsistent', () => {
  it('accepts a tree that extends the trusted one', () => {
    verifyConsistent(ours.checkpoint(5), ours.checkpoint(8), ours.memory.consistencyProof(5, 8))
    verifyConsistent(ours.checkpoint(8), ours.checkpoint(8), [])
    verifyConsistent(ours.checkpoint(0), ours.checkpoint(8), [])
  })

  it('asks for a proof only between two sizes of one log', () => {
    expect(proofNeeded(ours.checkpoint(5), ours.checkpoint(8))).toBe(true)
    expect([[0, 8], [8, 8], [8, 5]].some(([m, n]) => proofNeeded(ours.checkpoint(m!), ours.checkpoint(n!)))).toBe(false)
    expect(proofNeeded(ours.checkpoint(5), ours.checkpoint(8, otherSigner))).toBe(false)
  })

  it('throws the evidence when the log signed a fork', () => {
    const [old, newer] = [ours.checkpoint(5), theirs.checkpoint(8)]
    const proof = theirs.memory.consistencyProof(5, 8)
    const error = expectClientError(() => verifyConsistent(old, newer, proof), 'SPLIT_VIEW') as SplitViewError
    expect(error).toBeInstanceOf(SplitViewError)
    expect(error.evidence).toEqual({ old: old.note, new: newer.note, proof: proof.map(() => expect.any(String)) })
    expect(error.evidence.proof.map((hash) => decodeBase64(hash))).toEqual(proof)
  })

  it('throws the evidence for two trees of one size', () => {
    const [old, newer] = [ours.checkpoint(8), theirs.checkpoint(8)]
    const error = expectClientError(() => verifyConsistent(old, newer, []), 'SPLIT_VIEW') as SplitViewError
    expect(error.evidence).toEqual({ old: old.note, new: newer.note, proof: [] })
  })

  it('calls a proof that shows nothing a failure, not a fork', () => {
    const proof = ours.memory.consistencyProof(5, 8)
    const altered = proof.map((hash, i) => i === 0 ? hash.map((byte, j) => j === 0 ? byte ^ 1 : byte) : hash)
    expectClientError(() => verifyConsistent(ours.checkpoint(5), ours.checkpoint(8), altered), 'CONSISTENCY_FAILED')
    expectClientError(() => verifyConsistent(ours.checkpoint(5), ours.checkpoint(8), proof.slice(1)), 'CONSISTENCY_FAILED')
  })

  it('refuses a smaller tree and another log', () => {
    expectClientError(() => verifyConsistent(ours.checkpoint(8), ours.checkpoint(5), []), 'CONSISTENCY_FAILED')
    expectClientError(() => verifyConsistent(ours.checkpoint(5), ours.checkpoint(8, otherSigner),
      ours.memory.consistencyProof(5, 8)), 'CONSISTENCY_FAILED')
  })
})
