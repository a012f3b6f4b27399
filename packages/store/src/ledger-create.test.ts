import { mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCheckpoint, parseSignerKey, parseVerifierKey } from '@annal/note'
import { faultCode } from '@annal/storage'
import { smallFilesystem } from '@annal/storage/testing'
import { expect, it } from 'vitest'
import { Ledger, MAX_ORIGIN_BYTES, checkOriginPrefix } from './ledger.js'

// Regression: two concurrent createLog calls for one name both wrote keys/<name>.key; the loser's
// key could end up on disk while the log's row kept the winner's verifier key, so every
// checkpoint signed after a reopen failed verification.
it('lets one of two concurrent createLog calls for a name win, keeping its key file', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-create-'))
  let ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  try {
    const results = await Promise.allSettled([ledger.createLog('audit'), ledger.createLog('audit'), ledger.createLog('audit')])
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ name: 'StoreError', code: 'LOG_EXISTS' })
    }
    const info = ledger.log('audit').info
    const signer = parseSignerKey((await readFile(join(directory, 'keys', 'audit.key'), 'utf8')).trim())
    expect(signer.keyId).toBe(parseVerifierKey(info.verifierKey).keyId)
    await ledger.close()
    ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
    const appended = await ledger.log('audit').append([new TextEncoder().encode('after reopen')])
    expect(openCheckpoint(appended.checkpoint.note, [parseVerifierKey(info.verifierKey)]).size).toBe(1)
    expect((await ledger.fsck('audit')).problems).toEqual([])
  } finally {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  }
})

it('keeps origins unique, valid key names and short, across a reopen', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-origin-'))
  let ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  try {
    await ledger.createLog('pay', { origin: 'example.com/pay' })
    const refused = async (name: string, origin: string, code: string) => {
      await expect(ledger.createLog(name, { origin })).rejects.toMatchObject({ name: 'StoreError', code })
      expect(ledger.logs().map((log) => log.name)).not.toContain(name)
    }
    await refused('other', 'example.com/pay', 'ORIGIN_EXISTS')
    await refused('spaces', 'example.com/a log', 'ORIGIN_INVALID')
    await refused('plus', 'example.com/a+b', 'ORIGIN_INVALID')
    await refused('newline', 'example.com/a\nb', 'ORIGIN_INVALID')
    await refused('long', `example.com/${'x'.repeat(MAX_ORIGIN_BYTES)}`, 'ORIGIN_INVALID')
    // Two creations in flight with one origin: one wins.
    const results = await Promise.allSettled([ledger.createLog('first', { origin: 'o.example/x' }), ledger.createLog('second', { origin: 'o.example/x' })])
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected'])
    const longest = `example.com/${'é'.repeat((MAX_ORIGIN_BYTES - 12) / 2)}`
    await ledger.createLog('longest', { origin: longest })
    await ledger.close()
    ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
    await refused('again', 'example.com/pay', 'ORIGIN_EXISTS')
    expect(ledger.log('longest').info.origin).toBe(longest)
  } finally {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  }
})

it('makes default origins from the origin prefix, which it checks at open', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-prefix-'))
  const longestPrefix = `annal.example.com/${'p'.repeat(MAX_ORIGIN_BYTES - 1 - 63 - 18)}`
  const ledger = await Ledger.open(directory, { originPrefix: longestPrefix })
  try {
    const name = 'n'.repeat(63)
    expect((await ledger.createLog(name)).origin).toBe(`${longestPrefix}/${name}`)
    for (const [prefix, rule] of [
      ['', /not empty/], [`${longestPrefix}p`, /at most 192 bytes/], ['annal.example.com/a b', /no spaces/],
      ['annal.example.com/a+b', /no spaces/], ['https://annal.example.com', /no scheme/], ['annal.example.com/', /does not end in \//],
    ] as const) {
      expect(() => checkOriginPrefix(prefix), prefix).toThrow(rule)
      await expect(Ledger.open(join(directory, 'other'), { originPrefix: prefix }), prefix).rejects.toThrow(RangeError)
    }
  } finally {
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  }
})

it('refuses a log whose key file finds no space with STORAGE_UNWRITABLE, and makes it once there is room', async (ctx) => {
  const filesystem = await smallFilesystem(64 * 1024)
  if ('unavailable' in filesystem) return ctx.skip(filesystem.unavailable)
  const directory = await mkdtemp(join(tmpdir(), 'annal-create-'))
  // The keys directory on the small filesystem, the database beside it on the usual one.
  await symlink(filesystem.directory, join(directory, 'keys'))
  const ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  try {
    const filler = join(filesystem.directory, 'filler')
    await writeFile(filler, new Uint8Array(64 * 1024)).catch(() => undefined)
    const refused = await ledger.createLog('audit').catch((error: unknown) => error)
    expect(refused).toMatchObject({ name: 'StorageError', code: 'STORAGE_UNWRITABLE' })
    expect(faultCode(refused)).toBe('ENOSPC')
    expect(ledger.logs().map((log) => log.name)).toEqual([])
    await unlink(filler)
    const info = await ledger.createLog('audit')
    const appended = await ledger.log('audit').append([new TextEncoder().encode('made')])
    expect(openCheckpoint(appended.checkpoint.note, [parseVerifierKey(info.verifierKey)]).size).toBe(1)
  } finally {
    await ledger.close()
    await filesystem.remove()
    await rm(directory, { recursive: true, force: true })
  }
})
