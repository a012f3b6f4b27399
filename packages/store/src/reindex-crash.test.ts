// An online reindex after kill -9: a child appends under load while it reindexes its log over
// and over, and is SIGKILLed in the middle of a reindex, at its last write, or between two.
// After each kill the ledger is reopened here: the index must equal a filter of the log's
// entries over what it covers, and the reindex, resumed where it was (or started over), must
// leave it covering the whole log, with nothing left of the generation it replaced.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { LevelDriver } from '@annal/storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import { allTermsRange } from './keys.js'
import type { EntryIndexer } from './terms.js'

const LOG = 'reindex'
const WORDS = ['red', 'green', 'blue', 'cyan']
const STORE_DIR = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./testing/reindex-child.ts', import.meta.url))
const utf8 = new TextEncoder()
const text = new TextDecoder()
/** As the child's. */
const indexer: EntryIndexer = (_log, bytes) => {
  const [, time, ...words] = text.decode(bytes).split(' ')
  return { terms: words.map((word) => utf8.encode(word)), time: Number(time) }
}

type Moment = 'amid a reindex' | 'at its last write' | 'between two'

interface Line {
  size?: number
  done?: number
  total?: number
  reindexed?: boolean
}

async function all(indexes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = []
  for await (const index of indexes) out.push(index)
  return out
}

/** Runs the child until its log has grown past `size` and it reaches `moment`, then kills it. */
async function killAt(directory: string, size: number, moment: Moment): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD, directory],
    { cwd: STORE_DIR, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const closed = new Promise((resolve) => child.once('close', resolve))
  let grown = false
  try {
    for await (const text of createInterface({ input: child.stdout })) {
      const line = JSON.parse(text) as Line
      grown ||= (line.size ?? 0) >= size
      if (!grown) continue
      if (moment === 'amid a reindex' && line.done !== undefined && line.done > 0 && line.done < line.total!) break
      if (moment === 'at its last write' && line.done !== undefined && line.done === line.total) break
      if (moment === 'between two' && line.reindexed === true) break
    }
  } finally {
    child.kill('SIGKILL')
    await closed
  }
  expect(stderr).toBe('')
}

/** Each word's index rows, and the time index's answer for a few windows, against the entries from `from` on. */
async function expectIndexed(ledger: Ledger, from: number): Promise<void> {
  const log = ledger.log(LOG)
  const entries = (await log.entries(0, log.size)).map((entry) => text.decode(entry.data).split(' '))
  for (const word of WORDS) {
    const expected = entries.flatMap((words, index) => (index >= from && words.slice(2).includes(word) ? [index] : []))
    const found = await all(log.matching([utf8.encode(word)], { start: from, end: log.size }))
    expect(found).toEqual(expected)
  }
  const times = entries.map((words) => Number(words[1]))
  for (const at of [0.1, 0.5, 0.9]) {
    const window = { from: times[Math.floor(times.length * at)]!, to: times[Math.floor(times.length * at)]! + 50 }
    const found = new Set(await all(log.matching([], { start: from, end: log.size }, window)))
    const missed = times.findIndex((time, index) => index >= from && time >= window.from && time < window.to && !found.has(index))
    expect(missed).toBe(-1)
  }
}

describe('an online reindex after kill -9', () => {
  let directory: string

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-reindex-crash-'))
  })
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true })
  })

  let size = 0
  for (const moment of ['amid a reindex', 'at its last write', 'between two'] as const) {
    it(`keeps the index equal to the log, killed ${moment}, and resumes it`, async () => {
      await killAt(directory, size + 200, moment)
      const driver = await LevelDriver.open(join(directory, 'db'))
      const ledger = await Ledger.open(directory, { originPrefix: 'reindex.test', driver })
      try {
        const log = ledger.log(LOG)
        expect(log.size).toBeGreaterThan(size)
        size = log.size
        const state = log.indexState
        await expectIndexed(ledger, state.from)
        ledger.indexWith(indexer)
        const kept = await ledger.reindexProgress(LOG)
        const progress: number[] = []
        await ledger.reindex(LOG, { config: 'words', onProgress: (done) => progress.push(done) })
        // Resumed where it was, or (cut short before it began) started over.
        expect(progress[0]).toBe(kept?.done ?? 0)
        const after = log.indexState
        expect(after).toMatchObject({ from: 0, config: 'words' })
        expect(after.build).toBeUndefined()
        await expectIndexed(ledger, 0)
        let left = 0
        for await (const _ of driver.range({ ...allTermsRange(LOG, after.generation + 1), keysOnly: true })) left++
        expect(left).toBe(0)
      } finally {
        await ledger.close()
      }
    })
  }
})
