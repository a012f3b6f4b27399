// The time index: for each node of 256^(level+1) consecutive entries, the earliest and latest
// time of its entries, written in the same atomic write as the entries. Times run nearly, not
// strictly, with the index (a server's clock may step back), so the index does not assume
// order: a search descends from the top level into the nodes whose span meets its window, and
// reads only the entries of the level-0 nodes it reaches.
import type { StorageDriver, WriteOp } from '@annal/storage'
import { keySuffix, timeKey, timeNodeOf, timeRange } from './keys.js'
import { StoreError } from './errors.js'
import type { TermRange } from './terms.js'

/** Levels of nodes: 256, 65,536, 2^24 and 2^32 entries. */
export const TIME_LEVELS = 4
const FANOUT = 256
const SPAN_BYTES = 16

/** The entries a node of `level` holds. */
export const nodeWidth = (level: number): number => FANOUT ** (level + 1)

/** The earliest and latest time of some entries, in milliseconds since the epoch. */
export interface TimeSpan {
  readonly min: number
  readonly max: number
}

/** A window of time: `from` <= time < `to`; either bound may be absent. */
export interface TimeWindow {
  readonly from?: number
  readonly to?: number
}

export function encodeSpan(span: TimeSpan): Uint8Array {
  const bytes = new Uint8Array(SPAN_BYTES)
  const view = new DataView(bytes.buffer)
  view.setFloat64(0, span.min)
  view.setFloat64(8, span.max)
  return bytes
}

/** @throws StoreError CORRUPTION for a row the index did not write. */
export function decodeSpan(bytes: Uint8Array): TimeSpan {
  if (bytes.length !== SPAN_BYTES) throw new StoreError('CORRUPTION', 'a time index row is not 16 bytes')
  const view = new DataView(bytes.buffer, bytes.byteOffset, SPAN_BYTES)
  return { min: view.getFloat64(0), max: view.getFloat64(8) }
}

/** `span` widened to hold `time`; `span` itself when it holds it already. */
export function widen(span: TimeSpan | undefined, time: number): TimeSpan {
  if (span === undefined) return { min: time, max: time }
  if (time >= span.min && time <= span.max) return span
  return { min: Math.min(span.min, time), max: Math.max(span.max, time) }
}

/** @throws RangeError unless `time` is a finite number. */
export function checkTime(time: number | undefined): void {
  if (time !== undefined && !Number.isFinite(time)) throw new RangeError('an entry\'s time is a finite number of milliseconds')
}

/**
 * The spans of the nodes that the next entry (at `size`) falls in, one a level: what appends
 * fold their entries' times into. Immutable: a batch makes a new edge.
 */
export class TimeEdge {
  readonly size: number
  readonly #spans: readonly (TimeSpan | undefined)[]

  private constructor(size: number, spans: readonly (TimeSpan | undefined)[]) {
    this.size = size
    this.#spans = spans
  }

  /** The edge of a log of `size` entries, read from its nodes' own rows. */
  static async load(driver: StorageDriver, log: string, size: number): Promise<TimeEdge> {
    const levels = Array.from({ length: TIME_LEVELS }, (_, level) => level)
    // A node that the next entry starts holds nothing yet.
    const rows = await driver.getMany(levels.map((level) => timeKey(log, level, Math.floor(size / nodeWidth(level)))))
    return new TimeEdge(size, levels.map((level) => (size % nodeWidth(level) === 0 || rows[level] === undefined ? undefined : decodeSpan(rows[level]!))))
  }

  /**
   * The edge after the entries at `size` on, with `times` (undefined for an entry without
   * one), and the rows of the nodes whose spans they widened, to write with the entries.
   */
  append(log: string, times: readonly (number | undefined)[]): { edge: TimeEdge; ops: WriteOp[] } {
    if (times.length === 0) return { edge: this, ops: [] }
    const ops: WriteOp[] = []
    const end = this.size + times.length
    const spans = this.#spans.map((open, level) => {
      const width = nodeWidth(level)
      let node = Math.floor(this.size / width)
      let span = open
      let widened = false
      for (let i = 0; i < times.length; i++) {
        const index = this.size + i
        if (index % width === 0 && index !== this.size) {
          if (widened) ops.push(spanRow(log, level, node, span!))
          node = index / width
          span = undefined
          widened = false
        }
        const time = times[i]
        if (time === undefined) continue
        const wider = widen(span, time)
        widened ||= wider !== span
        span = wider
      }
      if (widened) ops.push(spanRow(log, level, node, span!))
      return end % width === 0 ? undefined : span
    })
    return { edge: new TimeEdge(end, spans), ops }
  }
}

function spanRow(log: string, level: number, node: number, span: TimeSpan): WriteOp {
  return { type: 'put', key: timeKey(log, level, node), value: encodeSpan(span) }
}

