import { join } from 'node:path'
import { LevelDriver } from '@annal/storage'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { testLedger, type TestLedger } from '../testing/ledger.js'

let t: TestLedger

beforeEach(async () => {
  t = await testLedger(Array.from({ length: 5 }, (_, i) => `{"event":${i}}`))
})

afterEach(async () => {
  await t?.remove()
})

async function run(args: readonly string[]) {
  const io = memoryIo({ cwd: t.cwd })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

/**
 * Flips a bit in the checkpoint log `main` signed at `size`, in the database itself. The row's
 * key is the store's layout (packages/store/src/keys.ts): 'C', the log name, 0, the size as 8
 * big-endian bytes.
 */
async function damageCheckpoint(size: number): Promise<void> {
  const key = new Uint8Array([0x43, ...new TextEncoder().encode('main'), 0, 0, 0, 0, 0, 0, 0, 0, size])
  const driver = await LevelDriver.open(join(t.data, 'db'))
  try {
    const note = (await driver.get(key))!
    note[note.length - 10]! ^= 1
    await driver.write([{ type: 'put', key, value: note }], { sync: true })
  } finally {
    await driver.close()
  }
}

describe('annal fsck', () => {
  it('checks every log and prints what it counted', async () => {
    const { code, stdout, stderr } = await run(['fsck'])
    expect([code, stderr]).toEqual([0, ''])
    expect(stdout).toBe('main: ok at size 5 (entries 5, tiles 1, checkpoints 6, index rows 5)\n')
    const json = await run(['fsck', 'main', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, logs: [expect.objectContaining({ log: 'main', size: 5, ok: true, problems: [] })] })
  })

  it('exits 1 and lists the problems it finds', async () => {
    await damageCheckpoint(2)
    const { code, stdout, stderr } = await run(['fsck'])
    expect(code).toBe(1)
    expect(stdout).toMatch(/^main: 1 problem at size 5 \(.*\)\n {2}checkpoint 2: .+\n$/)
    expect(stderr).toBe("annal: fsck found 1 problem in main; see the list above.\n")
    const json = await run(['fsck', '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, logs: [{ log: 'main', problems: [{ kind: 'checkpoint', location: 'checkpoint 2' }] }] })
  })

  it('exits 2 for a log the ledger does not have', async () => {
    const { code, stderr } = await run(['fsck', 'nope'])
    expect([code, stderr]).toEqual([2, 'annal: the ledger has no log "nope"; its logs are main.\n'])
  })
})
