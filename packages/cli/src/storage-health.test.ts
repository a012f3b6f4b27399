import { StorageError } from '@annal/storage'
import { expect, it } from 'vitest'
import { storageHealthReporter } from './storage-health.js'

it('says once that the database cannot write, with its directory and the OS error, and once that it can again', () => {
  const lines: string[] = []
  let now = new Date('2026-12-08T09:14:03Z')
  const report = storageHealthReporter('the ledger', '/srv/annal', 'appends', (line) => lines.push(line), () => now)
  const full = Object.assign(new Error('IO error: /srv/annal/db/000005.ldb: No space left on device'), { code: 'LEVEL_IO_ERROR' })
  report({ ok: false, since: now, error: full, recovering: true })
  now = new Date('2026-12-08T09:14:45Z')
  report({ ok: true, since: now })
  report({ ok: false, since: now, error: new StorageError('STORAGE_UNWRITABLE', 'x', { cause: Object.assign(new Error('lost'), { code: 'CORRUPTION' }) }), recovering: false })
  expect(lines).toEqual([
    'annal: the ledger in /srv/annal cannot write: IO error: /srv/annal/db/000005.ldb: No space left on device (ENOSPC). Appends get 503 until it can; it retries by itself.',
    'annal: the ledger in /srv/annal can write again after 42 s; appends are taken again.',
    'annal: the ledger in /srv/annal stays unwritable until restarted: lost (CORRUPTION). Find out why before restarting (docs/operations.md).',
  ])
})
