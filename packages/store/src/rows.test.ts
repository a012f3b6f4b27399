import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { Ledger } from './ledger.js'

const utf8 = new TextEncoder()
let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-rows-'))
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  await ledger.createLog('audit')
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

it('writes a row with its append and only then, reads, lists and deletes rows', async () => {
  const table = ledger.table('receipts')
  await ledger.append([{ log: 'audit', entries: [utf8.encode('one')] }], { rows: [table.row('k1', utf8.encode('v1'))] })
  // A call refused as a whole (an erased object) writes none of its rows.
  const object = await ledger.objects.put(utf8.encode('payload'))
  await ledger.eraseObject(object.hash, { reason: 'test', log: 'audit' })
  const erased = ledger.objects.hashed([{ bytes: utf8.encode('payload') }])
  await expect(ledger.append([{ log: 'audit', entries: [utf8.encode('two')] }], { objects: erased, rows: [table.row('k2', utf8.encode('v2'))] }))
    .rejects.toMatchObject({ code: 'OBJECT_ERASED' })
  expect(await table.get('k2')).toBeUndefined()
  await ledger.append([{ log: 'audit', entries: [utf8.encode('three')] }], { rows: [table.row('k3', utf8.encode('v3'))] })
  // Another table's rows and the logs' own rows are not in the listing.
  await ledger.append([{ log: 'audit', entries: [utf8.encode('four')] }], { rows: [ledger.table('other').row('k1', utf8.encode('x'))] })
  const rows = []
  for await (const [key, value] of table.rows()) rows.push([key, new TextDecoder().decode(value)])
  expect(rows).toEqual([['k1', 'v1'], ['k3', 'v3']])
  await table.delete(['k1', 'absent'])
  expect(await table.get('k1')).toBeUndefined()
  expect(new TextDecoder().decode(await ledger.table('other').get('k1'))).toBe('x')
  await ledger.close()
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  expect(new TextDecoder().decode(await ledger.table('receipts').get('k3'))).toBe('v3')
  expect((await ledger.fsck('audit')).problems).toEqual([])
})

it('refuses bad table names and keys longer than 255 bytes', () => {
  expect(() => ledger.table('Bad')).toThrow(RangeError)
  expect(() => ledger.table('')).toThrow(RangeError)
  expect(() => ledger.table('ok').row('x'.repeat(256), new Uint8Array(1))).toThrow(RangeError)
})

it('finds the checkpoint each append resolved with from any of its entries', async () => {
  const log = ledger.log('audit')
  const appended = await Promise.all([1, 2, 3].map((n) => log.append(Array.from({ length: n }, (_, i) => utf8.encode(`${n}/${i}`)))))
  appended.push(await log.append([utf8.encode('last')]))
  for (const result of appended) {
    for (const { index } of result.entries) {
      expect(await log.firstCheckpointWith(index)).toEqual(result.checkpoint)
    }
  }
  await expect(log.firstCheckpointWith(log.size)).rejects.toMatchObject({ code: 'SIZE_OUT_OF_RANGE' })
})

it('writes and deletes rows without an append, and lists them by key prefix', async () => {
  const table = ledger.table('state')
  await table.write([table.row('a\n1', utf8.encode('x')), table.row('a\n2', utf8.encode('y')), table.row('b\n1', utf8.encode('z'))])
  await table.write([table.row('a\n3', utf8.encode('w'))], ['a\n1'], { sync: false })
  const keys = []
  for await (const [key] of table.rows('a\n')) keys.push(key)
  expect(keys).toEqual(['a\n2', 'a\n3'])
  const keysOnly = []
  for await (const [key, value] of table.rows('a\n', { keysOnly: true })) keysOnly.push([key, value.length])
  expect(keysOnly).toEqual([['a\n2', 0], ['a\n3', 0]])
  expect((await table.getMany(['b\n1', 'a\n1', 'a\n3'])).map((value) => value && new TextDecoder().decode(value))).toEqual(['z', undefined, 'w'])
  expect(await table.getMany([])).toEqual([])
  await ledger.close()
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  expect(new TextDecoder().decode(await ledger.table('state').get('b\n1'))).toBe('z')
})

it('newRow: a call whose new row exists, or an earlier call of its batch writes, is refused whole', async () => {
  const table = ledger.table('once')
  await ledger.append([{ log: 'audit', entries: [utf8.encode('first')] }], { rows: [table.newRow('k', utf8.encode('v1'))] })
  await expect(ledger.append([{ log: 'audit', entries: [utf8.encode('second')] }], { rows: [table.newRow('k', utf8.encode('v2'))] }))
    .rejects.toMatchObject({ code: 'ROW_EXISTS' })
  // Two calls of one batch (submitted together) with the same new row: the first lands.
  const both = await Promise.allSettled(['third', 'fourth'].map((text) =>
    ledger.append([{ log: 'audit', entries: [utf8.encode(text)] }], { rows: [table.newRow('k2', utf8.encode(text))] })))
  expect(both.map((result) => result.status)).toEqual(['fulfilled', 'rejected'])
  // The object of a call refused by its row is not stored, nor its entry appended.
  const object = ledger.objects.hashed([{ bytes: utf8.encode('refused payload') }])
  await expect(ledger.append([{ log: 'audit', entries: [utf8.encode('fifth')] }], { objects: object, rows: [table.newRow('k', utf8.encode('v3'))] }))
    .rejects.toMatchObject({ code: 'ROW_EXISTS' })
  await expect(ledger.objects.info(object[0]!.hash)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' })
  expect(ledger.log('audit').size).toBe(2)
  expect(new TextDecoder().decode(await table.get('k'))).toBe('v1')
  expect(new TextDecoder().decode(await table.get('k2'))).toBe('third')
})
