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
  /** For each of the log's calls: the call's place in the batch, */
  readonly callOf: number[]
  /** and the part's place in the call (-1: the call's only part, answered alone). */
  readonly partOf: number[]
}

interface PreparedBatch<R> {
  readonly logs: readonly LogBatch<R>[]
  readonly prepared: readonly unknown[]
  readonly callCount: number
}

interface StagedBatch<R> {
  readonly logs: readonly LogBatch<R>[]
  readonly staged: readonly unknown[]
  readonly callCount: number
}

/** A call's one part, answered with its result rather than an array of one. */
interface AlonePart extends LogAppend {
  readonly alone: true
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
  readonly #sequencer: Sequencer<LogAppend, PreparedBatch<R>, StagedBatch<R>, R | R[]>

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

  /** Appends entries to one log; resolves with its result once durable. Entries are checked by the caller. */
  appendTo(log: string, entries: readonly Uint8Array[]): Promise<R> {
    if (!this.#logs.has(log)) return Promise.reject(new Error(`log ${log} is not registered`))
    const part: AlonePart = { log, entries, alone: true }
    return this.#sequencer.submit([part], entries.length) as Promise<R>
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
    return this.#sequencer.submit(parts.map(({ log, entries }) => ({ log, entries })), size) as Promise<R[]>
  }

  /** Resolves when every append submitted so far has settled. */
  drain(): Promise<void> {
    return this.#sequencer.drain()
  }

  async #prepare(calls: readonly (readonly LogAppend[])[]): Promise<PreparedBatch<R>> {
    const byLog = new Map<string, LogBatch<R>>()
    for (let call = 0; call < calls.length; call++) {
      const parts = calls[call]!
      for (let index = 0; index < parts.length; index++) {
        const part = parts[index]!
        let batch = byLog.get(part.log)
        if (batch === undefined) {
          batch = { log: part.log, steps: this.#logs.get(part.log)!, calls: [], callOf: [], partOf: [] }
          byLog.set(part.log, batch)
        }
        batch.calls.push(part.entries)
        batch.callOf.push(call)
        batch.partOf.push((part as Partial<AlonePart>).alone === true ? -1 : index)
      }
    }
    const logs = [...byLog.values()]
    const prepared = await Promise.all(logs.map((batch) => batch.steps.prepare(batch.calls)))
    return { logs, prepared, callCount: calls.length }
  }

  async #stage({ logs, prepared, callCount }: PreparedBatch<R>): Promise<StagedBatch<R>> {
    await Promise.all(logs.map((batch) => batch.steps.waitForRoom()))
    // Every log's part is decided before any is adopted: a failure leaves every tip as it was.
    const staged = logs.map((batch, i) => batch.steps.stage(batch.calls, prepared[i]))
    logs.forEach((batch, i) => batch.steps.adopt(staged[i]))
    return { logs, staged, callCount }
  }

  async #write({ logs, staged, callCount }: StagedBatch<R>): Promise<(R | R[])[]> {
    const swaps: Swap[] = []
    const ops: WriteOp[] = []
    logs.forEach((batch, i) => {
      const writes = batch.steps.writes(staged[i])
      if (writes === undefined) return
      swaps.push(writes.swap)
      for (const op of writes.ops) ops.push(op)
    })
    if (swaps.length > 0) await this.#driver.compareAndSwapAll(swaps, ops)
    const results = new Array<R | R[]>(callCount)
    logs.forEach((batch, i) => {
      const written = batch.steps.written(staged[i])
      for (let j = 0; j < written.length; j++) {
        const call = batch.callOf[j]!
        const part = batch.partOf[j]!
        if (part === -1) results[call] = written[j]!
        else ((results[call] ??= []) as R[])[part] = written[j]!
      }
    })
    return results
  }
}