/**
 * The ranges of indexes in `range` (in its order) of the level-0 nodes whose span, with its
 * patches, meets `window`: every entry in range whose time is in the window and which the
 * time rows cover is in one of them, and entries whose times are not are read too. Adjacent
 * nodes come as one range.
 */
export async function* timeRanges(driver: StorageDriver, log: string, window: TimeWindow, range: TermRange): AsyncGenerator<[number, number]> {
  const { start, end, reverse = false } = range
  let pending: [number, number] | undefined
  for await (const [low, high] of nodesMeeting(driver, log, window, TIME_LEVELS - 1, start, end, reverse)) {
    if (pending !== undefined && (reverse ? high === pending[0] : low === pending[1])) {
      pending = reverse ? [low, pending[1]] : [pending[0], high]
      continue
    }
    if (pending !== undefined) yield pending
    pending = [low, high]
  }
  if (pending !== undefined) yield pending
}

async function* nodesMeeting(driver: StorageDriver, log: string, window: TimeWindow, level: number, start: number,
    end: number, reverse: boolean): AsyncGenerator<[number, number]> {
  if (start >= end) return
  const width = nodeWidth(level)
  for await (const { node, span } of spansOf(driver, log, level, Math.floor(start / width), Math.floor((end - 1) / width), reverse)) {
    if (!meets(span, window)) continue
    const low = Math.max(start, node * width)
    const high = Math.min(end, (node + 1) * width)
    if (level === 0) yield [low, high]
    else yield* nodesMeeting(driver, log, window, level - 1, low, high, reverse)
  }
}

/** The nodes `first` to `last` of a level that have rows, each with its row and patch joined. */
async function* spansOf(driver: StorageDriver, log: string, level: number, first: number, last: number,
    reverse: boolean): AsyncGenerator<{ node: number; span: TimeSpan }> {
  let current: { node: number; span: TimeSpan } | undefined
  for await (const [key, value] of driver.range({ ...timeRange(log, level, first, last), reverse })) {
    const { node } = timeNodeOf(keySuffix(key, log))
    const span = decodeSpan(value)
    if (current !== undefined && current.node === node) {
      current = { node, span: { min: Math.min(current.span.min, span.min), max: Math.max(current.span.max, span.max) } }
      continue
    }
    if (current !== undefined) yield current
    current = { node, span }
  }
  if (current !== undefined) yield current
}

function meets(span: TimeSpan, { from, to }: TimeWindow): boolean {
  return (from === undefined || span.max >= from) && (to === undefined || span.min < to)
}

/**
 * A reindex's pass over the time index, from index 0 up: a node it has read whole gets its own
 * row rewritten (appends never write a full node again); one it has read in part, the node
 * appends are still filling, gets a patch row beside its own, which a search joins to it.
 */
export class TimeRebuild {
  #index: number
  readonly #spans: (TimeSpan | undefined)[]

  private constructor(index: number, spans: (TimeSpan | undefined)[]) {
    this.#index = index
    this.#spans = spans
  }

  /** The pass at `done`, which the patch rows written with its progress say where it was. */
  static async resume(driver: StorageDriver, log: string, done: number): Promise<TimeRebuild> {
    const levels = Array.from({ length: TIME_LEVELS }, (_, level) => level)
    if (done === 0) return new TimeRebuild(0, levels.map(() => undefined))
    const rows = await driver.getMany(levels.map((level) => timeKey(log, level, Math.floor(done / nodeWidth(level)), true)))
    return new TimeRebuild(done, levels.map((level) => (done % nodeWidth(level) === 0 || rows[level] === undefined ? undefined : decodeSpan(rows[level]!))))
  }

  /** Folds in the times of the next entries; the rows to write with their terms and the progress. */
  add(log: string, times: readonly (number | undefined)[]): WriteOp[] {
    const ops: WriteOp[] = []
    for (let level = 0; level < TIME_LEVELS; level++) {
      const width = nodeWidth(level)
      let span = this.#spans[level]
      for (let i = 0; i < times.length; i++) {
        const time = times[i]
        if (time !== undefined) span = widen(span, time)
        const next = this.#index + i + 1
        if (next % width !== 0) continue
        const node = next / width - 1
        ops.push(span === undefined ? { type: 'del', key: timeKey(log, level, node) } : spanRow(log, level, node, span))
        ops.push({ type: 'del', key: timeKey(log, level, node, true) })
        span = undefined
      }
      this.#spans[level] = span
      const end = this.#index + times.length
      if (end % width !== 0) {
        const key = timeKey(log, level, Math.floor(end / width), true)
        ops.push(span === undefined ? { type: 'del', key } : { type: 'put', key, value: encodeSpan(span) })
      }
    }
    this.#index += times.length
    return ops
  }
}
