import { describe, expect, it } from 'vitest'
import {
  MAX_PENDING, decodeEvidence, decodePending, encodeEvidence, encodePending, evidenceKey, evidenceToJson,
  inconsistentEvidence, judge, pendingKey, sameSizeEvidence, type SeenCheckpoint,
} from './evidence.js'
import type { WitnessState } from './state.js'
import { TestLog } from './testing/log.js'
import { isWitnessError } from './errors.js'

const log = new TestLog('example.com/evidence-log')
log.append(100)
const fork = log.fork(40)
fork.append(60)
const utf8 = new TextEncoder()

function seen(from: TestLog, size: number, source = 'gossip http://127.0.0.1:1'): SeenCheckpoint {
  return { size, rootHash: from.tree.root(size), note: from.checkpoint(size), source, seen: '2026-11-26T00:00:00.000Z' }
}

const state: WitnessState = { size: 50, rootHash: log.tree.root(50), note: log.checkpoint(50) }

function corruption(run: () => unknown): boolean {
  try {
    run()
    return false
  } catch (error) {
    return isWitnessError(error, 'CORRUPTION')
  }
}

describe('judge', () => {
  it('compares with the witnessed state: same root, older, another root', () => {
    expect(judge(seen(log, 50), state, [])).toEqual({ kind: 'consistent' })
    expect(judge(seen(fork, 30), state, [])).toEqual({ kind: 'older' })
    expect(judge(seen(fork, 50), state, [])).toEqual({ kind: 'conflict', with: expect.objectContaining({ source: 'cosigned', size: 50 }) })
  })

  it('keeps larger checkpoints pending, sorted, and compares those of a pending size', () => {
    const first = judge(seen(log, 80), state, [])
    expect(first.kind).toBe('pending')
    const pending = first.kind === 'pending' ? first.pending : []
    const second = judge(seen(log, 60), state, pending)
    expect(second.kind === 'pending' && second.pending.map((p) => p.size)).toEqual([60, 80])
    expect(judge(seen(log, 80, 'submitted x'), state, pending)).toEqual({ kind: 'known' })
    const conflict = judge(seen(fork, 80), state, pending)
    expect(conflict.kind === 'conflict' && conflict.with.note).toBe(log.checkpoint(80))
    // With nothing witnessed, every checkpoint is above the state.
    expect(judge(seen(log, 0), undefined, []).kind).toBe('pending')
  })

  it('holds at most MAX_PENDING, the smallest sizes', () => {
    let pending: readonly SeenCheckpoint[] = []
    for (let size = 51 + MAX_PENDING; size > 51; size--) {
      const verdict = judge(seen(log, size), state, pending)
      if (verdict.kind === 'pending') pending = verdict.pending
    }
    expect(pending).toHaveLength(MAX_PENDING)
    const full = judge(seen(log, 51), state, pending)
    expect(full.kind === 'pending' && full.pending.map((p) => p.size)).toEqual(Array.from({ length: MAX_PENDING }, (_, i) => 51 + i))
    expect(judge(seen(log, 99), state, full.kind === 'pending' ? full.pending : [])).toEqual({ kind: 'ignored' })
  })
})

