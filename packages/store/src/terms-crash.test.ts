// Search terms after kill -9: a child appends under load with an indexer and is SIGKILLed
// while appending; after each kill the ledger is reopened here and every term's rows must equal
// a filter of the log's entries, neither missing an entry nor naming one the log lacks.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'

const KILLS = 3
const WORDS = ['red', 'green', 'blue', 'cyan']
const STORE_DIR = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./testing/terms-child.ts', import.meta.url))
const utf8 = new TextEncoder()
const text = new TextDecoder()

async function all(indexes: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = []
  for await (const index of indexes) out.push(index)
  return out
}

/** Runs the child until it reports a size of at least `size`, then kills it mid-append. */
async function appendAndKill(directory: string, size: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD, directory],
    { cwd: STORE_DIR, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const closed = new Promise((resolve) => child.once('close', resolve))
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if ((JSON.parse(line) as { size: number }).size >= size) break
    }
  } finally {
    child.kill('SIGKILL')
    await closed
  }
  expect(stderr).toBe('')
}

describe('search terms after kill -9', () => {
  let directory: string

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-terms-crash-'))
  })
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true })
  })

  it('equal a filter of the entries after every kill', async () => {
    let size = 0
    for (let kill = 0; kill < KILLS; kill++) {
      await appendAndKill(directory, size + 300)
      const ledger = await Ledger.open(directory)
      try {
        const log = ledger.log('terms')
        expect(log.size).toBeGreaterThan(size)
        size = log.size
        const words = (await log.entries(0, size)).map((entry) => text.decode(entry.data).split(' ').slice(1))
        for (const word of WORDS) {
          const expected = words.flatMap((entryWords, index) => (entryWords.includes(word) ? [index] : []))
          expect(await all(log.matching([utf8.encode(word)], { start: 0, end: Number.MAX_SAFE_INTEGER }))).toEqual(expected)
        }
      } finally {
        await ledger.close()
      }
    }
  })
})
