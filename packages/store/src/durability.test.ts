// A SIGKILL leaves the page cache to the kernel, so the crash test passes whether or not writes
// are synced. Here every LevelDB write is recorded with its `sync` flag, as LevelDB was told it,
// and each acknowledgement is checked against the writes finished when it came.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex } from '@annal/tlog'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { headKey, indexedKey, logRange, objectMetaKey } from './keys.js'
import { Ledger } from './ledger.js'

interface Write {
  readonly keys: string[]
  sync: boolean
  done: boolean
}

const utf8 = new TextEncoder()
let directory: string
let ledger: Ledger
let writes: Write[]

/** Records every batch LevelDB is given, array or chained, with its keys (hex) and `sync`. */
function recordWrites(): Write[] {
  const recorded: Write[] = []
  const batch = Level.prototype.batch as (...args: unknown[]) => unknown
  vi.spyOn(Level.prototype, 'batch').mockImplementation(function (this: Level<Uint8Array, Uint8Array>, ...args: unknown[]) {
    if (args.length > 0) {
      const [ops, options] = args as [{ key: Uint8Array }[], { sync?: boolean } | undefined]
      const write: Write = { keys: ops.map((op) => bytesToHex(op.key)), sync: options?.sync === true, done: false }
      recorded.push(write)
      return (batch.apply(this, args) as Promise<void>).then(() => { write.done = true })
    }
    const chained = batch.call(this) as Record<string, (...a: unknown[]) => unknown>
    const write: Write = { keys: [], sync: false, done: false }
    const wrapper: Record<string, (...a: unknown[]) => unknown> = new Proxy(chained, {
      get(target, property) {
        if (property === 'put' || property === 'del') {
          return (key: Uint8Array, ...rest: unknown[]) => {
            write.keys.push(bytesToHex(key))
            target[property]!(key, ...rest)
            return wrapper
          }
        }
        if (property === 'write') {
          return async (options?: { sync?: boolean }) => {
            write.sync = options?.sync === true
            recorded.push(write)
            await target.write!(options)
            write.done = true
          }
        }
        const value = Reflect.get(target, property, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    return wrapper
  } as never)
  return recorded
}

/**
 * Checks, when an acknowledgement comes, that every write finished so far was synced (the id
 * index's rows excepted: they are rebuilt from the entries on open) and that the rows named by
 * `needed` (key prefixes, hex) were among them.
 */
function expectSynced(what: string, needed: readonly Uint8Array[]): void {
  const unsynced = [logRange('id', 'audit').gte, indexedKey('audit'), logRange('id', 'shadow').gte, indexedKey('shadow')]
    .map(bytesToHex)
  const finished = writes.filter((write) => write.done)
  for (const write of finished) {
    const rows = write.keys.filter((key) => !unsynced.some((prefix) => key.startsWith(prefix)))
    if (rows.length > 0) expect(write.sync, `${what}: a write of ${rows.length} rows was not synced`).toBe(true)
  }
  for (const prefix of needed.map(bytesToHex)) {
    expect(finished.some((write) => write.sync && write.keys.some((key) => key.startsWith(prefix))),
      `${what}: no synced write of ${prefix} had finished`).toBe(true)
  }
}

/** The rows an append to `log` rests on: its head, entries (bundles), tiles and checkpoints. */
const appendRows = (log: string) => [headKey(log), ...(['bundlePart', 'leafTilePart', 'checkpoint'] as const).map((kind) => logRange(kind, log).gte)]

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-durability-'))
  writes = recordWrites()
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  await ledger.createLog('audit')
  await ledger.createLog('shadow')
})

afterEach(async () => {
  await ledger.close()
  vi.restoreAllMocks()
  await rm(directory, { recursive: true, force: true })
})

describe('an acknowledged write', () => {
  it('is synced before an append resolves, alone or pipelined, in one log or several', async () => {
    const log = ledger.log('audit')
    const entries = (from: number, count: number) => Array.from({ length: count }, (_, i) => utf8.encode(`event ${from + i}`))
    await log.append(entries(0, 3))
    expectSynced('one append', appendRows('audit'))
    // Past a tile: full tiles and bundles are written too.
    await log.append(entries(3, 300))
    expectSynced('an append that fills a tile', [...appendRows('audit'), logRange('tile', 'audit').gte, logRange('bundle', 'audit').gte])
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(entries(1000 + i, 1)).then(() => expectSynced(`pipelined append ${i}`, appendRows('audit')))))
    const [object] = ledger.objects.hashed([{ bytes: utf8.encode('payload') }])
    await ledger.append([{ log: 'audit', entries: entries(2000, 1) }, { log: 'shadow', entries: entries(2000, 1) }], { objects: [object!] })
    expectSynced('an append to two logs with an object', [...appendRows('audit'), ...appendRows('shadow'), objectMetaKey(object!.digest)])
  })

  it('is synced before an object is acknowledged', async () => {
    const [stored] = await ledger.objects.putMany([{ bytes: utf8.encode('an object alone') }])
    const [object] = ledger.objects.hashed([{ bytes: utf8.encode('an object alone') }])
    expect(stored!.hash).toBe(object!.hash)
    expectSynced('an object', [objectMetaKey(object!.digest)])
  })
})
