import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger, type TableRow } from '@annal/store'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { GovernanceState, type SetMemory } from './governance-state.js'

let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-governance-'))
  ledger = await Ledger.open(directory)
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

const write = (rows: TableRow[]) => ledger.table('governance').write(rows)

async function keptRows(): Promise<string[]> {
  const keys: string[] = []
  for await (const [key] of ledger.table('governance').rows('set:')) keys.push(key)
  return keys.sort()
}

it('keeps at most maxKept SET ids, refusing SETs as old as those let go, across a reload', async () => {
  const memory: SetMemory = { oldestAccepted: () => 0, maxKept: 10 }
  let state = await GovernanceState.load(ledger, () => new Date(), memory)
  for (let i = 1; i <= 10; i++) await state.change({ set: { key: `k${i}`, iat: 1000 + i } }, write)
  expect([state.setsKept, state.forgotten(1001)]).toEqual([10, false])
  await state.change({ set: { key: 'k11', iat: 1011 } }, write)
  // The oldest tenth went, and SETs issued at or before it are refused from now on.
  expect([state.setsKept, state.received('k1'), state.received('k2'), state.received('k11')]).toEqual([10, false, true, true])
  expect([state.forgotten(1001), state.forgotten(1002)]).toEqual([true, false])
  expect(await keptRows()).toHaveLength(10)
  expect(await keptRows()).not.toContain('set:k1')

  state = await GovernanceState.load(ledger, () => new Date(), memory)
  expect([state.setsKept, state.received('k1'), state.received('k2'), state.forgotten(1001), state.forgotten(1002)])
    .toEqual([10, false, true, true, false])
  // Past the window at load: ids of SETs verifySet would refuse are let go.
  state = await GovernanceState.load(ledger, () => new Date(), { ...memory, oldestAccepted: () => 1006 })
  expect(state.setsKept).toBe(6)
  expect(await keptRows()).toEqual(['set:k10', 'set:k11', 'set:k6', 'set:k7', 'set:k8', 'set:k9'])
})
