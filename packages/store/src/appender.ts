import type { StorageDriver, Swap, WriteOp } from './driver.js'
import { Sequencer, type SequencerOptions } from './sequencer.js'

/** Entries for one log, within a call that may append to several. */
export interface LogAppend {
  readonly log: string
  readonly entries: readonly Uint8Array[]
}

/**
 * What a log does for the appender in each batch (Log registers these). `stage` must change
 * nothing: a batch is adopted by every log it touches or by none.
 */
export interface LogAppendSteps<P, S, R> {
  /** Hashing and lookups, which change no state: may overlap the previous batch's write. */
  prepare(calls: readonly (readonly Uint8Array[])[]): Promise<P>
  /** Waits until the log can take another batch (its id index is not too far behind). */
  waitForRoom(): Promise<void>
  /** Decides the log's part of a batch on top of its tip, changing nothing. */
  stage(calls: readonly (readonly Uint8Array[])[], prepared: P): S
  /** Makes a staged part the tip that the next batch builds on. */
  adopt(staged: S): void
  /** The head swap and rows a staged part writes; undefined when it writes nothing. */
  writes(staged: S): { readonly swap: Swap; readonly ops: readonly WriteOp[] } | undefined
  /** The part is durable: makes it the log's state and gives each call's result. */
  written(staged: S): R[]
  /** A write failed: forget everything staged. */
  discard(): void
}

// The appender only hands each log's own values back to it, so it need not know their types
// (the steps are declared as methods, whose parameters TypeScript checks bivariantly).
type AnySteps<R> = LogAppendSteps<unknown, unknown, R>

interface LogBatch<R> {
  readonly log: string
  readonly steps: AnySteps<R>
  readonly calls: (readonly Uint8Array[])[]
  /** Where each of the log's calls came from: the call's place in the batch and the part's in the call. */
  readonly from: (readonly [number, number])[]
}

interface PreparedBatch<R> {
  readonly logs: readonly LogBatch<R>[]
  readonly prepared: readonly unknown[]
}

interface StagedBatch<R> {
  readonly logs: readonly LogBatch<R>[]
  readonly staged: readonly unknown[]
  readonly callCount: number
}

/**
 * Sequences the appends to every log of a ledger. A call may append to several logs (an event
 * and the access record of the request that appended it); concurrent calls are gathered into
 * batches, and a batch is one atomic, synced write that swaps the head of each log it touches:
 * every call in it lands whole or not at all, however many logs it spans. One writer for all
 * the logs also means one fsync per batch for all of them.
 */
export class Appender<R> {
  readonly #driver: StorageDriver
  readonly #logs = new Map<string, AnySteps<R>>()
  readonly #sequencer: Sequencer<LogAppend, PreparedBatch<R>, StagedBatch<R>, R[]>

  constructor(driver: StorageDriver, options: SequencerOptions) {
    this.#driver = driver
    this.#sequencer = new Sequencer({
      prepare: (calls) => this.#prepare(calls),
      stage: (_calls, prepared) => this.#stage(prepared),
      write: (staged) => this.#write(staged),
      discard: () => {
        for (const steps of this.#logs.values()) steps.discard()
      },
    }, options)
  }

  /** Makes a log appendable; a log registers once, when it is loaded. */
  register<P, S>(log: string, steps: LogAppendSteps<P, S, R>): void {
    if (this.#logs.has(log)) throw new Error(`log ${log} is already registered`)
    this.#logs.set(log, steps)
  }

  /**
   * Appends every part in one atomic write and resolves with each part's result, in order.
   * Parts must name registered logs, each at most once; entries are checked by the caller.
   */
  append(parts: readonly LogAppend[]): Promise<R[]> {
    const names = new Set<string>()
    let size = 0
    for (const part of parts) {
      if (!this.#logs.has(part.log)) return Promise.reject(new Error(`log ${part.log} is not registered`))
      if (names.has(part.log)) return Promise.reject(new TypeError('a call appends to each log at most once'))
      names.add(part.log)
      size += part.entries.length
    }
    return this.#sequencer.submit(parts, size)
  }

  /** Resolves when every append submitted so far has settled. */
  drain(): Promise<void> {
    return this.#sequencer.drain()
  }

  async #prepare(calls: readonly (readonly LogAppend[])[]): Promise<PreparedBatch<R>> {
    const byLog = new Map<string, LogBatch<R>>()
    calls.forEach((parts, call) => parts.forEach((part, index) => {
      let batch = byLog.get(part.log)
      if (batch === undefined) {
        batch = { log: part.log, steps: this.#logs.get(part.log)!, calls: [], from: [] }
        byLog.set(part.log, batch)
      }
      batch.calls.push(part.entries)
      batch.from.push([call, index])
    }))
    const logs = [...byLog.values()]
    return { logs, prepared: await Promise.all(logs.map((batch) => batch.steps.prepare(batch.calls))) }
  }

  async #stage({ logs, prepared }: PreparedBatch<R>): Promise<StagedBatch<R>> {
    await Promise.all(logs.map((batch) => batch.steps.waitForRoom()))
    // Every log's part is decided before any is adopted: a failure leaves every tip as it was.
    const staged = logs.map((batch, i) => batch.steps.stage(batch.calls, prepared[i]))
    logs.forEach((batch, i) => batch.steps.adopt(staged[i]))
    const callCount = Math.max(...logs.flatMap((batch) => batch.from.map(([call]) => call))) + 1
    return { logs, staged, callCount }
  }

  async #write({ logs, staged, callCount }: StagedBatch<R>): Promise<R[][]> {
    const swaps: Swap[] = []
    const ops: WriteOp[] = []
    logs.forEach((batch, i) => {
      const writes = batch.steps.writes(staged[i])
      if (writes === undefined) return
      swaps.push(writes.swap)
      for (const op of writes.ops) ops.push(op)
    })
    if (swaps.length > 0) await this.#driver.compareAndSwapAll(swaps, ops)
    const results: R[][] = Array.from({ length: callCount }, () => [])
    logs.forEach((batch, i) => {
      const written = batch.steps.written(staged[i])
      batch.from.forEach(([call, index], j) => {
        results[call]![index] = written[j]!
      })
    })
    return results
  }
}
