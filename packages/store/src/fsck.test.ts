import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseSignerKey, signCheckpoint } from '@annal/note'
import { TreeEdge, bytesToHex, decodeEntryBundle, defaultHasher, encodeEntryBundle } from '@annal/tlog'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FsckProgress, FsckReport } from './fsck.js'
import {
  bundleKey, bundlePartKey, bundlePartsRange, checkpointKey, headKey, idKey, leafTilePartKey, leafTilePartsRange, tileKey, uint64,
} from './keys.js'
import { Ledger } from './ledger.js'

const utf8 = new TextEncoder()
const text = new TextDecoder()
const event = (i: number) => utf8.encode(JSON.stringify({ actor: `user-${i % 7}`, action: 'login', n: i }))
const leafHash = (i: number) => defaultHasher.leaf(event(i))
const code = (code: string) => expect.objectContaining({ name: 'StoreError', code })

// Five batches of 130: checkpoints at 0, 130, 260, 390, 520 and 650; bundles 0 and 1 are full,
// bundle 2 holds 138 entries; tiles 0/0 and 0/1 are full, 0/2 (width 138) and 1/0 (width 2) open.
const SIZE = 650
const CHECKPOINTS = [0, 130, 260, 390, 520, 650]

type Db = Level<Uint8Array, Uint8Array>

let directory: string
let ledger: Ledger | undefined

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-fsck-'))
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  await ledger.createLog('audit')
  for (let batch = 0; batch < 5; batch++) {
    await ledger.log('audit').append(Array.from({ length: 130 }, (_, i) => event(batch * 130 + i)))
  }
})

afterEach(async () => {
  await ledger?.close()
  await rm(directory, { recursive: true, force: true })
})

