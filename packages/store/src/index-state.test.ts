import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDriver } from '@annal/storage'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import { UNCOVERED } from './index-state.js'
import { indexStateKey } from './keys.js'

const utf8 = new TextEncoder()
const entries = (from: number, count: number) => Array.from({ length: count }, (_, i) => utf8.encode(`entry ${from + i}`))
const indexer = () => ({ terms: [utf8.encode('entry')] })

describe('a log\'s index state', () => {
  let directory: string
  let ledger: Ledger

  const open = async (indexed: boolean) => {
    await ledger?.close()
    ledger = await Ledger.open(directory, { originPrefix: 'state.test' })
    if (indexed) ledger.indexWith(indexer)
    return ledger.log('audit')
  }

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-index-state-'))
    ledger = await Ledger.open(directory, { originPrefix: 'state.test' })
    await ledger.createLog('audit')
  })
  afterEach(async () => {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  })

  it('covers the entries appended with an indexer after the last appended without one, across reopens', async () => {
    expect(ledger.log('audit').indexState).toEqual({ generation: 0, from: 0 })
    let log = await open(true)
    await log.append(entries(0, 3))
    expect(log.indexState.from).toBe(0)
    log = await open(false)
    await log.append(entries(3, 2))
    await log.append(entries(5, 2))
    expect(log.indexState.from).toBe(UNCOVERED)
    log = await open(true)
    expect(log.indexState.from).toBe(UNCOVERED)
    await log.append(entries(7, 1))
    expect(log.indexState.from).toBe(7)
    log = await open(true)
    expect(log.indexState.from).toBe(7)
    await ledger.reindex('audit')
    expect(log.indexState).toMatchObject({ generation: 1, from: 0 })
  })

  it('covers none of a log kept before it had one', async () => {
    await ledger.log('audit').append(entries(0, 4))
    await ledger.close()
    const driver = await LevelDriver.open(join(directory, 'db'))
    await driver.write([{ type: 'del', key: indexStateKey('audit') }], { sync: true })
    ledger = await Ledger.open(directory, { originPrefix: 'state.test', driver })
    ledger.indexWith(indexer)
    expect(ledger.log('audit').indexState.from).toBe(UNCOVERED)
    await ledger.log('audit').append(entries(4, 1))
    expect(ledger.log('audit').indexState.from).toBe(4)
  })
})
