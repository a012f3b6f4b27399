import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  SIGNATURE_TYPE_COSIGNATURE_V1, formatAddCheckpoint, generateKeyPair, parseAddCheckpoint, parseSignerKey,
  parseVerifierKey, type CosignatureSigner,
} from '@annal/note'
import { decideAddCheckpoint, type WitnessedLog } from './decide.js'
import type { WitnessState } from './state.js'
import { TestLog } from './testing/log.js'

const SIZE = 300
const log = new TestLog('example.com/prop-log')
log.append(SIZE)
const signer = parseSignerKey(generateKeyPair('witness.example/prop', { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).signerKey) as CosignatureSigner
const config: WitnessedLog = { origin: log.origin, verifiers: [parseVerifierKey(log.verifierKey)] }
const checkpoints = new Map<number, string>()
const checkpointAt = (size: number): string => {
  if (!checkpoints.has(size)) checkpoints.set(size, log.checkpoint(size))
  return checkpoints.get(size)!
}

function status(oldSize: number, proof: readonly Uint8Array[], size: number, state: WitnessState | undefined): number {
  const request = parseAddCheckpoint(formatAddCheckpoint(oldSize, proof, checkpointAt(size)))
  return decideAddCheckpoint({ request, log: config, state, signer, timestamp: 1 }).status
}

const stateAt = (size: number, rootHash = log.tree.root(size)): WitnessState => ({ size, rootHash, note: '' })

/** m <= n with m >= 1, so that the proof is (usually) non-empty. */
const sizes = fc.integer({ min: 1, max: SIZE }).chain((n) => fc.tuple(fc.integer({ min: 1, max: n }), fc.constant(n)))

describe('decideAddCheckpoint properties', () => {
  it('cosigns every honest update from the witnessed size', () => {
    fc.assert(fc.property(sizes, ([m, n]) => {
      expect(status(m, log.proof(m, n), n, stateAt(m))).toBe(200)
    }))
  })

  it('refuses every change to a proof: a flipped bit, a hash dropped, added or replaced', () => {
    const change = fc.record({ kind: fc.constantFrom('flip', 'drop', 'add', 'replace'), at: fc.nat(), bit: fc.nat(255) })
    fc.assert(fc.property(sizes, change, ([m, n], { kind, at, bit }) => {
      const proof: Uint8Array[] = log.proof(m, n).map((hash) => hash.slice())
      const i = proof.length === 0 ? 0 : at % proof.length
      if (kind === 'flip' && proof.length > 0) proof[i]![bit % 32]! ^= 1 << (bit % 8)
      else if (kind === 'drop' && proof.length > 0) proof.splice(i, 1)
      else if (kind === 'replace' && proof.length > 0) proof[i] = log.tree.root(1 + (bit % SIZE))
      else proof.splice(i, 0, log.tree.root(1 + (bit % SIZE)))
      fc.pre(proof.length <= 63)
      const unchanged = proof.length === log.proof(m, n).length &&
        proof.every((hash, j) => hash.every((byte, k) => byte === log.proof(m, n)[j]![k]))
      fc.pre(!unchanged)
      expect(status(m, proof, n, stateAt(m))).toBe(422)
    }))
  })

  it('refuses an honest proof against a witnessed root that differs', () => {
    fc.assert(fc.property(sizes, fc.nat(255), ([m, n], bit) => {
      const root = log.tree.root(m).slice()
      root[bit % 32]! ^= 1 << (bit % 8)
      expect(status(m, log.proof(m, n), n, stateAt(m, root))).toBe(422)
    }))
  })

  it('never cosigns a checkpoint smaller than the witnessed one', () => {
    fc.assert(fc.property(sizes, fc.nat(SIZE), ([small, witnessed], old) => {
      fc.pre(small < witnessed)
      const oldSize = old % (small + 1)
      expect([400, 409]).toContain(status(oldSize, log.proof(oldSize, small), small, stateAt(witnessed)))
      expect(status(witnessed, [], small, stateAt(witnessed))).toBe(400)
    }))
  })

  it('answers 409 with the witnessed size whenever old differs from it', () => {
    fc.assert(fc.property(sizes, fc.nat(SIZE), ([m, n], witnessed) => {
      fc.pre(witnessed !== m)
      const request = parseAddCheckpoint(formatAddCheckpoint(m, log.proof(m, n), checkpointAt(n)))
      const outcome = decideAddCheckpoint({ request, log: config, state: stateAt(witnessed), signer, timestamp: 1 })
      expect(outcome).toMatchObject({ status: 409, size: witnessed })
    }))
  })
})
