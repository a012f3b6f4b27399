import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import type { EntryIndexer } from './terms.js'
import { nodeWidth } from './time-index.js'

const utf8 = new TextEncoder()
const text = new TextDecoder()

/** An entry is `<n> <time or -> <word>...`: its words are its terms. */
const indexer: EntryIndexer = (_log, entry) => {
  const [, time, ...words] = text.decode(entry).split(' ')
  return { terms: words.filter(Boolean).map((word) => utf8.encode(word)), ...(time === '-' ? {} : { time: Number(time) }) }
}

async function all(indexes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = []
  for await (const index of indexes) out.push(index)
  return out
}

interface Made {
  readonly time: number | undefined
  readonly words: readonly string[]
}

// Times that mostly go up and now and then step back, some entries without one; appended in
// calls of several sizes, some without an indexer (then reindexed), so that the nodes of the
// time index are filled across batches, across a reopen, and by a reindex.
const entry = fc.record({ step: fc.integer({ min: -40, max: 100 }), timed: fc.double({ min: 0, max: 1, noNaN: true }), words: fc.subarray(['a', 'b']) })
const call = fc.array(entry, { minLength: 1, maxLength: 300, size: 'max' })

describe('the time index', () => {
  let directory: string
  let ledger: Ledger
  let run = 0
  let indexing = true

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-time-prop-'))
    ledger = await Ledger.open(directory, { originPrefix: 'time.test' })
    ledger.indexWith(indexer)
  })
  afterAll(async () => {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  })

  it('finds every entry whose time is in a window, reading few others', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(call, { minLength: 1, maxLength: 5 }), fc.array(fc.constantFrom(true, true, true, false), { minLength: 5, maxLength: 5 }), fc.nat(2500), fc.nat(2500),
      fc.integer({ min: -200, max: 40_000 }), fc.option(fc.nat(1000), { nil: undefined }), fc.boolean(), fc.boolean(), fc.constantFrom('a', undefined), fc.boolean(),
      async (calls, indexed, a, b, low, width, open, reverse, word, monotone) => {
        // Mostly narrow windows, so that a search that read the whole range would read too much.
        const from = open && width === undefined ? undefined : low
        const to = width === undefined ? undefined : low + width
        const name = `p${run++}`
        await ledger.createLog(name)
        const made: Made[] = []
        let time = 0
        for (const [c, batch] of calls.entries()) {
          // A ledger has no way to stop indexing but to be opened again without an indexer.
          if (indexed[c] !== indexing) {
            await ledger.close()
            ledger = await Ledger.open(directory, { originPrefix: 'time.test' })
            if (indexed[c]) ledger.indexWith(indexer)
            indexing = indexed[c]!
          }
          const entries = batch.map((e) => {
            time += monotone ? Math.abs(e.step) : e.step
            made.push({ time: e.timed < 0.9 ? time : undefined, words: e.words })
            return utf8.encode(`${made.length - 1} ${made.at(-1)!.time ?? '-'} ${e.words.join(' ')}`)
          })
          await ledger.log(name).append(entries)
        }
        if (!indexing) {
          ledger.indexWith(indexer)
          indexing = true
        }
        if (ledger.log(name).indexState.from > 0) await ledger.reindex(name)
        expect(ledger.log(name).indexState.from).toBe(0)
        const [start, end] = a <= b ? [a, b] : [b, a]
        const terms = word === undefined ? [] : [utf8.encode(word)]
        const found = await all(ledger.log(name).matching(terms, { start, end, reverse }, { from, to }))
        const inRange = made.flatMap((m, i) => (i >= start && i < end && (word === undefined || m.words.includes(word)) ? [i] : []))
        const expected = inRange.filter((i) => {
          const t = made[i]!.time
          return t !== undefined && (from === undefined || t >= from) && (to === undefined || t < to)
        })
        const ordered = [...found].sort((x, y) => (reverse ? y - x : x - y))
        expect(found).toEqual(ordered)
        expect(new Set(found).size).toBe(found.length)
        const inRangeSet = new Set(inRange)
        const foundSet = new Set(found)
        expect(found.every((i) => inRangeSet.has(i))).toBe(true)
        expect(expected.every((i) => foundSet.has(i))).toBe(true)
        // Where times never step back, only the level-0 nodes at the window's two edges hold
        // entries outside it (and the entries without a time, which the index cannot place).
        if (monotone) {
          const untimed = inRange.filter((i) => made[i]!.time === undefined).length
          expect(found.length).toBeLessThanOrEqual(expected.length + untimed + 2 * nodeWidth(0))
        }
      }), { numRuns: 25 })
  })
})
