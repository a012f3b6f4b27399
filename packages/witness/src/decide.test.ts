import { describe, expect, it } from 'vitest'
import {
  SIGNATURE_TYPE_COSIGNATURE_V1, formatAddCheckpoint, formatCheckpoint, generateKeyPair, openCheckpoint,
  parseAddCheckpoint, parseNote, parseSignerKey, parseVerifierKey, signNote, verifyCosignatures,
  type CosignatureSigner,
} from '@annal/note'
import { defaultHasher } from '@annal/tlog'
import { decideAddCheckpoint, type AddCheckpointOutcome, type Cosigned, type WitnessedLog } from './decide.js'
import type { WitnessState } from './state.js'
import { TestLog } from './testing/log.js'

const ORIGIN = 'example.com/decide-log'
const log = new TestLog(ORIGIN)
log.append(100)
const witnessKeys = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
const signer = parseSignerKey(witnessKeys.signerKey) as CosignatureSigner
const witnessVerifier = parseVerifierKey(witnessKeys.verifierKey)
const config: WitnessedLog = { origin: ORIGIN, verifiers: [parseVerifierKey(log.verifierKey)] }

function decide(body: string, state?: WitnessState, timestamp = 1_700_000_000,
    logConfig: WitnessedLog | null = config): AddCheckpointOutcome {
  return decideAddCheckpoint({ request: parseAddCheckpoint(body), log: logConfig ?? undefined, state, signer, timestamp })
}

function cosigned(outcome: AddCheckpointOutcome): Cosigned {
  if (outcome.status !== 200) throw new Error(`expected 200, got ${outcome.status} ${outcome.code}: ${outcome.message}`)
  return outcome
}

/** The state after cosigning `log` at `size` from nothing. */
function stateAt(size: number, from: TestLog = log): WitnessState {
  return cosigned(decide(formatAddCheckpoint(0, [], from.checkpoint(size)))).next
}

