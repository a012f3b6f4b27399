import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LevelDriver } from '@annal/storage'
import { addTermRows, matchingIndexes } from './terms.js'
import type { WriteOp } from '@annal/storage'

const utf8 = new TextEncoder()
const TERMS = ['a', 'b', 'c', 'd']

async function all(indexes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = []
  for await (const index of indexes) out.push(index)
  return out
}

// The leapfrog join against a filter of the same rows, over sparse and dense terms and every
// range and order; entries are many enough that terms span several of the join's chunks.
describe('matchingIndexes', () => {
  let directory: string
  let driver: LevelDriver

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-terms-prop-'))
    driver = await LevelDriver.open(join(directory, 'db'))
  })
  afterAll(async () => {
    await driver.close()
    await rm(directory, { recursive: true, force: true })
  })

  it('equals a filter of every entry', async () => {
    let run = 0
    const entry = fc.subarray(TERMS)
    await fc.assert(fc.asyncProperty(
      fc.array(entry, { minLength: 0, maxLength: 1200 }), fc.subarray(TERMS), fc.nat(1300), fc.nat(1300), fc.boolean(),
      async (entries, wanted, a, b, reverse) => {
        const log = `p${run++}`
        const ops: WriteOp[] = []
        entries.forEach((terms, index) => addTermRows(ops, log, 0, terms.map((t) => utf8.encode(t)), index))
        if (ops.length > 0) await driver.write(ops, { sync: false })
        const [start, end] = a <= b ? [a, b] : [b, a]
        const expected = entries.flatMap((terms, index) =>
          index >= start && index < end && wanted.every((t) => terms.includes(t)) ? [index] : [])
        if (reverse) expected.reverse()
        const found = await all(matchingIndexes(driver, log, 0, wanted.map((t) => utf8.encode(t)), { start, end, reverse }))
        // No terms means every index of the range, whether or not the entry exists.
        if (wanted.length === 0) expect(found.length).toBe(end - start)
        else expect(found).toEqual(expected)
      }), { numRuns: 60 })
  })
})
