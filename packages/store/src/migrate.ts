import { join } from 'node:path'
import { parseCheckpoint, parseNote } from '@annal/note'
import { LevelDriver, type StorageDriver, type WriteOp } from '@annal/storage'
import { bytesEqual, verifyConsistency } from '@annal/tlog'
import { StoreError } from './errors.js'
import { Ledger } from './ledger.js'

/** Rows copied in one write at most, and their bytes: a copy's memory stays bounded. */
const COPY_ROWS = 10_000
const COPY_BYTES = 8 * 2 ** 20

/** Every key a ledger can hold: its keys are shorter than this many 0xff bytes. */
const ALL_KEYS = { gte: Uint8Array.of(0), lte: new Uint8Array(1024).fill(0xff) }

export interface MigratedLog {
  readonly name: string
  readonly size: number
  /** Checkpoints whose root was checked in the copy. */
  readonly checkpoints: number
}

export interface Migration {
  /** Rows copied: every key of the ledger's database. */
  readonly rows: number
  readonly logs: readonly MigratedLog[]
}

/**
 * Copies the LevelDB ledger in `directory` (its `db/`) into `target`, an empty database of
 * another driver (PostgreSQL), row by row, then checks the copy: every log's head is the same,
 * and every checkpoint the log ever issued is in the copy and consistent with its head, by a
 * consistency proof built from the copy's tiles. The keys stay in `directory/keys`, where the
 * copy's ledger finds them. Takes the LevelDB lock: no server may have the ledger open.
 * `target` is closed when done.
 * @throws StorageError DATABASE_LOCKED; StoreError LOG_EXISTS when `target` holds rows already,
 *   CORRUPTION when the copy differs; TlogError PROOF_ROOT_MISMATCH when a checkpoint's root is
 *   not the copy's tree's at its size.
 */
export async function migrateLedger(directory: string, target: StorageDriver,
    options: { readonly onProgress?: (rows: number) => void } = {}): Promise<Migration> {
  let rows: number
  try {
    for await (const _ of target.range({ ...ALL_KEYS, limit: 1 })) {
      throw new StoreError('LOG_EXISTS', 'the database holds a ledger already; migrate into an empty one')
    }
    const source = await LevelDriver.open(join(directory, 'db'))
    try {
      rows = await copyRows(source, target, options.onProgress)
    } finally {
      await source.close()
    }
  } catch (error) {
    await target.close()
    throw error
  }
  return { rows, logs: await checkCopy(directory, target) }
}

async function copyRows(source: StorageDriver, target: StorageDriver, onProgress?: (rows: number) => void): Promise<number> {
  let ops: WriteOp[] = []
  let bytes = 0
  let rows = 0
  for await (const [key, value] of source.range(ALL_KEYS)) {
    ops.push({ type: 'put', key, value })
    bytes += key.length + value.length
    if (ops.length >= COPY_ROWS || bytes >= COPY_BYTES) {
      await target.write(ops, { sync: false })
      rows += ops.length
      onProgress?.(rows)
      ops = []
      bytes = 0
    }
  }
  // The last write is synced, and with it every unsynced one before it.
  await target.write(ops, { sync: true })
  rows += ops.length
  onProgress?.(rows)
  return rows
}

/** Opens both ledgers and compares every log; closes both (and so `target`). */
async function checkCopy(directory: string, target: StorageDriver): Promise<MigratedLog[]> {
  const copy = await Ledger.open(directory, { driver: target })
  let source: Ledger
  try {
    source = await Ledger.open(directory)
  } catch (error) {
    await copy.close()
    throw error
  }
  try {
    const logs: MigratedLog[] = []
    for (const info of source.logs()) logs.push(await checkLog(source, copy, info.name))
    if (copy.logs().length !== logs.length) throw new StoreError('CORRUPTION', 'the copy holds logs the ledger does not')
    return logs
  } finally {
    await Promise.all([source.close(), copy.close()])
  }
}

async function checkLog(source: Ledger, copy: Ledger, name: string): Promise<MigratedLog> {
  const original = source.log(name)
  const copied = copy.log(name)
  const head = original.checkpointInfo
  if (copied.checkpointInfo.note !== head.note) throw new StoreError('CORRUPTION', `log ${name}: the copy's head differs`)
  const root = parseCheckpoint(parseNote(head.note).text).rootHash
  let checkpoints = 0
  for await (const { size, note } of original.checkpoints()) {
    if (await copied.checkpoint(size) !== note) throw new StoreError('CORRUPTION', `log ${name}: the copy's checkpoint ${size} differs`)
    const rootAt = parseCheckpoint(parseNote(note).text).rootHash
    if (size === head.size) {
      if (!bytesEqual(rootAt, root)) throw new StoreError('CORRUPTION', `log ${name}: two checkpoints of size ${size}`)
    } else if (size > 0) {
      verifyConsistency(size, head.size, await copied.consistencyProof(size, head.size), rootAt, root)
    }
    checkpoints++
  }
  return { name, size: head.size, checkpoints }
}
