import { describe, expect, it } from 'vitest'
import { isTlogError } from '@annal/tlog'
import {
  MAX_PENDING, decodeEvidence, decodePending, encodeEvidence, encodePending, evidenceKey, judge, pendingKey,
  sameSizeEvidence, type SeenCheckpoint,
} from './evidence.js'
import type { WitnessState } from './state.js'
import { TestLog } from './testing/log.js'

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
    return isTlogError(error, 'CORRUPTION')
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
