import { PostgresDriver } from '@annal/storage-postgres'
import { type TestPostgres, startTestPostgres } from '@annal/storage-postgres/testing'
import { Ledger } from '@annal/store'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { testLedger, type TestLedger } from '../testing/ledger.js'

let postgres: TestPostgres
let t: TestLedger

beforeAll(async () => {
  postgres = await startTestPostgres()
}, 180_000)
afterAll(async () => postgres?.stop())
beforeEach(async () => {
  t = await testLedger(['{"n":1}', '{"n":2}', '{"n":3}'])
})
afterEach(async () => t?.remove())

async function run(args: readonly string[]) {
  const io = memoryIo({ cwd: t.cwd })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

describe('annal migrate', () => {
  it('copies the ledger into PostgreSQL, says each log checked, never shows the password', async () => {
    const url = await postgres.database()
    const password = new URL(url).password
    const { code, stdout, stderr } = await run(['migrate', '--to', url])
    expect([code, stderr]).toEqual([0, ''])
    const shown = url.replace(`:${password}@`, ':***@')
    expect(stdout).toBe([
      `copied ${stdout.match(/^copied (\d+) rows/)![1]} rows from ${t.data} to ${shown}`,
      'main: 3 entries, the root at each of 4 checkpoints unchanged',
      `serve it with: annal serve --data ${t.data} --database ${shown}`,
      '',
    ].join('\n'))
    const copy = await Ledger.open(t.data, { driver: await PostgresDriver.open(url) })
    try {
      expect(copy.log('main').size).toBe(3)
    } finally {
      await copy.close()
    }
    const again = await run(['migrate', '--to', url, '--json'])
    expect(again.code).toBe(1)
    expect(again.stderr).toBe(`annal: the database ${shown} holds a ledger already; migrate into an empty database.\n`)
    expect(again.stderr + stdout).not.toContain(password)
  })

  it('needs a postgres URL, exit code 2', async () => {
    for (const args of [['migrate'], ['migrate', '--to', 'mysql://u:p@h/d']]) {
      const { code, stderr } = await run(args)
      expect([code, stderr]).toEqual([2, 'annal: migrate needs --to postgres://user:password@host:port/database.\n'])
    }
  })
})
