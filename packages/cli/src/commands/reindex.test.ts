import { Ledger } from '@annal/store'
import { searchTerm } from '@annal/server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { testLedger, type TestLedger } from '../testing/ledger.js'

let t: TestLedger

beforeEach(async () => {
  // Appended by the store alone, so without search terms until reindexed.
  t = await testLedger(['alice', 'bob', 'alice'].map((sub, n) => JSON.stringify({ actor: { sub }, n })))
})
afterEach(async () => t?.remove())

async function run(args: readonly string[]) {
  const io = memoryIo({ cwd: t.cwd })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

async function subIndexes(sub: string): Promise<number[]> {
  const ledger = await Ledger.open(t.data)
  try {
    const found: number[] = []
    for await (const index of ledger.log('main').matching([searchTerm('sub', sub)], { start: 0, end: 100 })) found.push(index)
    return found
  } finally {
    await ledger.close()
  }
}

describe('annal reindex', () => {
  it('builds the search terms of entries appended without them', async () => {
    expect(await subIndexes('alice')).toEqual([])
    const { code, stdout, stderr } = await run(['reindex'])
    expect([code, stderr]).toEqual([0, ''])
    expect(stdout).toBe('main: reindexed 3 entries\n')
    expect(await subIndexes('alice')).toEqual([0, 2])
    const json = await run(['reindex', 'main', '--json'])
    expect(JSON.parse(json.stdout)).toEqual({ logs: [{ log: 'main', entries: 3 }] })
  })

  it('names the logs there are when asked for another', async () => {
    const { code, stderr } = await run(['reindex', 'nope'])
    expect(code).toBe(2)
    expect(stderr).toContain('its logs are main')
  })
})