describe('evidence', () => {
  it('orders the pair by note, so that both sides store the same pair', () => {
    const a = seen(log, 70, 'add-checkpoint')
    const b = seen(fork, 70, 'gossip http://peer')
    const one = sameSizeEvidence(log.origin, a, b, '2026-11-26T00:00:01.000Z')
    const other = sameSizeEvidence(log.origin, b, a, '2026-11-26T00:00:02.000Z')
    expect(one.checkpoints.map((c) => c.note)).toEqual(other.checkpoints.map((c) => c.note))
    expect([one.detectedVia, other.detectedVia]).toEqual(['gossip http://peer', 'add-checkpoint'])
    expect(one.kind).toBe('same-size-different-roots')
    expect(() => sameSizeEvidence(log.origin, a, a, 'now')).toThrow(RangeError)
    expect(() => sameSizeEvidence(log.origin, a, seen(fork, 71), 'now')).toThrow(RangeError)
  })

  it('round-trips and refuses stored evidence that shows no conflict', () => {
    const evidence = sameSizeEvidence(log.origin, seen(log, 70), { ...seen(fork, 70), seen: undefined }, '2026-11-26T00:00:01.000Z')
    expect(decodeEvidence(encodeEvidence(evidence))).toEqual(evidence)
    const json = JSON.parse(new TextDecoder().decode(encodeEvidence(evidence))) as Record<string, unknown>
    const encode = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value))
    const checkpoints = json.checkpoints as Record<string, unknown>[]
    expect(corruption(() => decodeEvidence(utf8.encode('{')))).toBe(true)
    expect(corruption(() => decodeEvidence(encode({ ...json, kind: 'other' })))).toBe(true)
    expect(corruption(() => decodeEvidence(encode({ ...json, checkpoints: [checkpoints[0], checkpoints[0]] })))).toBe(true)
    expect(corruption(() => decodeEvidence(encode({ ...json, size: 71 })))).toBe(true)
    expect(corruption(() => decodeEvidence(encode({ ...json, checkpoints: [checkpoints[0], { ...checkpoints[1], size: 71 }] })))).toBe(true)
    expect(corruption(() => decodeEvidence(encode({ ...json, checkpoints: [checkpoints[0], { ...checkpoints[1], note: 'x' }] })))).toBe(true)
  })

  describe('inconsistent: two sizes, and the larger tree\'s tiles give the smaller size another root', () => {
    // What the fork's tiles at 90 show about its first 70 leaves, against the log's checkpoint 70.
    const shown = { rootHash: fork.tree.root(70), proof: fork.tree.consistencyProof(70, 90) }
    const make = () => inconsistentEvidence(log.origin, seen(log, 70, 'cosigned'), seen(fork, 90), shown,
      '2026-11-26T00:00:01.000Z', 'gossip http://127.0.0.1:1', 'tiles')

    it('is built only from a proof that reaches the larger root and another smaller root', () => {
      const evidence = make()
      expect(evidence).toMatchObject({ kind: 'inconsistent', size: 70, detectedVia: 'gossip http://127.0.0.1:1' })
      expect(evidence.checkpoints.map((c) => c.note)).toEqual([log.checkpoint(70), fork.checkpoint(90)].sort())
      const again = inconsistentEvidence(log.origin, seen(fork, 90), seen(log, 70, 'cosigned'), shown, 'x', 'y', 'z')
      expect(again.checkpoints).toEqual(evidence.checkpoints)
      // Honest: the log's own tiles give checkpoint 70's root.
      const honest = { rootHash: log.tree.root(70), proof: log.tree.consistencyProof(70, 90) }
      expect(() => inconsistentEvidence(log.origin, seen(log, 70), seen(log, 90), honest, 'x', 'y', 'z')).toThrow(RangeError)
      // Tiles that are not the larger checkpoint's show nothing.
      expect(() => inconsistentEvidence(log.origin, seen(log, 70), seen(log, 90), shown, 'x', 'y', 'z')).toThrow(RangeError)
      expect(() => inconsistentEvidence(log.origin, seen(log, 90), seen(fork, 90), shown, 'x', 'y', 'z')).toThrow(RangeError)
    })

    it('round-trips, carrying the proof, and refuses stored evidence that shows no conflict', () => {
      const evidence = make()
      expect(decodeEvidence(encodeEvidence(evidence))).toEqual(evidence)
      const json = evidenceToJson(evidence)
      expect(json.consistency).toEqual({ root_hash: expect.any(String), proof: expect.any(Array) })
      const consistency = json.consistency as { root_hash: string; proof: string[] }
      const checkpoints = json.checkpoints as Record<string, unknown>[]
      const encode = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value))
      const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))
      const bad = [
        { ...json, consistency: undefined },
        { ...json, kind: 'same-size-different-roots' },
        { ...json, size: 90 },
        { ...json, checkpoints: [checkpoints[0], checkpoints[0]] },
        { ...json, consistency: { ...consistency, root_hash: b64(log.tree.root(70)) } },
        { ...json, consistency: { ...consistency, proof: consistency.proof.slice(1) } },
        { ...json, consistency: { ...consistency, proof: [...consistency.proof].reverse() } },
        { ...json, consistency: { ...consistency, proof: 'x' } },
      ]
      // Two honest checkpoints with the log's own proof: consistent, so no evidence.
      bad.push({
        ...json,
        checkpoints: [seen(log, 70), seen(log, 90)].map((c) => ({ size: c.size, root_hash: b64(c.rootHash), note: c.note, source: c.source, seen: c.seen })),
        consistency: { root_hash: b64(log.tree.root(70)), proof: log.tree.consistencyProof(70, 90).map(b64) },
      })
      for (const value of bad) expect(corruption(() => decodeEvidence(encode(value)))).toBe(true)
      expect(corruption(() => decodeEvidence(encode({ ...evidenceToJson(sameSizeEvidence(log.origin, seen(log, 70), seen(fork, 70), 'x')),
        consistency })))).toBe(true)
    })
  })

  it('round-trips pending lists and refuses bad ones', () => {
    const pending = [seen(log, 60), seen(log, 80)]
    expect(decodePending(encodePending(pending))).toEqual(pending)
    expect(corruption(() => decodePending(utf8.encode('{}')))).toBe(true)
    expect(corruption(() => decodePending(encodePending(Array.from({ length: MAX_PENDING + 1 }, () => seen(log, 60)))))).toBe(true)
  })

  it('keys evidence and pending lists apart from the state', () => {
    expect(evidenceKey(log.origin)[0]).toBe(0x45)
    expect(pendingKey(log.origin)[0]).toBe(0x50)
    expect(evidenceKey(log.origin).slice(1)).toEqual(pendingKey(log.origin).slice(1))
  })
})
