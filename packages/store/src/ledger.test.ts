import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCheckpoint, parseVerifierKey } from '@annal/note'
import {
  MemoryTree, TILE_WIDTH, bytesToHex, decodeEntryBundle, defaultHasher, hexToBytes, verifyConsistency, verifyInclusion,
} from '@annal/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import type { HashedObject } from './objects.js'

const utf8 = new TextEncoder()
const code = (code: string, name = 'StoreError') => expect.objectContaining({ name, code })
const event = (i: number) => utf8.encode(JSON.stringify({ actor: `user-${i % 7}`, action: 'login', n: i }))

let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-store-'))
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

describe('Ledger', () => {
  it('creates logs with a 0600 key and a signed empty checkpoint', async () => {
    const info = await ledger.createLog('audit')
    expect(info.origin).toBe('test.example/audit')
    expect((await stat(join(directory, 'keys', 'audit.key'))).mode & 0o777).toBe(0o600)
    const verifier = parseVerifierKey(info.verifierKey)
    const checkpoint = openCheckpoint(await ledger.log('audit').checkpoint(), [verifier])
    expect(checkpoint.size).toBe(0)
    expect(checkpoint.rootHash).toEqual(defaultHasher.emptyRoot)
    expect(JSON.stringify(ledger.logs())).not.toContain('PRIVATE')
  })

  it('refuses bad and duplicate names and unknown logs', async () => {
    await ledger.createLog('audit')
    await expect(ledger.createLog('audit')).rejects.toThrow(code('LOG_EXISTS'))
    for (const name of ['', 'Audit', '-x', 'a'.repeat(64), 'a/b', 'a b']) {
      await expect(ledger.createLog(name)).rejects.toThrow(code('LOG_NAME_INVALID'))
    }
    expect(() => ledger.log('nope')).toThrow(code('LOG_NOT_FOUND'))
  })

  it('appends concurrently, and its roots and proofs agree with tlog, across reopening', async () => {
    const info = await ledger.createLog('audit')
    const verifier = parseVerifierKey(info.verifierKey)
    const log = ledger.log('audit')
    const reference = new MemoryTree(defaultHasher)
    const results = await Promise.all(Array.from({ length: 700 }, (_, i) => log.append([event(i)])))
    const byIndex = new Map(results.map((result, i) => [result.entries[0]!.index, i]))
    for (let index = 0; index < 700; index++) reference.append(defaultHasher.leaf(event(byIndex.get(index)!)))
    expect(log.size).toBe(700)
    const latest = openCheckpoint(await log.checkpoint(), [verifier])
    expect(latest.rootHash).toEqual(reference.root())
    for (const result of results) {
      const cp = openCheckpoint(result.checkpoint.note, [verifier])
      expect(cp.size).toBeGreaterThan(result.entries[0]!.index)
      const proof = await log.inclusionProof(result.entries[0]!.index, cp.size)
      verifyInclusion(proof.index, cp.size, hexToBytes(result.entries[0]!.id), proof.proof, cp.rootHash)
    }
    await ledger.close()
    ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
    const reopened = ledger.log('audit')
    expect(reopened.size).toBe(700)
    await reopened.append([event(10_000)])
    reference.append(defaultHasher.leaf(event(10_000)))
    for (const [m, n] of [[1, 701], [256, 701], [300, 600], [700, 701]] as const) {
      const mRoot = m === 700 ? reference.root(700) : reference.root(m)
      verifyConsistency(m, n, await reopened.consistencyProof(m, n), mRoot, reference.root(n))
      expect((await reopened.consistencyProof(m, n)).map(bytesToHex)).toEqual(reference.consistencyProof(m, n).map(bytesToHex))
    }
    for (const index of [0, 255, 256, 699, 700]) {
      expect((await reopened.inclusionProof(index, 701)).proof).toEqual(reference.inclusionProof(index, 701))
    }
  })

  it('keeps every checkpoint, serves C2SP tiles and bundles', async () => {
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const sizes: number[] = []
    for (let batch = 0; batch < 5; batch++) {
      const result = await log.append(Array.from({ length: 130 }, (_, i) => event(batch * 130 + i)))
      sizes.push(result.checkpoint.size)
    }
    expect(sizes).toEqual([130, 260, 390, 520, 650])
    for (const size of sizes) expect(await log.checkpoint(size)).toContain(`\n${size}\n`)
    await expect(log.checkpoint(131)).rejects.toThrow(code('SIZE_OUT_OF_RANGE', 'TlogError'))
    const tree = new MemoryTree()
    for (let i = 0; i < 650; i++) tree.append(defaultHasher.leaf(event(i)))
    const tile = await log.hashTile(0, 1, 256)
    expect(tile.length).toBe(8192)
    expect(tile.subarray(0, 32)).toEqual(tree.nodeHash({ level: 0, index: 256 }))
    expect((await log.hashTile(0, 2, 100)).length).toBe(3200)
    await expect(log.hashTile(0, 2, 139)).rejects.toThrow(code('SIZE_OUT_OF_RANGE', 'TlogError'))
    const bundle = decodeEntryBundle(await log.entryBundle(2, 10))
    expect(bundle).toHaveLength(10)
    expect(bundle[3]).toEqual(event(2 * TILE_WIDTH + 3))
  })

  it('stores the open tiles of every level past 256^2 entries: they reopen, and fsck finds them intact', async () => {
    await ledger.createLog('audit')
    const sizes = [255, 256, 300, 65_535, 65_536, 65_600, 65_900]
    let size = 0
    for (const next of sizes) {
      await ledger.log('audit').append(Array.from({ length: next - size }, (_, i) => utf8.encode(String(size + i))))
      size = next
      if (next === 65_536 || next === 65_900) {
        await ledger.close()
        ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
      }
    }
    const tree = new MemoryTree()
    tree.appendMany(Array.from({ length: size }, (_, i) => defaultHasher.leaf(utf8.encode(String(i)))))
    expect(ledger.log('audit').checkpointInfo.root).toBe(bytesToHex(tree.root()))
    // Level 2's open tile (index 0, width 1) holds the root of the first 65,536-leaf subtree.
    expect(await ledger.log('audit').hashTile(2, 0, 1)).toEqual(tree.nodeHash({ level: 16, index: 0 }))
    const report = await ledger.fsck('audit')
    expect(report.problems).toEqual([])
  })

  it('deduplicates, within a call and across calls, writing nothing', async () => {
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const first = await log.append([event(1), event(2), event(1)])
    expect(first.entries.map((e) => [e.index, e.duplicate])).toEqual([[0, false], [1, false], [0, true]])
    const again = await log.append([event(2)])
    expect(again.entries[0]).toEqual({ index: 1, id: first.entries[1]!.id, duplicate: true })
    expect(again.checkpoint.size).toBe(2)
    expect(log.size).toBe(2)
  })

  it('deduplicates across pipelined batches: one index per id, whatever the interleaving', async () => {
    await ledger.close()
    // Batches of two single-entry calls cycling through three entries: every batch repeats an
    // entry of the batch just before it, whose write may not have landed when its lookups ran.
    ledger = await Ledger.open(directory, { originPrefix: 'test.example', maxBatchSize: 2 })
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const calls = Array.from({ length: 90 }, (_, i) => log.append([event(i % 3)]))
    const results = (await Promise.all(calls)).flatMap((result) => result.entries)
    const indexById = new Map<string, number>()
    for (const entry of results) {
      expect(indexById.get(entry.id) ?? entry.index).toBe(entry.index)
      indexById.set(entry.id, entry.index)
    }
    expect(log.size).toBe(3)
    expect(results.filter((entry) => !entry.duplicate)).toHaveLength(3)
    for (const [id, index] of indexById) expect((await log.entry(index)).id).toBe(id)
  })

  it('looks entries up by index, id and abbreviated id', async () => {
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const { entries } = await log.append(Array.from({ length: 600 }, (_, i) => event(i)))
    const target = entries[417]!
    expect((await log.entry(417)).data).toEqual(event(417))
    expect((await log.entry(target.id)).index).toBe(417)
    // With 600 random ids, 6 hex digits are unique with high probability; find a truly unique one.
    let prefix = target.id.slice(0, 4)
    while (entries.filter((e) => e.id.startsWith(prefix)).length > 1) prefix = target.id.slice(0, prefix.length + 1)
    expect((await log.entry(prefix)).index).toBe(417)
    const shared = entries.find((e, i) => i !== 417 && e.id.slice(0, 4) === entries.find((f, j) => j !== i && f.id.slice(0, 4) === e.id.slice(0, 4))?.id.slice(0, 4))
    // The entries are fixed, so these exist in every run: assert it rather than skip silently.
    expect(shared).toBeDefined()
    await expect(log.entry(shared!.id.slice(0, 4))).rejects.toThrow(code('ID_AMBIGUOUS'))
    const absent = ['ffff', '0000', 'abcd', '1234'].find((prefix) => !entries.some((e) => e.id.startsWith(prefix)))
    expect(absent).toBeDefined()
    await expect(log.entry(absent!)).rejects.toThrow(code('ENTRY_NOT_FOUND'))
    for (const bad of ['abc', 'ABCD', 'xyz1', 'a'.repeat(65)]) await expect(log.entry(bad)).rejects.toThrow(code('ID_MALFORMED'))
    await expect(log.entry(600)).rejects.toThrow(code('SIZE_OUT_OF_RANGE', 'TlogError'))
    await expect(log.entry(-1)).rejects.toThrow(code('SIZE_OUT_OF_RANGE', 'TlogError'))
    expect((await log.entries(598, 10)).map((e) => e.index)).toEqual([598, 599])
  })

  it('rejects a call with one bad entry before sequencing any of it', async () => {
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    await expect(log.append([event(1), new Uint8Array(0)])).rejects.toThrow(code('ENTRY_EMPTY'))
    await expect(log.append([event(1), new Uint8Array(65536)])).rejects.toThrow(code('ENTRY_TOO_LARGE'))
    expect(log.size).toBe(0)
  })

  it('appends to several logs in one call: each part as Log.append would, batched with other calls', async () => {
    const [a, b] = [await ledger.createLog('events'), await ledger.createLog('records')]
    await ledger.log('events').append([event(-1)])
    const calls = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      ledger.append([{ log: 'events', entries: [event(i)] }, { log: 'records', entries: [event(1000 + i), event(2000 + i)] }])))
    const [events, records] = [ledger.log('events'), ledger.log('records')]
    expect([events.size, records.size]).toEqual([41, 80])
    for (const [i, [onEvents, onRecords]] of calls.entries()) {
      expect((await events.entry(onEvents!.entries[0]!.index)).data).toEqual(event(i))
      expect(await Promise.all(onRecords!.entries.map(async ({ index }) => (await records.entry(index)).data)))
        .toEqual([event(1000 + i), event(2000 + i)])
      // Each part's checkpoint is its own log's, and includes the part.
      for (const [info, result] of [[a, onEvents!], [b, onRecords!]] as const) {
        const checkpoint = openCheckpoint(result.checkpoint.note, [parseVerifierKey(info.verifierKey)])
        expect(checkpoint.size).toBe(result.checkpoint.size)
        expect(result.entries.every(({ index }) => index < checkpoint.size)).toBe(true)
      }
    }
    // Concurrent calls were gathered: far fewer checkpoints than calls.
    let checkpoints = 0
    for (let size = 1; size <= 80; size++) if (await records.checkpoint(size).then(() => true, () => false)) checkpoints++
    expect(checkpoints).toBeLessThan(40)
    expect((await ledger.fsck('events')).ok).toBe(true)
    expect((await ledger.fsck('records')).ok).toBe(true)
  })

  it('refuses a multi-log call with a bad part whole: no part is appended', async () => {
    await ledger.createLog('events')
    await ledger.createLog('records')
    const good = { log: 'events', entries: [event(1)] }
    await expect(ledger.append([good, { log: 'nope', entries: [event(2)] }])).rejects.toThrow(code('LOG_NOT_FOUND'))
    await expect(ledger.append([good, { log: 'records', entries: [new Uint8Array(0)] }])).rejects.toThrow(code('ENTRY_EMPTY'))
    await expect(ledger.append([good, { log: 'events', entries: [event(2)] }])).rejects.toThrow(TypeError)
    await expect(ledger.append([])).rejects.toThrow(TypeError)
    expect([ledger.log('events').size, ledger.log('records').size]).toEqual([0, 0])
  })

  it('stores objects in the same call as entries; a call with erased bytes is refused whole, the others in its batch land', async () => {
    await ledger.createLog('events')
    await ledger.createLog('records')
    const secret = await ledger.objects.put(utf8.encode('secret'))
    await ledger.eraseObject(secret.hash, { reason: 'request 9', log: 'records' })
    const before = [ledger.log('events').size, ledger.log('records').size]
    const call = (i: number, payload: string) => {
      const objects = ledger.objects.hashed([{ bytes: utf8.encode(payload), contentType: 'text/plain' }])
      return ledger.append([{ log: 'events', entries: [event(i)] }, { log: 'records', entries: [event(100 + i)] }], { objects })
    }
    const [first, refused, last] = await Promise.allSettled([call(1, 'one'), call(2, 'secret'), call(3, 'three')])
    expect(first.status).toBe('fulfilled')
    expect(refused).toMatchObject({ status: 'rejected', reason: code('OBJECT_ERASED') })
    expect(last.status).toBe('fulfilled')
    expect([ledger.log('events').size, ledger.log('records').size]).toEqual([before[0]! + 2, before[1]! + 2])
    expect((await ledger.log('events').entries(before[0]!, 2)).map((entry) => entry.data)).toEqual([event(1), event(3)])
    for (const payload of ['one', 'three']) {
      const { hash } = ledger.objects.hashed([{ bytes: utf8.encode(payload) }])[0]!
      expect(await ledger.objects.info(hash)).toMatchObject({ size: payload.length, contentType: 'text/plain' })
    }
    await expect(ledger.objects.get(secret.hash)).rejects.toThrow(code('OBJECT_ERASED'))
    expect((await ledger.fsck('events')).ok).toBe(true)
    // A digest is only taken from objects.hashed: a hand-made one could file bytes under another hash.
    const forged = { bytes: utf8.encode('x'), contentType: undefined, digest: new Uint8Array(32), hash: `sha256:${'0'.repeat(64)}` } as unknown as HashedObject
    await expect(ledger.append([{ log: 'events', entries: [event(9)] }], { objects: [forged] })).rejects.toThrow(TypeError)
    expect(ledger.log('events').size).toBe(before[0]! + 2)
  })

  it('refuses a second open of the same directory', async () => {
    await expect(Ledger.open(directory)).rejects.toThrow(code('DATABASE_LOCKED', 'StorageError'))
  })

  it('stores objects once and erases them with a recorded entry, proofs intact', async () => {
    await ledger.createLog('audit')
    const log = ledger.log('audit')
    const payload = utf8.encode('{"ssn":"123-45-6789"}')
    const stored = await ledger.objects.put(payload)
    expect(await ledger.objects.put(payload)).toEqual({ ...stored, duplicate: true })
    const envelope = utf8.encode(JSON.stringify({ object: stored.hash }))
    const appended = await log.append([envelope])
    const erased = await ledger.eraseObject(stored.hash, { reason: 'GDPR request 42', log: 'audit' })
    expect(erased.erasure).toMatchObject({ reason: 'GDPR request 42', log: 'audit', index: 1 })
    await expect(ledger.objects.get(stored.hash)).rejects.toThrow(code('OBJECT_ERASED'))
    await expect(ledger.objects.put(payload)).rejects.toThrow(code('OBJECT_ERASED'))
    const record = JSON.parse(new TextDecoder().decode((await log.entry(1)).data))
    expect(record).toMatchObject({ type: 'annal.erasure/v1', object: stored.hash, reason: 'GDPR request 42', erased_at: erased.erasure!.erasedAt })
    expect(Object.keys(record).sort()).toEqual(['erased_at', 'object', 'reason', 'type'])
    const proof = await log.inclusionProof(0)
    const cp = openCheckpoint(await log.checkpoint(), [parseVerifierKey(log.info.verifierKey)])
    verifyInclusion(0, cp.size, hexToBytes(appended.entries[0]!.id), proof.proof, cp.rootHash)
    await expect(ledger.objects.get(`sha256:${'0'.repeat(64)}`)).rejects.toThrow(code('OBJECT_NOT_FOUND'))
    await expect(ledger.objects.get('sha256:XYZ')).rejects.toThrow(code('ID_MALFORMED'))
  })

  it('runs beforeWrite after every check and before any write: if it throws, nothing is created or erased', async () => {
    const refuse = () => Promise.reject(new Error('record refused'))
    const calls: string[] = []
    const note = (what: string) => async () => {
      calls.push(what)
    }
    await expect(ledger.createLog('Bad Name', { beforeWrite: note('bad name') })).rejects.toThrow(code('LOG_NAME_INVALID'))
    await expect(ledger.createLog('audit', { beforeWrite: refuse })).rejects.toThrow('record refused')
    expect(ledger.logs().map((log) => log.name)).not.toContain('audit')
    // Nothing was left behind: the name is free, and the log is made whole on the next try.
    await ledger.createLog('audit', { beforeWrite: note('create') })
    await expect(ledger.createLog('audit', { beforeWrite: note('exists') })).rejects.toThrow(code('LOG_EXISTS'))
    const stored = await ledger.objects.put(utf8.encode('{"email":"bob@example.com"}'))
    await expect(ledger.eraseObject(`sha256:${'0'.repeat(64)}`, { reason: 'r', log: 'audit', beforeWrite: note('unknown object') }))
      .rejects.toThrow(code('OBJECT_NOT_FOUND'))
    await expect(ledger.eraseObject(stored.hash, { reason: 'r', log: 'nope', beforeWrite: note('unknown log') }))
      .rejects.toThrow(code('LOG_NOT_FOUND'))
    await expect(ledger.eraseObject(stored.hash, { reason: 'r', log: 'audit', beforeWrite: refuse })).rejects.toThrow('record refused')
    expect(ledger.log('audit').size).toBe(0)
    expect(await ledger.objects.get(stored.hash)).toEqual(utf8.encode('{"email":"bob@example.com"}'))
    const erased = await ledger.eraseObject(stored.hash, { reason: 'r', log: 'audit', requestId: 'req-7', beforeWrite: note('erase') })
    expect(erased.erasure).toMatchObject({ log: 'audit', index: 0 })
    expect(JSON.parse(new TextDecoder().decode((await ledger.log('audit').entry(0)).data))).toMatchObject({ request_id: 'req-7' })
    await ledger.eraseObject(stored.hash, { reason: 'r', log: 'audit', beforeWrite: note('again') })
    expect(calls).toEqual(['create', 'erase'])
  })
})
