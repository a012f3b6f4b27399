import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import { MAX_TERM_BYTES } from './keys.js'

const utf8 = new TextEncoder()
const text = new TextDecoder()
/** Each word of an entry is a term. */
const words = (_log: string, entry: Uint8Array) => ({ terms: text.decode(entry).split(' ').map((word) => utf8.encode(word)) })

async function all(indexes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = []
  for await (const index of indexes) out.push(index)
  return out
}

describe('search terms', () => {
  let directory: string
  let ledger: Ledger

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-terms-'))
    ledger = await Ledger.open(directory, { originPrefix: 'terms.test' })
    await ledger.createLog('audit')
  })
  afterEach(async () => {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  })

  const term = (word: string) => utf8.encode(word)

  it('are written with their entries and joined in either order', async () => {
    ledger.indexWith(words)
    const log = ledger.log('audit')
    await log.append(['a b', 'b', 'a c', 'a b c', 'c'].map((entry) => utf8.encode(entry)))
    expect(await all(log.matching([term('a')], { start: 0, end: 10 }))).toEqual([0, 2, 3])
    expect(await all(log.matching([term('a'), term('b')], { start: 0, end: 10 }))).toEqual([0, 3])
    expect(await all(log.matching([term('b'), term('c')], { start: 0, end: 10, reverse: true }))).toEqual([3])
    expect(await all(log.matching([term('c')], { start: 0, end: 4, reverse: true }))).toEqual([3, 2])
    expect(await all(log.matching([], { start: 1, end: 3 }))).toEqual([1, 2])
    expect(await all(log.matching([term('z')], { start: 0, end: 10 }))).toEqual([])
  })

  it('give a duplicate no rows of its own', async () => {
    ledger.indexWith(words)
    const log = ledger.log('audit')
    await log.append([utf8.encode('a b')])
    const again = await log.append([utf8.encode('a b'), utf8.encode('a')])
    expect(again.entries.map((entry) => entry.duplicate)).toEqual([true, false])
    expect(await all(log.matching([term('a')], { start: 0, end: 10 }))).toEqual([0, 1])
  })

  it('refuse a batch whose indexer gives a term too long, writing nothing', async () => {
    ledger.indexWith(async () => ({ terms: [new Uint8Array(MAX_TERM_BYTES + 1)] }))
    await expect(ledger.log('audit').append([utf8.encode('a')])).rejects.toThrow(RangeError)
    expect(ledger.log('audit').size).toBe(0)
  })

  it('are rebuilt by reindex for entries appended without an indexer, and stale rows go', async () => {
    const log = ledger.log('audit')
    await log.append(['a b', 'b c'].map((entry) => utf8.encode(entry)))
    ledger.indexWith((l, entry) => ({ terms: [...words(l, entry).terms, term('stale')] }))
    await log.append([utf8.encode('a c')])
    expect(await all(log.matching([term('a')], { start: 0, end: 10 }))).toEqual([2])
    ledger.indexWith(words)
    const progress: number[] = []
    expect(await ledger.reindex('audit', { onProgress: (done) => progress.push(done) })).toBe(3)
    expect(progress.at(-1)).toBe(3)
    expect(await all(log.matching([term('a')], { start: 0, end: 10 }))).toEqual([0, 2])
    expect(await all(log.matching([term('stale')], { start: 0, end: 10 }))).toEqual([])
  })

  it('reindex needs an indexer', async () => {
    await expect(ledger.reindex('audit')).rejects.toThrow(TypeError)
  })
})
