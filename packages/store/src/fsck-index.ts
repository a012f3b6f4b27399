import { bytesEqual, bytesToHex } from '@annal/tlog'
import type { FsckSink, FsckTarget } from './fsck.js'
import { idKey, keySuffix, logRange, readUint64 } from './keys.js'

/** Index rows are counted per bucket of the first two bytes of their leaf hash. */
const BUCKETS = 65536

/**
 * Checks the id lookup (`I` rows: leaf hash -> index) both ways in bounded memory. Each leaf's
 * own row is looked up as its bundle is read (`lookup`, `expect`) and counted in its bucket;
 * afterwards every stored row is counted out again (`checkRows`). Only buckets that do not
 * come out even can hold rows for hashes that are not in the log, and only their rows are
 * checked one by one against the leaf they point at.
 */
export class IndexCheck {
  readonly #target: FsckTarget
  readonly #sink: FsckSink
  readonly #buckets = new Int32Array(BUCKETS)
  /** Rows already reported from the leaf side, by leaf hash hex: bounded by the problems. */
  readonly #reported = new Set<string>()

  constructor(target: FsckTarget, sink: FsckSink) {
    this.#target = target
    this.#sink = sink
  }

  /** The index each hash's row holds: undefined when there is no row, NaN when it is not 8 bytes. */
  async lookup(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    if (hashes.length === 0) return []
    const { driver, info } = this.#target
    const rows = await driver.getMany(hashes.map((hash) => idKey(info.name, hash)))
    return rows.map((row) => (row === undefined ? undefined : row.length === 8 ? readUint64(row) : Number.NaN))
  }

  /** Records that leaf `index` (at `where`) has `hash` and its row holds `row`; reports a bad row. */
  expect(hash: Uint8Array, index: number, row: number | undefined, where: string): void {
    if (row === index) {
      this.#buckets[bucketOf(hash)]!++
      return
    }
    const hex = bytesToHex(hash)
    const location = `index ${hex}`
    if (row === undefined) return this.#sink.report('index', location, `is missing for entry ${index} (${where})`)
    this.#reported.add(hex)
    const holds = Number.isNaN(row) ? 'is not an 8-byte index' : `points at entry ${row}`
    this.#sink.report('index', location, `${holds}, but entry ${index} (${where}) has this hash`)
  }

  /**
   * Streams every row of the log's index once, then checks the rows of uneven buckets against
   * `leafHashAt` (the recomputed tree's leaf hash at an index below `size`). Returns the number
   * of rows. Call after `expect` has seen every leaf.
   */
  async checkRows(size: number, leafHashAt: (index: number) => Promise<Uint8Array | undefined>): Promise<number> {
    const { driver, info } = this.#target
    let rows = 0
    for await (const [key] of driver.range(logRange('id', info.name))) {
      rows++
      const hash = keySuffix(key, info.name)
      if (hash.length === 32) this.#buckets[bucketOf(hash)]!--
      else this.#sink.report('index', `index key ${bytesToHex(hash)}`, 'is not a 32-byte leaf hash')
    }
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      if (this.#buckets[bucket] !== 0) await this.#checkBucket(bucket, size, leafHashAt)
    }
    return rows
  }

  async #checkBucket(bucket: number, size: number, leafHashAt: (index: number) => Promise<Uint8Array | undefined>): Promise<void> {
    const { driver, info } = this.#target
    const low = new Uint8Array(32)
    const high = new Uint8Array(32).fill(0xff)
    low[0] = high[0] = bucket >> 8
    low[1] = high[1] = bucket & 0xff
    for await (const [key, value] of driver.range({ gte: idKey(info.name, low), lte: idKey(info.name, high) })) {
      const hash = keySuffix(key, info.name)
      const hex = bytesToHex(hash)
      if (hash.length !== 32 || this.#reported.has(hex)) continue
      const problem = await rowProblem(hash, value, size, leafHashAt)
      if (problem !== undefined) this.#sink.report('index', `index ${hex}`, problem)
    }
  }
}

/** What is wrong with the row `hash -> value`, if anything. */
async function rowProblem(hash: Uint8Array, value: Uint8Array, size: number,
    leafHashAt: (index: number) => Promise<Uint8Array | undefined>): Promise<string | undefined> {
  if (value.length !== 8) return 'is not an 8-byte index'
  const index = readUint64(value)
  if (index >= size) return `points at entry ${index}, beyond the log's ${size} entries`
  const leaf = await leafHashAt(index)
  if (leaf === undefined || bytesEqual(leaf, hash)) return undefined
  return `no entry has this hash: entry ${index} has ${bytesToHex(leaf)}`
}

function bucketOf(hash: Uint8Array): number {
  return (hash[0]! << 8) | hash[1]!
}
