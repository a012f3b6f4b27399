import { decodeBase64, encodeBase64, generateKeyPair, openCheckpoint, parseSignerKey, signCheckpoint, type VerifiedCheckpoint } from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'
import { describe, expect, it } from 'vitest'
import { checkConsistent, proofNeeded, verifyConsistent } from './consistency.js'
import { ClientError } from './errors.js'
import { parsePolicy } from './policy.js'
import { SplitViewError, verifyEvidence } from './split-view.js'
import { expectClientError } from './testing/expect.js'

const origin = 'example.com/forking'
const keys = generateKeyPair(origin)
const signer = parseSignerKey(keys.signerKey)
const policy = parsePolicy(`log ${keys.verifierKey}\nquorum none\n`)
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
    expect(error.evidence).toEqual({
      old: old.note, new: newer.note, oldSizeRoot: encodeBase64(theirs.memory.root(5)), proof: proof.map(() => expect.any(String)),
    })
    expect(error.evidence.proof.map((hash) => decodeBase64(hash))).toEqual(proof)
    verifyEvidence(error.evidence, policy)
  })

  it('shows a fork from a power-of-two size only with the newer root there, which checkConsistent reads', async () => {
    const [old, newer] = [ours.checkpoint(4), theirs.checkpoint(8)]
    const proof = theirs.memory.consistencyProof(4, 8)
    // The proof starts at the older root itself, so alone it shows no other tree.
    expectClientError(() => verifyConsistent(old, newer, proof), 'CONSISTENCY_FAILED')
    const error = await checkConsistent(old, newer, proof, async (size) => theirs.memory.root(size)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SplitViewError)
    expect((error as SplitViewError).evidence.oldSizeRoot).toBe(encodeBase64(theirs.memory.root(4)))
    verifyEvidence((error as SplitViewError).evidence, policy)
    // A tree hash that the proof does not lead from, or that cannot be read, shows nothing.
    await expect(checkConsistent(old, newer, proof, async () => ours.memory.root(4))).rejects.toMatchObject({ code: 'CONSISTENCY_FAILED' })
    await expect(checkConsistent(old, newer, proof, async () => { throw new ClientError('RESPONSE_INVALID', 'no tile') }))
      .rejects.toMatchObject({ code: 'CONSISTENCY_FAILED' })
    await checkConsistent(ours.checkpoint(4), ours.checkpoint(8), ours.memory.consistencyProof(4, 8), async () => { throw new Error('not read') })
  })

  it('throws the evidence for two trees of one size', () => {
    const [old, newer] = [ours.checkpoint(8), theirs.checkpoint(8)]
    const error = expectClientError(() => verifyConsistent(old, newer, []), 'SPLIT_VIEW') as SplitViewError
    expect(error.evidence).toEqual({ old: old.note, new: newer.note, oldSizeRoot: encodeBase64(theirs.memory.root(8)), proof: [] })
    verifyEvidence(error.evidence, policy)
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