/** Closes the ledger, changes the raw database, and reopens the ledger. */
async function tamper(change: (db: Db) => Promise<void>): Promise<void> {
  await ledger!.close()
  ledger = undefined
  const db: Db = new Level(join(directory, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  try {
    await change(db)
  } finally {
    await db.close()
  }
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
}

/** Replaces the value at `key` with a copy whose byte at `offset` (negative: from the end) is XORed with `mask`. */
async function flipByte(db: Db, key: Uint8Array, offset: number, mask = 0x01): Promise<void> {
  const value = await db.get(key)
  if (value === undefined) throw new Error('no such key')
  const copy = Uint8Array.from(value)
  const at = offset < 0 ? copy.length + offset : offset
  copy[at]! ^= mask
  await db.put(key, copy)
}

/** Flips one byte of entry `position` of bundle `bundle`, inside the entry's data. */
async function flipEntry(db: Db, bundle: number, position: number): Promise<void> {
  const [key, stored, start] = await storedPart(db, bundle, position)
  const entry = decodeEntryBundle(stored)[position - start]!
  await flipByte(db, key, entry.byteOffset - stored.byteOffset + 5)
}

/** The row holding entry `position` of bundle `bundle`: the full bundle, or a part of the open one. */
async function storedPart(db: Db, bundle: number, position: number): Promise<[Uint8Array, Uint8Array, number]> {
  const whole = await db.get(bundleKey('audit', bundle))
  if (whole !== undefined) return [bundleKey('audit', bundle), whole, 0]
  let found: [Uint8Array, Uint8Array, number] | undefined
  for await (const [key, value] of db.iterator(bundlePartsRange('audit', bundle))) {
    const start = (key[key.length - 2]! << 8) | key[key.length - 1]!
    if (start <= position) found = [key, value, start]
  }
  if (found === undefined) throw new Error('no such entry')
  return found
}

/** Changes one character of line `line` (negative: from the end) of checkpoint `size` to another base64 character. */
async function flipCheckpoint(db: Db, size: number, line: number, column: number): Promise<void> {
  const lines = text.decode(await db.get(checkpointKey('audit', size))).split('\n')
  const at = line < 0 ? lines.length + line : line
  const chars = [...lines[at]!]
  chars[column] = chars[column] === 'A' ? 'B' : 'A'
  lines[at] = chars.join('')
  await db.put(checkpointKey('audit', size), utf8.encode(lines.join('\n')))
}

const where = (report: FsckReport) => report.problems.map((p) => `${p.kind} ${p.location}`).sort()

describe('fsck', () => {
  it('finds nothing wrong with an intact log, and counts what it checked', async () => {
    const report = await ledger!.fsck('audit')
    expect(report.problems).toEqual([])
    expect(report).toMatchObject({ log: 'audit', size: SIZE, ok: true })
    expect(report.checked).toEqual({ entries: SIZE, tiles: 4, checkpoints: CHECKPOINTS.length, indexRows: SIZE })
    await expect(ledger!.fsck('nope')).rejects.toThrow(code('LOG_NOT_FOUND'))
  })

  it('checks an empty log', async () => {
    await ledger!.createLog('empty')
    const report = await ledger!.fsck('empty')
    expect(report).toMatchObject({ size: 0, ok: true, checked: { entries: 0, tiles: 0, checkpoints: 1, indexRows: 0 } })
  })

  it('reports progress after every bundle, reaching the total', async () => {
    const progress: FsckProgress[] = []
    await ledger!.fsck('audit', { onProgress: (p) => progress.push(p) })
    expect(progress.length).toBeGreaterThanOrEqual(3)
    expect(progress.at(-1)).toEqual({ checked: SIZE, total: SIZE })
    expect(progress.every((p) => p.total === SIZE)).toBe(true)
    expect(progress.map((p) => p.checked)).toEqual([...progress.map((p) => p.checked)].sort((a, b) => a - b))
    expect(progress.slice(0, 3).map((p) => p.checked)).toEqual([256, 512, 650])
  })

  it('(a) finds a changed byte inside a stored entry', async () => {
    await tamper((db) => flipEntry(db, 1, 17))
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual(['entry bundle 1 entry 17'])
    expect(report.problems[0]!.problem).toContain(bytesToHex(leafHash(256 + 17)))
    expect(report.ok).toBe(false)
  })

  it('(a) finds a missing bundle and a bundle that is not a bundle', async () => {
    await tamper(async (db) => {
      await db.del(bundleKey('audit', 0))
      await db.put(bundleKey('audit', 1), Uint8Array.of(0, 9, 1))
    })
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual(['entry bundle 0', 'entry bundle 1'])
    expect(report.problems.map((p) => p.problem)).toEqual(['is missing', 'is not a well-formed entry bundle'])
  })

  it('(b) finds a changed byte in a full tile, in a leaf hash or an inner row', async () => {
    await tamper(async (db) => {
      await flipByte(db, tileKey('audit', 0, 0), 5 * 32 + 7)
      await flipByte(db, tileKey('audit', 0, 1), (256 + 128 + 3) * 32)
    })
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual(['tile tile 0/0', 'tile tile 0/1'])
    expect(report.problems[0]!.problem).toMatch(/^row 0 position 5 is [0-9a-f]{64}, recomputed [0-9a-f]{64}$/)
    expect(report.problems[1]!.problem).toMatch(/^row 2 position 3 /)
  })

  it('(b) refuses to open when a hash on the right edge of an open tile changed', async () => {
    await ledger!.close()
    ledger = undefined
    const db: Db = new Level(join(directory, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
    // Tile 0/2 has width 138, stored in parts of leaf hashes: the last two make a border node of the root.
    const parts: Uint8Array[] = []
    for await (const [key] of db.iterator({ ...leafTilePartsRange('audit', 2), values: false })) parts.push(key)
    await flipByte(db, parts.at(-1)!, -1)
    await db.close()
    await expect(Ledger.open(directory)).rejects.toThrow(code('CORRUPTION'))
  })

  it('(b) finds a changed byte in an open tile that opening does not read', async () => {
    // Tile 1/0 has width 2: opening reads its row 1 (the border node), not the two hashes under it.
    await tamper((db) => flipByte(db, tileKey('audit', 1, 0), 3))
    expect(where(await ledger!.fsck('audit'))).toEqual(['tile tile 1/0'])
  })

  it('(c) finds a changed root hash or signature in a stored checkpoint', async () => {
    await tamper(async (db) => {
      await flipCheckpoint(db, 260, 2, 10)
      await flipCheckpoint(db, 390, -2, 40)
    })
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual(['checkpoint checkpoint 260', 'checkpoint checkpoint 390'])
    expect(report.problems[0]!.problem).toContain('SIGNATURE_INVALID')
  })

  it('(c) finds a validly signed checkpoint with another root, and says which one it breaks with', async () => {
    const signer = parseSignerKey((await readFile(join(directory, 'keys', 'audit.key'), 'utf8')).trim())
    const forged = signCheckpoint({ origin: 'test.example/audit', size: 390, rootHash: leafHash(1), extensions: [] }, signer)
    await tamper((db) => db.put(checkpointKey('audit', 390), utf8.encode(forged)))
    const report = await ledger!.fsck('audit')
    expect(report.problems).toEqual([{
      kind: 'checkpoint', location: 'checkpoint 390',
      problem: expect.stringMatching(/differs from the recomputed root .*not consistent with checkpoint 260$/),
    }])
  })

  it('(d) finds a changed byte in an index row', async () => {
    await tamper((db) => flipByte(db, idKey('audit', leafHash(300)), -1))
    const report = await ledger!.fsck('audit')
    expect(report.problems).toEqual([{
      kind: 'index', location: `index ${bytesToHex(leafHash(300))}`,
      problem: 'points at entry 301, but entry 300 (bundle 1 entry 44) has this hash',
    }])
  })

  it('(d) finds index rows moved to another hash, or for hashes not in the log', async () => {
    const moved = Uint8Array.from(leafHash(40))
    moved[31]! ^= 0x01
    const stranger = defaultHasher.leaf(utf8.encode('never appended'))
    await tamper(async (db) => {
      await db.del(idKey('audit', leafHash(40)))
      await db.put(idKey('audit', moved), uint64(40))
      await db.put(idKey('audit', stranger), uint64(SIZE + 5))
    })
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual([
      `index index ${bytesToHex(moved)}`, `index index ${bytesToHex(leafHash(40))}`, `index index ${bytesToHex(stranger)}`,
    ].sort())
    expect(report.checked.indexRows).toBe(SIZE + 1)
  })

  it('finds a head whose checkpoint changed', async () => {
    await tamper(async (db) => {
      const head = JSON.parse(text.decode(await db.get(headKey('audit')))) as { checkpoint: string }
      const lines = head.checkpoint.split('\n')
      lines[2] = lines[2]!.startsWith('A') ? `B${lines[2]!.slice(1)}` : `A${lines[2]!.slice(1)}`
      await db.put(headKey('audit'), utf8.encode(JSON.stringify({ ...head, checkpoint: lines.join('\n') })))
    })
    const report = await ledger!.fsck('audit')
    expect(new Set(report.problems.map((p) => `${p.kind} ${p.location}`))).toEqual(new Set(['head head']))
    expect(report.problems.map((p) => p.problem)).toEqual([
      'its checkpoint differs from stored checkpoint 650', expect.stringContaining('SIGNATURE_INVALID'),
    ])
  })

  it('finds bundles, tiles and checkpoints stored beyond the log', async () => {
    await tamper(async (db) => {
      await db.put(bundleKey('audit', 7), Uint8Array.of(0, 1, 42))
      await db.put(tileKey('audit', 0, 3), new Uint8Array(32))
      await db.put(tileKey('audit', 2, 0), new Uint8Array(32))
      await db.put(checkpointKey('audit', 700), await db.get(checkpointKey('audit', 650)) as Uint8Array)
      // Parts belong to the open bundle (2, 138 entries) only: one of a full bundle, one past the end.
      await db.put(bundlePartKey('audit', 1, 0), Uint8Array.of(0, 1, 42))
      await db.put(bundlePartKey('audit', 2, 200), Uint8Array.of(0, 1, 42))
      await db.put(leafTilePartKey('audit', 0, 0), new Uint8Array(32))
      await db.put(leafTilePartKey('audit', 2, 138), new Uint8Array(32))
    })
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual([
      'checkpoint checkpoint 700', 'checkpoint checkpoint 700', 'entry bundle 1 part 0', 'entry bundle 2 part 200',
      'entry bundle 7', 'head head', 'tile tile 0/0 part 0', 'tile tile 0/2 part 138', 'tile tile 0/3', 'tile tile 2/0',
    ])
  })

  it('reads an open bundle stored whole, as ledgers did before bundle parts, and fills it', async () => {
    await tamper(async (db) => {
      const parts: Uint8Array[] = []
      for await (const [key, value] of db.iterator(bundlePartsRange('audit', 2))) {
        parts.push(...decodeEntryBundle(value))
        await db.del(key)
      }
      await db.put(bundleKey('audit', 2), encodeEntryBundle(parts))
    })
    expect((await ledger!.fsck('audit')).problems).toEqual([])
    const log = ledger!.log('audit')
    expect((await log.entry(600)).data).toEqual(event(600))
    await log.append(Array.from({ length: 200 }, (_, i) => event(SIZE + i)))
    expect((await log.entry(SIZE + 199)).data).toEqual(event(SIZE + 199))
    expect((await ledger!.fsck('audit')).problems).toEqual([])
  })

  it('reads an open level-0 tile stored whole, as ledgers did before tile parts, and fills it', async () => {
    await tamper(async (db) => {
      const hashes: Uint8Array[] = []
      for await (const [key, value] of db.iterator(leafTilePartsRange('audit', 2))) {
        for (let at = 0; at < value.length; at += 32) hashes.push(value.subarray(at, at + 32))
        await db.del(key)
      }
      await db.put(tileKey('audit', 0, 2), TreeEdge.empty().integrate(hashes, defaultHasher).edge.storedTiles()[0]!.data)
    })
    expect((await ledger!.fsck('audit')).problems).toEqual([])
    const log = ledger!.log('audit')
    const tile = await log.hashTile(0, 2, 138)
    expect(tile.subarray(137 * 32)).toEqual(leafHash(649))
    await log.append(Array.from({ length: 60 }, (_, i) => event(SIZE + i)))
    await ledger!.close()
    ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
    expect((await ledger.fsck('audit')).problems).toEqual([])
    await ledger.log('audit').append(Array.from({ length: 100 }, (_, i) => event(SIZE + 60 + i)))
    expect((await ledger.fsck('audit')).problems).toEqual([])
    expect(await ledger.log('audit').hashTile(0, 2, 256)).toHaveLength(256 * 32)
  })

  it('finds every tamper at once, each at its own location', async () => {
    await tamper(async (db) => {
      await flipEntry(db, 2, 100)
      await flipByte(db, tileKey('audit', 0, 0), 200 * 32 + 31)
      await flipCheckpoint(db, 130, 2, 0)
      await flipByte(db, idKey('audit', leafHash(5)), -1, 0x80)
    })
    const report = await ledger!.fsck('audit')
    expect(where(report)).toEqual([
      'checkpoint checkpoint 130', 'entry bundle 2 entry 100', `index index ${bytesToHex(leafHash(5))}`, 'tile tile 0/0',
    ].sort())
    expect(report.checked).toEqual({ entries: SIZE, tiles: 4, checkpoints: CHECKPOINTS.length, indexRows: SIZE })
  })
})
