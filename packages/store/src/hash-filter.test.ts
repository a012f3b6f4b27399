import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { GrowingHashFilter, HashFilter, StoredHashFilter } from './hash-filter.js'

const hashes = (count: number) => Array.from({ length: count }, () => new Uint8Array(randomBytes(32)))

describe('HashFilter', () => {
  it('never says no to an id it holds, and rarely yes to one it does not', () => {
    const filter = new HashFilter(64 * 1024)
    const held = hashes(20_000)
    for (const hash of held) filter.add(hash)
    expect(held.every((hash) => filter.mightContain(hash))).toBe(true)
    // 20,000 ids in 524,288 bits with 7 probes: about 0.01% false positives (measured).
    const falsePositives = hashes(20_000).filter((hash) => filter.mightContain(hash)).length
    expect(falsePositives).toBeLessThan(200)
  })

  it('keeps false positives near 0.25% at its design load of 13.4 bits a hash (10M in 16 MiB)', () => {
    const filter = new HashFilter(64 * 1024)
    for (const hash of hashes(39_000)) filter.add(hash)
    // Measured 0.25% (about 50 of 20,000); three times that still fails a filter whose blocks
    // or bits are picked from too few of the hash's bytes.
    const falsePositives = hashes(20_000).filter((hash) => filter.mightContain(hash)).length
    expect(falsePositives).toBeLessThan(150)
  })

  it('stays right when far over its size: it only says maybe more often', () => {
    const filter = new HashFilter(1024)
    const held = hashes(20_000)
    for (const hash of held) filter.add(hash)
    expect(held.every((hash) => filter.mightContain(hash))).toBe(true)
    expect(hashes(1_000).filter((hash) => filter.mightContain(hash)).length).toBeGreaterThan(990)
  })

  it('takes leaf hashes only, and at least 1 KiB', () => {
    expect(() => new HashFilter(1023)).toThrow(RangeError)
    expect(() => new HashFilter(Number.NaN)).toThrow(RangeError)
    expect(() => new HashFilter(2 ** 28 + 1)).toThrow(RangeError)
    expect(() => new HashFilter(1024).add(new Uint8Array(31))).toThrow(RangeError)
    expect(new HashFilter(1024).mightContain(new Uint8Array(32))).toBe(false)
  })
})

describe('GrowingHashFilter', () => {
  it('starts small and adds stages four times larger as it fills, up to its largest stage', () => {
    // Stages of 1, 4 and 16 KiB: 256 and 1,024 hashes fill the first two (32 bits a hash).
    const filter = new GrowingHashFilter(16 * 1024, 1024)
    const sizes = [filter.bytes]
    for (const count of [256, 1, 1_023, 1, 50_000]) {
      for (const hash of hashes(count)) filter.add(hash)
      sizes.push(filter.bytes)
    }
    expect(sizes).toEqual([1024, 1024, 5 * 1024, 5 * 1024, 21 * 1024, 21 * 1024])
  })

  it('never says no to a hash it holds, in whichever stage, and rarely yes to one it does not', () => {
    const filter = new GrowingHashFilter(64 * 1024, 1024)
    const held = hashes(30_000)
    for (const hash of held) filter.add(hash)
    expect(filter.bytes).toBe((1 + 4 + 16 + 64) * 1024)
    expect(held.every((hash) => filter.mightContain(hash))).toBe(true)
    // Three full stages and the last at 21 bits a hash: measured 0.018-0.036% in all (three runs
    // of 200,000). A check that asked only the newest stage would miss held hashes above; one
    // that asked only the first would say maybe to nearly all.
    const falsePositives = hashes(20_000).filter((hash) => filter.mightContain(hash)).length
    expect(falsePositives).toBeLessThan(40)
  })

  it('takes one stage when its largest is no more than the first, and the same sizes as HashFilter', () => {
    const small = new GrowingHashFilter(4096)
    for (const hash of hashes(5_000)) small.add(hash)
    expect(small.bytes).toBe(4096)
    expect(new GrowingHashFilter(100_000, 1024).bytes).toBe(1024)
    expect(() => new GrowingHashFilter(1023)).toThrow(RangeError)
    expect(() => new GrowingHashFilter(2 ** 28 + 1)).toThrow(RangeError)
  })
})

async function* rowsOf(keys: readonly Uint8Array[], failAfter = Infinity): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
  for (const [i, key] of keys.entries()) {
    if (i === failAfter) throw new Error('read failed')
    await Promise.resolve()
    yield [key, new Uint8Array(0)]
  }
}

describe('StoredHashFilter', () => {
  it('knows nothing until its pass ends, then rules out what was neither stored nor added', async () => {
    const [stored, added, absent] = [hashes(100), hashes(1)[0]!, hashes(1)[0]!]
    const filter = new StoredHashFilter(4096)
    filter.add(added)
    expect(filter.unseen(absent)).toBe(false)
    await filter.fill(rowsOf(stored), (key) => key)
    expect([filter.unseen(absent), filter.unseen(added), stored.some((hash) => filter.unseen(hash))]).toEqual([true, false, false])
  })

  it('stays unfilled, answering maybe, when its pass is stopped by close or fails', async () => {
    const absent = hashes(1)[0]!
    const closed = new StoredHashFilter(4096)
    const filling = closed.fill(rowsOf(hashes(100)), (key) => key)
    await closed.close()
    await filling
    const failed = new StoredHashFilter(4096)
    await failed.fill(rowsOf(hashes(100), 50), (key) => key)
    expect([closed.unseen(absent), failed.unseen(absent)]).toEqual([false, false])
  })

  it('sizes itself from an option: 0 is none, anything else not a count is refused', () => {
    expect(StoredHashFilter.sized(0, 'idFilterBytes')).toBeUndefined()
    expect(StoredHashFilter.sized(4096, 'idFilterBytes')).toBeInstanceOf(StoredHashFilter)
    expect(() => StoredHashFilter.sized(-1, 'idFilterBytes')).toThrow(/idFilterBytes/)
  })
})