describe('decideAddCheckpoint: 200', () => {
  it('cosigns a first checkpoint from old 0 and stores it with the log signature', () => {
    const outcome = cosigned(decide(log.body(0, 10), undefined, 1_700_000_123))
    expect(outcome.body).toMatch(/^\u2014 witness\.example\/w1 [A-Za-z0-9+/]{102}==\n$/)
    expect(outcome.next.size).toBe(10)
    expect(outcome.next.rootHash).toEqual(log.tree.root(10))
    const stored = openCheckpoint(outcome.next.note, config.verifiers)
    expect(stored.body).toBe(parseNote(log.checkpoint(10)).text)
    const [cosignature] = verifyCosignatures(stored, [witnessVerifier])
    expect(cosignature?.timestamp).toBe(1_700_000_123)
    expect(outcome.next.note.endsWith(outcome.body)).toBe(true)
  })

  it('cosigns a consistent update', () => {
    const outcome = cosigned(decide(log.body(10, 57), stateAt(10)))
    expect(outcome.next.size).toBe(57)
  })

  it('cosigns the witnessed size and root again with a fresh timestamp', () => {
    const state = cosigned(decide(log.body(0, 57), undefined, 1000)).next
    const again = cosigned(decide(log.body(57, 57), state, 2000))
    expect(again.next.size).toBe(57)
    const stored = openCheckpoint(again.next.note, config.verifiers)
    expect(verifyCosignatures(stored, [witnessVerifier]).map((c) => c.timestamp)).toEqual([2000])
    expect(again.next.note).not.toBe(state.note)
  })

  it('cosigns size 0 with the empty root, and grows from it', () => {
    const empty = cosigned(decide(log.body(0, 0)))
    expect(empty.next.rootHash).toEqual(defaultHasher.emptyRoot)
    expect(cosigned(decide(log.body(0, 5), empty.next)).next.size).toBe(5)
  })

  it('ignores signatures from unknown keys and does not store them', () => {
    const other = generateKeyPair('witness.example/other', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
    const withOthers = signNote(parseNote(log.checkpoint(20)).text,
      [parseSignerKey(other.signerKey), parseSignerKey(generateKeyPair('stranger.example').signerKey)],
      parseNote(log.checkpoint(20)).signatures)
    const outcome = cosigned(decide(formatAddCheckpoint(0, [], withOthers)))
    expect(parseNote(outcome.next.note).signatures.map((s) => s.name)).toEqual([ORIGIN, 'witness.example/w1'])
  })

  it('accepts any of several trusted keys, whatever their names', () => {
    const second = parseSignerKey(generateKeyPair('log-key-2').signerKey)
    const logConfig = { origin: ORIGIN, verifiers: [...config.verifiers, second.verifier] }
    const body = formatCheckpoint({ origin: ORIGIN, size: 30, rootHash: log.tree.root(30), extensions: [] })
    const outcome = decide(formatAddCheckpoint(0, [], signNote(body, [second])), undefined, 1, logConfig)
    expect(cosigned(outcome).next.size).toBe(30)
  })

  it('cosigns checkpoints with extension lines over their whole text', () => {
    const body = formatCheckpoint({ origin: ORIGIN, size: 30, rootHash: log.tree.root(30), extensions: ['ext one'] })
    const outcome = cosigned(decide(formatAddCheckpoint(0, [], signNote(body, [log.signer]))))
    expect(verifyCosignatures(openCheckpoint(outcome.next.note, config.verifiers), [witnessVerifier])).toHaveLength(1)
  })
})

describe('decideAddCheckpoint: refusals', () => {
  it('404 for an unknown origin', () => {
    expect(decide(log.body(0, 10), undefined, 1, null)).toMatchObject({ status: 404, code: 'LOG_NOT_FOUND' })
    const other = { origin: 'example.com/other', verifiers: config.verifiers }
    expect(decide(log.body(0, 10), undefined, 1, other)).toMatchObject({ status: 404 })
  })

  it('403 for a checkpoint signed by another key under the log name', () => {
    const impostor = new TestLog(ORIGIN)
    impostor.append(10)
    expect(decide(impostor.body(0, 10))).toMatchObject({ status: 403, code: 'NOTE_UNVERIFIED' })
  })

  it('403 for a checkpoint signed only by unknown keys, the witness itself included', () => {
    const body = parseNote(log.checkpoint(10)).text
    const note = signNote(body, [parseSignerKey(generateKeyPair('stranger.example').signerKey), signer])
    expect(decide(formatAddCheckpoint(0, [], note))).toMatchObject({ status: 403 })
  })

  it('403 for a trusted signature that does not verify, before any size check', () => {
    const note = log.checkpoint(10)
    const line = note.slice(note.lastIndexOf('\u2014'))
    const flipped = line.slice(0, -6) + (line.at(-6) === 'A' ? 'B' : 'A') + line.slice(-5)
    const bad = note.replace(line, flipped)
    expect(decide(formatAddCheckpoint(0, [], bad))).toMatchObject({ status: 403, code: 'SIGNATURE_INVALID' })
    expect(decide(formatAddCheckpoint(11, [], bad))).toMatchObject({ status: 403 })
  })

  it('400 when old is above the checkpoint size, before the 409 check', () => {
    expect(decide(formatAddCheckpoint(11, [], log.checkpoint(10)))).toMatchObject({ status: 400, code: 'SIZE_OUT_OF_RANGE' })
    expect(decide(formatAddCheckpoint(50, [], log.checkpoint(10)), stateAt(50))).toMatchObject({ status: 400 })
  })

  it('409 with the witnessed size when old does not match it', () => {
    expect(decide(log.body(5, 10))).toEqual({ status: 409, code: 'OLD_SIZE_MISMATCH', message: expect.any(String), size: 0 })
    expect(decide(log.body(10, 60), stateAt(50))).toMatchObject({ status: 409, size: 50 })
    expect(decide(log.body(0, 60), stateAt(50))).toMatchObject({ status: 409, size: 50 })
  })

  it('refuses rollbacks: 409 from an older size, 400 from the witnessed one', () => {
    const state = stateAt(50)
    expect(decide(log.body(10, 20), state)).toMatchObject({ status: 409, size: 50 })
    expect(decide(formatAddCheckpoint(50, [], log.checkpoint(20)), state)).toMatchObject({ status: 400 })
  })

  it('422 for a size-0 checkpoint without the empty tree root', () => {
    const body = formatCheckpoint({ origin: ORIGIN, size: 0, rootHash: log.tree.root(1), extensions: [] })
    expect(decide(formatAddCheckpoint(0, [], signNote(body, [log.signer]))))
      .toMatchObject({ status: 422, code: 'PROOF_ROOT_MISMATCH' })
  })

  it('422 for a non-empty proof from old 0', () => {
    const proof = log.proof(5, 10)
    expect(decide(formatAddCheckpoint(0, proof, log.checkpoint(10)))).toMatchObject({ status: 422, code: 'PROOF_MALFORMED' })
    expect(decide(formatAddCheckpoint(0, proof, log.checkpoint(10)), stateAt(0))).toMatchObject({ status: 422 })
  })

  it('422 for proofs that do not verify', () => {
    const state = stateAt(13)
    const proof = log.proof(13, 60)
    const flipped = proof.map((hash, i) => (i === 1 ? hash.map((b, j) => (j === 0 ? b ^ 1 : b)) : hash))
    for (const bad of [flipped, proof.slice(1), [...proof, proof[0]!], [], log.proof(12, 60), log.proof(13, 61)]) {
      expect(decide(formatAddCheckpoint(13, bad, log.checkpoint(60)), state)).toMatchObject({ status: 422 })
    }
  })

  it('422 for a fork at the witnessed size (same size, different root)', () => {
    const fork = log.fork(30)
    fork.append(20)
    expect(decide(formatAddCheckpoint(50, [], fork.checkpoint(50)), stateAt(50)))
      .toMatchObject({ status: 422, code: 'PROOF_ROOT_MISMATCH' })
  })

  it('422 for a fork that grew past the witnessed size', () => {
    const fork = log.fork(30)
    fork.append(50)
    expect(decide(fork.body(50, 80), stateAt(50))).toMatchObject({ status: 422 })
  })

  it('422 for a proof at equal sizes', () => {
    expect(decide(formatAddCheckpoint(50, log.proof(13, 50).slice(0, 1), log.checkpoint(50)), stateAt(50)))
      .toMatchObject({ status: 422, code: 'PROOF_MALFORMED' })
  })

  it('refuses misuse', () => {
    const request = parseAddCheckpoint(log.body(0, 10))
    expect(() => decideAddCheckpoint({ request, log: config, state: undefined, signer, timestamp: 0 })).toThrow(RangeError)
    expect(() => decideAddCheckpoint({ request, log: config, state: undefined, signer: log.signer as CosignatureSigner,
      timestamp: 1 })).toThrow(TypeError)
  })
})
