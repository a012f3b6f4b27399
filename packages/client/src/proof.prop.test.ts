import { readFileSync } from 'node:fs'
import { generateKeyPair, SIGNATURE_TYPE_COSIGNATURE_V1 } from '@annal/note'
import { bytesEqual } from '@annal/tlog'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { verifyCheckpoint } from './checkpoint.js'
import { isClientError } from './errors.js'
import { parsePolicy } from './policy.js'
import { formatProof, parseProof, verifyProof } from './proof.js'
import { policyFor, testLog } from './testing/world.js'

const read = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../testdata/${name}`, import.meta.url)))
const proofBytes = read('valid/entry-5.tlog-proof')
const policyBytes = read('policy.txt')
const entry = read('entry-5.txt')
const policy = parsePolicy(policyBytes)
const proof = parseProof(proofBytes)
const SPACE = 0x20
const TAB = 0x09

/** A copy of `bytes` with the byte at `at` (taken modulo the length) replaced by a different value. */
function mutate(bytes: Uint8Array, at: number, by: number): Uint8Array {
  const copy = bytes.slice()
  const i = at % copy.length
  copy[i] = (copy[i]! + by) % 256
  return copy
}

/** `items` with `count` items at `at` replaced by `added`, as Array.prototype.toSpliced (ES2023) does. */
function spliced<T>(items: readonly T[], at: number, count: number, ...added: T[]): T[] {
  return [...items.slice(0, at), ...added, ...items.slice(at + count)]
}

const mutationArb = fc.record({ at: fc.nat(), by: fc.integer({ min: 1, max: 255 }) })

function expectRefused(run: () => unknown, code?: string): void {
  let thrown: unknown
  try {
    run()
  } catch (error) {
    thrown = error
  }
  expect(isClientError(thrown), String(thrown)).toBe(true)
  if (code !== undefined) expect(isClientError(thrown) && thrown.code, String(thrown)).toBe(code)
}

describe('the verifier accepts no altered byte', () => {
  it('holds for the pinned proof as given', () => {
    expect(verifyProof(proofBytes, entry, policy).index).toBe(5)
  })

  it('of the proof file', () => {
    fc.assert(fc.property(mutationArb, ({ at, by }) => {
      expectRefused(() => verifyProof(mutate(proofBytes, at, by), entry, policy))
    }), { numRuns: 300 })
  })

  it('of the entry', () => {
    fc.assert(fc.property(mutationArb, ({ at, by }) => {
      expectRefused(() => verifyProof(proofBytes, mutate(entry, at, by), policy))
    }))
  })

  it('of the checkpoint note', () => {
    const note = new TextEncoder().encode(proof.checkpoint)
    fc.assert(fc.property(mutationArb, ({ at, by }) => {
      expectRefused(() => verifyCheckpoint(mutate(note, at, by), policy))
    }), { numRuns: 300 })
  })

  it('of the policy, but for a space turned into a tab or back', () => {
    fc.assert(fc.property(mutationArb, ({ at, by }) => {
      const mutated = mutate(policyBytes, at, by)
      const i = at % policyBytes.length
      fc.pre(!([SPACE, TAB].includes(policyBytes[i]!) && [SPACE, TAB].includes(mutated[i]!)))
      expectRefused(() => verifyProof(proofBytes, entry, parsePolicy(mutated)))
    }), { numRuns: 300 })
  })
})

describe('the verifier accepts no altered inclusion proof', () => {
  const verify = (index: number, hashes: readonly Uint8Array[]): unknown =>
    verifyProof(formatProof({ ...proof, index, hashes }), entry, policy)

  it('at another index', () => {
    fc.assert(fc.property(fc.maxSafeNat().filter((index) => index !== proof.index), (index) => {
      expectRefused(() => verify(index, proof.hashes))
    }))
  })

  it('with a hash added, removed, changed or moved', () => {
    const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
    fc.assert(fc.property(fc.nat(proof.hashes.length), hashArb, (at, hash) => {
      const hashes = [...proof.hashes]
      expectRefused(() => verify(proof.index, spliced(hashes, at, 0, hash)))
      if (at === hashes.length) return
      expectRefused(() => verify(proof.index, spliced(hashes, at, 1)))
      expectRefused(() => verify(proof.index, spliced(hashes, at, 1, mutate(hashes[at]!, hash[0]!, 1 + hash[1]! % 255))))
      if (at > 0) expectRefused(() => verify(proof.index, spliced(hashes, at - 1, 2, hashes[at]!, hashes[at - 1]!)))
    }), { numRuns: 50 })
  })
})

describe('the verifier accepts no checkpoint but the one the proof leads to, however well signed', () => {
  const log = testLog('example.com/signed-anything', 11, ['w1', 'w2'])
  const policy = parsePolicy(policyFor(log))
  const hashes = log.tree.inclusionProof(5, 11)
  const verifyIn = (checkpoint: string) => verifyProof(formatProof({ index: 5, hashes, checkpoint }), log.entries[5]!, policy)

  it('holds for the checkpoint the proof was made for', () => {
    expect(verifyIn(log.checkpoint(11)).index).toBe(5)
  })

  it('of another root, at any size, signed by the log and cosigned by every witness', () => {
    const rootArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((root) => !bytesEqual(root, log.tree.root(11)))
    fc.assert(fc.property(fc.integer({ min: 6, max: 2 ** 40 }), rootArb, (size, root) => {
      expectRefused(() => verifyIn(log.sign(size, root)), 'INCLUSION_FAILED')
    }), { numRuns: 50 })
  })

  it('of an earlier size of the same tree', () => {
    for (let size = 6; size < 11; size++) expectRefused(() => verifyIn(log.checkpoint(size)), 'INCLUSION_FAILED')
  })
})

describe('the verifier holds a proof to its policy', () => {
  const log = testLog('example.com/quorum', 11, ['w1', 'w2', 'w3'])
  const entry5 = log.entries[5]!

  it('accepting it exactly when the cosigners meet the quorum', () => {
    fc.assert(fc.property(fc.subarray(['w1', 'w2', 'w3']), fc.integer({ min: 1, max: 3 }), (cosigners, k) => {
      const proof = log.proof(5, 11, { cosigners })
      const policy = parsePolicy(policyFor(log, String(k)))
      if (cosigners.length >= k) expect(verifyProof(proof, entry5, policy).trusted.witnesses).toEqual(cosigners)
      else expectRefused(() => verifyProof(proof, entry5, policy), 'QUORUM_UNMET')
    }), { numRuns: 40 })
  })

  it('refusing it when the policy names another key for the log or a witness', () => {
    const proof = log.proof(5, 11)
    const text = policyFor(log)
    const stranger = generateKeyPair(log.origin).verifierKey
    expectRefused(() => verifyProof(proof, entry5, parsePolicy(text.replace(log.logKey, stranger))), 'SIGNATURE_INVALID')
    for (const witness of log.witnesses) {
      const other = generateKeyPair(`${witness.name}.witness.example`, { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey
      expectRefused(() => verifyProof(proof, entry5, parsePolicy(text.replace(witness.vkey, other))), 'QUORUM_UNMET')
    }
  })
})

describe('formatProof and parseProof', () => {
  it('are inverse', () => {
    const arb = fc.record({
      extra: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
      index: fc.maxSafeNat(),
      hashes: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 63 }),
    })
    fc.assert(fc.property(arb, (parts) => {
      const text = formatProof({ ...parts, checkpoint: proof.checkpoint })
      const parsed = parseProof(text)
      expect(parsed).toEqual({ ...parts, checkpoint: proof.checkpoint })
      expect(formatProof(parsed)).toBe(text)
    }))
  })
})
