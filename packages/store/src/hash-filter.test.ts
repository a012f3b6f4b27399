import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { HashFilter } from './hash-filter.js'

const hashes = (count: number) => Array.from({ length: count }, () => new Uint8Array(randomBytes(32)))

describe('HashFilter', () => {
  it('never says no to an id it holds, and rarely yes to one it does not', () => {
    const filter = new HashFilter(64 * 1024)
    const held = hashes(20_000)
    for (const hash of held) filter.add(hash)
    expect(held.every((hash) => filter.mightContain(hash))).toBe(true)
    // 20,000 ids in 524,288 bits with 7 probes: about 0.004% false positives expected.
    const falsePositives = hashes(20_000).filter((hash) => filter.mightContain(hash)).length
    expect(falsePositives).toBeLessThan(200)
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
