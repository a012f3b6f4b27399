import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDriver } from '@annal/storage'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import { allTermsRange, termKey } from './keys.js'
import type { EntryIndex, EntryIndexer } from './terms.js'

const utf8 = new TextEncoder()
const text = new TextDecoder()
const WORDS = ['red', 'green', 'blue']
/** An entry is `<n> <time> <word>...`: its words are its terms. */
const words: EntryIndexer = (_log, entry) => {
  const [, time, ...rest] = text.decode(entry).split(' ')
  return { terms: rest.map((word) => utf8.encode(word)), time: Number(time) }
}

async function all(indexes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = []
  for await (const index of indexes) out.push(index)
  return out
}

/** Entries `from` to `from + count`: entry n has time 10n and each word whose place divides n + 1. */
function entries(from: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i
    return utf8.encode([n, n * 10, ...WORDS.filter((_, w) => (n + 1) % (w + 2) === 0)].join(' '))
  })
}

/** The indexes of the log's entries that have `word`, read from the entries. */
async function filter(ledger: Ledger, word: string): Promise<number[]> {
  const log = ledger.log('audit')
  return (await log.entries(0, log.size)).flatMap((entry) => (text.decode(entry.data).split(' ').slice(2).includes(word) ? [entry.index] : []))
}

describe('reindex while appends go on', () => {
  let directory: string
  let driver: LevelDriver
  let ledger: Ledger

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-reindex-'))
    driver = await LevelDriver.open(join(directory, 'db'))
    ledger = await Ledger.open(directory, { originPrefix: 'reindex.test', driver })
    await ledger.createLog('audit')
  })
  afterEach(async () => {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  })

  /** Term rows of the audit log in a generation's tag. */
  async function rowsIn(generation: number): Promise<number> {
    let rows = 0
    for await (const _ of driver.range({ ...allTermsRange('audit', generation), keysOnly: true })) rows++
    return rows
  }

  it('builds the index of entries appended without one, as searches and appends go on, and drops the old rows', async () => {
    const log = ledger.log('audit')
    // Without an indexer, then with one that adds a term the next reindex will not.
    await log.append(entries(0, 5000))
    ledger.indexWith((l, entry) => {
      const { terms, time } = words(l, entry) as EntryIndex
      return { terms: [...terms, utf8.encode('stale')], time }
    })
    await log.append(entries(5000, 100))
    expect(log.indexState).toMatchObject({ generation: 0, from: 5000 })
    ledger.indexWith(words)
    let appended = 5100
    let searched = 0
    const progress: number[] = []
    const reindex = ledger.reindex('audit', { config: 'words', onProgress: (done) => progress.push(done) })
    let finished = false
    void reindex.finally(() => { finished = true })
    // Searches during the reindex see the entries their index covers, every one of them.
    while (!finished) {
      await log.append(entries(appended, 7))
      appended += 7
      const { from } = log.indexState
      const expected = (await filter(ledger, 'red')).filter((index) => index >= from)
      expect((await all(log.matching([utf8.encode('red')], { start: from, end: log.size })))).toEqual(expected)
      searched++
    }
    // It covers the entries appended before it began, and appends index the rest.
    const covered = await reindex
    expect(covered).toBeGreaterThanOrEqual(5100)
    expect(searched).toBeGreaterThan(1)
    expect(progress.at(-1)).toBe(covered)
    expect(log.indexState).toEqual({ generation: 1, from: 0, config: 'words' })
    for (const word of WORDS) {
      expect(await all(log.matching([utf8.encode(word)], { start: 0, end: log.size }))).toEqual(await filter(ledger, word))
    }
    expect(await all(log.matching([utf8.encode('stale')], { start: 0, end: log.size }))).toEqual([])
    const times = await all(log.matching([], { start: 0, end: log.size }, { from: 20_000, to: 20_100 }))
    expect(times).toContain(2000)
    expect(times.length).toBeLessThanOrEqual(10 + 2 * 256)
    expect(await rowsIn(0)).toBe(0)
    expect(await ledger.reindexProgress('audit')).toBeUndefined()
  })

  it('resumes a reindex that was stopped where it was, and starts over for another config', async () => {
    const log = ledger.log('audit')
    await log.append(entries(0, 20_000))
    ledger.indexWith(words)
    const stop = new AbortController()
    const stopped = ledger.reindex('audit', { config: 'words', signal: stop.signal, onProgress: (done) => { if (done > 0) stop.abort() } })
    await expect(stopped).rejects.toThrow()
    const kept = await ledger.reindexProgress('audit')
    expect(kept).toMatchObject({ total: 20_000, running: false })
    expect(kept!.done).toBeGreaterThan(0)
    expect(kept!.done).toBeLessThan(20_000)
    // Appends go to the build meanwhile, and the log's index is still the old one.
    await log.append(entries(20_000, 10))
    expect(log.indexState.generation).toBe(0)
    const resumed: number[] = []
    await ledger.reindex('audit', { config: 'words', onProgress: (done) => resumed.push(done) })
    expect(resumed[0]).toBe(kept!.done)
    expect(log.indexState).toEqual({ generation: 1, from: 0, config: 'words' })
    expect(await all(log.matching([utf8.encode('blue')], { start: 0, end: log.size }))).toEqual(await filter(ledger, 'blue'))

    const other = new AbortController()
    await expect(ledger.reindex('audit', { config: 'a', signal: other.signal, onProgress: (done) => { if (done > 0) other.abort() } })).rejects.toThrow()
    const started: number[] = []
    await ledger.reindex('audit', { config: 'b', onProgress: (done) => started.push(done) })
    expect(started[0]).toBe(0)
    expect(log.indexState).toEqual({ generation: 2, from: 0, config: 'b' })
    expect(await all(log.matching([utf8.encode('blue')], { start: 0, end: log.size }))).toEqual(await filter(ledger, 'blue'))
    expect(await rowsIn(1)).toBe(0)
  })

  it('keeps the rows a search reads until it ends', async () => {
    ledger.indexWith(words)
    const log = ledger.log('audit')
    await log.append(entries(0, 3000))
    const expected = await filter(ledger, 'red')
    const search = log.matching([utf8.encode('red')], { start: 0, end: log.size })
    const found = [(await search.next()).value as number]
    const reindex = ledger.reindex('audit')
    for (let turns = 0; log.indexState.generation === 0; turns++) {
      if (turns > 100_000) throw new Error('the reindex never switched')
      await new Promise((resolve) => setImmediate(resolve))
    }
    // The search began on generation 0, which must not be cleared under it: give the clear
    // turns to run, as it would, were it not waiting for the search.
    const last = termKey('audit', 0, utf8.encode('red'), expected.at(-1)!)
    for (let turns = 0; turns < 200 && (await driver.get(last)) !== undefined; turns++) await new Promise((resolve) => setImmediate(resolve))
    for await (const index of search) found.push(index)
    expect(found).toEqual(expected)
    await reindex
    expect(await rowsIn(0)).toBe(0)
  })

  it('leaves the old rows to the next reindex when a search that reads them outlives the ledger', async () => {
    ledger.indexWith(words)
    const log = ledger.log('audit')
    await log.append(entries(0, 600))
    const search = log.matching([utf8.encode('red')], { start: 0, end: log.size })
    await search.next()
    const reindex = ledger.reindex('audit')
    for (let turns = 0; log.indexState.generation === 0; turns++) {
      if (turns > 100_000) throw new Error('the reindex never switched')
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Switched, and waiting for the search to drop generation 0: closing stops the wait.
    await ledger.close()
    expect(await reindex).toBe(600)
    driver = await LevelDriver.open(join(directory, 'db'))
    ledger = await Ledger.open(directory, { originPrefix: 'reindex.test', driver })
    expect(await rowsIn(0)).toBeGreaterThan(0)
    ledger.indexWith(words)
    await ledger.reindex('audit')
    // Generation 2 is built under generation 0's tag, cleared of generation 0's rows first.
    expect(ledger.log('audit').indexState.generation).toBe(2)
    expect(await all(ledger.log('audit').matching([utf8.encode('red')], { start: 0, end: 600 }))).toEqual(await filter(ledger, 'red'))
    expect(await rowsIn(1)).toBe(0)
  })

  it('is stopped by close and resumed after a reopen', async () => {
    const log = ledger.log('audit')
    await log.append(entries(0, 20_000))
    ledger.indexWith(words)
    let closing: Promise<void> | undefined
    const reindex = ledger.reindex('audit', { onProgress: (done) => { if (done > 0) closing ??= ledger.close() } })
    await expect(reindex).rejects.toThrow('the ledger closed')
    await closing
    driver = await LevelDriver.open(join(directory, 'db'))
    ledger = await Ledger.open(directory, { originPrefix: 'reindex.test', driver })
    ledger.indexWith(words)
    const kept = await ledger.reindexProgress('audit')
    expect(kept?.running).toBe(false)
    const resumed: number[] = []
    await ledger.reindex('audit', { onProgress: (done) => resumed.push(done) })
    expect(resumed[0]).toBe(kept!.done)
    expect(await all(ledger.log('audit').matching([utf8.encode('green')], { start: 0, end: 20_000 }))).toEqual(await filter(ledger, 'green'))
  })
})
