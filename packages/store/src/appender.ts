import { isStorageError, type StorageDriver, type Swap, type WriteOp } from '@annal/storage'
import { Refused, Sequencer, type SequencerOptions, type SequencerTurns } from './sequencer.js'
import { StoreError } from './errors.js'

/** Items for one log (or the object store), within a call that may append to several. */
export interface LogAppend {
  readonly log: string
  readonly entries: readonly unknown[]
}

/** One participant's items in a call that spans several; resolves as `R` (see Appender.append). */
export interface AppendPart<R> extends LogAppend {
  /** Never set: carries the participant's result type. */
  readonly result?: R
}

/** What register() hands back: appends to one participant, typed by its items and its result. */
export interface Participant<I, R> {
  /** Appends `items` on their own; resolves with the participant's result once durable. */
  append(items: readonly I[]): Promise<R>
  /** The participant's part of a call that spans several (Appender.append). */
  part(items: readonly I[]): AppendPart<R>
}

/** The results of Appender.append, one a part, each typed by its participant. */
export type PartResults<P extends readonly AppendPart<unknown>[]> = { -readonly [K in keyof P]: P[K] extends AppendPart<infer R> ? R : never }

/**
 * What a log (or the object store) does for the appender in each batch. `stage` must change
 * nothing: a batch is adopted by every participant it touches or by none. `I` is the item type
 * of the participant's calls.
 */
export interface LogAppendSteps<P, S, R, I = Uint8Array> {
  /** Hashing and lookups, which change no state: may overlap the previous batch's write. */
  prepare(calls: readonly (readonly I[])[]): Promise<P>
  /** Waits until the participant can take another batch (a log's id lookup is not too far behind). */
  waitForRoom(): Promise<void>
  /**
   * Decides the participant's part of a batch on top of what is staged, changing nothing; the
   * calls in `skip` (by position) were refused by another participant and are left out.
   */
  stage(calls: readonly (readonly I[])[], prepared: P, skip: ReadonlySet<number>): S
  /**
   * The calls (by position) the staged part refuses, with the error each is rejected with: the
   * whole call is left out of the batch, in every participant. Participants that refuse are
   * staged before the others. Absent: refuses none.
   */
  refusals?(staged: S): ReadonlyMap<number, unknown>
  /** Makes a staged part the tip that the next batch builds on. */
  adopt(staged: S): void
  /**
   * The swaps (a log's head; on a shared database, rows that must not exist yet) and rows a
   * staged part writes; undefined when it writes nothing.
   */
  writes(staged: S): { readonly swaps?: readonly Swap[]; readonly ops: readonly WriteOp[] } | undefined
  /** The part is durable: makes it the log's state and gives each call's result. */
  written(staged: S): R[]
  /** A write failed: forget everything staged. */
  discard(): void
}

// The appender only hands each participant's own values back to it, so it need not know their
// types (the steps are declared as methods, whose parameters TypeScript checks bivariantly);
// register() gives the types back to the participant's caller through its Participant.
type AnySteps = LogAppendSteps<unknown, unknown, unknown, unknown>

interface LogBatch {
  readonly name: string
  readonly steps: AnySteps
  readonly calls: (readonly unknown[])[]
  /** For each of the log's calls: the call's place in the batch, */
  readonly callOf: number[]
  /** and the part's place in the call (-1: the call's only part, answered alone). */
  readonly partOf: number[]
}

interface PreparedBatch {
  readonly logs: readonly LogBatch[]
  readonly prepared: readonly unknown[]
  readonly callCount: number
}

interface StagedBatch {
  readonly logs: readonly LogBatch[]
  readonly staged: readonly unknown[]
  readonly callCount: number
  /** Calls (by position in the batch) a participant refused, with their errors. */
  readonly refused: ReadonlyMap<number, unknown>
}

const NONE: ReadonlySet<number> = new Set()

/** A batch the appender wrote, or failed to: the items it held per participant (calls refused left out). */
export interface AppendBatch {
  readonly items: ReadonlyMap<string, number>
  /** What the write was rejected with; undefined when it was written. */
  readonly error: unknown
}

/** A call's one part, answered with its result rather than an array of one. */
interface AlonePart extends LogAppend {
  readonly alone: true
}

/**
 * Sequences the appends to every log of a ledger, and the object store's stores and erasures
 * (it registers as one more participant). A call may span several (an event, its payload and
 * the access record of the request that appended it); concurrent calls are gathered into
 * batches, and a batch is one atomic, synced write that swaps the head of each log it touches:
 * every call in it lands whole or not at all, however many participants it spans. One writer
 * for all of them also means one fsync per batch.
 */
export class Appender {
  readonly #driver: StorageDriver
  readonly #logs = new Map<string, AnySteps>()
  readonly #sequencer: Sequencer<LogAppend, PreparedBatch, StagedBatch, unknown>
  readonly #onBatch: ((batch: AppendBatch) => void) | undefined

  /**
   * `onBatch` hears of each batch once its write settled; it must not throw. `turns`, for a
   * database other processes write too, see SequencerTurns.
   */
  constructor(driver: StorageDriver, options: SequencerOptions, onBatch?: (batch: AppendBatch) => void, turns?: SequencerTurns) {
    this.#driver = driver
    this.#onBatch = onBatch
    this.#sequencer = new Sequencer({
      prepare: (calls) => this.#prepare(calls),
      stage: (_calls, prepared) => this.#stage(prepared),
      write: (staged) => this.#write(staged),
      discard: () => {
        for (const steps of this.#logs.values()) steps.discard()
      },
    }, options, turns)
  }

  /**
   * Makes a log (or another participant) appendable, once, under a name of its own; the
   * handle appends to it with its items' and results' types. Items are checked by the caller.
   */
  register<P, S, R, I>(name: string, steps: LogAppendSteps<P, S, R, I>): Participant<I, R> {
    if (this.#logs.has(name)) throw new Error(`log ${name} is already registered`)
    this.#logs.set(name, steps as AnySteps)
    return {
      append: (items) => {
        const part: AlonePart = { log: name, entries: items, alone: true }
        return this.#sequencer.submit([part], items.length) as Promise<R>
      },
      part: (items) => ({ log: name, entries: items }),
    }
  }

  /**
   * Appends every part in one atomic write and resolves with each part's result, in order.
   * Parts come from registered participants' `part`, each participant at most once.
   */
  append<const P extends readonly AppendPart<unknown>[]>(parts: P): Promise<PartResults<P>> {
    const names = new Set<string>()
    let size = 0
    for (const part of parts) {
      if (!this.#logs.has(part.log)) return Promise.reject(new Error(`log ${part.log} is not registered`))
      if (names.has(part.log)) return Promise.reject(new TypeError('a call appends to each log at most once'))
      names.add(part.log)
      size += part.entries.length
    }
    return this.#sequencer.submit(parts.map(({ log, entries }) => ({ log, entries })), size) as Promise<PartResults<P>>
  }

  /** Resolves when every append submitted so far has settled. */
  drain(): Promise<void> {
    return this.#sequencer.drain()
  }

  /** See Sequencer.betweenBatches. */
  betweenBatches(task: () => Promise<void>): Promise<void> {
    return this.#sequencer.betweenBatches(task)
  }

  async #prepare(calls: readonly (readonly LogAppend[])[]): Promise<PreparedBatch> {
    const byLog = new Map<string, LogBatch>()
    for (let call = 0; call < calls.length; call++) {
      const parts = calls[call]!
      for (let index = 0; index < parts.length; index++) {
        const part = parts[index]!
        let batch = byLog.get(part.log)
        if (batch === undefined) {
          batch = { name: part.log, steps: this.#logs.get(part.log)!, calls: [], callOf: [], partOf: [] }
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

  async #stage({ logs, prepared, callCount }: PreparedBatch): Promise<StagedBatch> {
    await Promise.all(logs.map((batch) => batch.steps.waitForRoom()))
    // Every part is decided before any is adopted: a failure leaves every tip as it was.
    // Participants that may refuse calls go first, so the others leave those calls out.
    const refused = new Map<number, unknown>()
    const staged = new Array<unknown>(logs.length)
    const all = logs.map((_, i) => i)
    const refuses = (i: number): boolean => logs[i]!.steps.refusals !== undefined
    const stage = (i: number): void => {
      const batch = logs[i]!
      let skip: ReadonlySet<number> = NONE
      if (refused.size > 0) skip = new Set(batch.callOf.flatMap((call, j) => (refused.has(call) ? [j] : [])))
      staged[i] = batch.steps.stage(batch.calls, prepared[i], skip)
      for (const [j, error] of batch.steps.refusals?.(staged[i]) ?? []) refused.set(batch.callOf[j]!, error)
    }
    // A refusal leaves the call out of every participant, those that refuse too: they are staged
    // again until none refuses another call (staging changes nothing, so that is safe).
    for (let known = -1; known !== refused.size;) {
      known = refused.size
      for (const i of all.filter(refuses)) stage(i)
    }
    for (const i of all.filter((i) => !refuses(i))) stage(i)
    logs.forEach((batch, i) => batch.steps.adopt(staged[i]))
    return { logs, staged, callCount, refused }
  }

  async #write({ logs, staged, callCount, refused }: StagedBatch): Promise<(unknown | Refused)[]> {
    const swaps: Swap[] = []
    const ops: WriteOp[] = []
    logs.forEach((batch, i) => {
      const writes = batch.steps.writes(staged[i])
      if (writes === undefined) return
      if (writes.swaps !== undefined) for (const swap of writes.swaps) swaps.push(swap)
      for (const op of writes.ops) ops.push(op)
    })
    try {
      if (swaps.length > 0) await swapHeads(this.#driver, swaps, ops)
      else if (ops.length > 0) await this.#driver.write(ops, { sync: true })
    } catch (error) {
      this.#onBatch?.({ items: itemCounts(logs, refused), error })
      throw error
    }
    this.#onBatch?.({ items: itemCounts(logs, refused), error: undefined })
    const results = new Array<unknown>(callCount)
    logs.forEach((batch, i) => {
      const written = batch.steps.written(staged[i])
      for (let j = 0; j < written.length; j++) {
        const call = batch.callOf[j]!
        const part = batch.partOf[j]!
        if (part === -1) results[call] = written[j]!
        else ((results[call] ??= []) as unknown[])[part] = written[j]!
      }
    })
    for (const [call, error] of refused) results[call] = new Refused(error)
    return results
  }
}

/** Items per participant in a batch, but those of refused calls. */
function itemCounts(logs: readonly LogBatch[], refused: ReadonlyMap<number, unknown>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const { name, calls, callOf } of logs) {
    let items = 0
    for (let j = 0; j < calls.length; j++) if (!refused.has(callOf[j]!)) items += calls[j]!.length
    counts.set(name, items)
  }
  return counts
}

/**
 * The batch's write. A lost swap means that another writer wrote first: it moved a log head, or
 * (on a shared database) created a row that this batch creates.
 */
async function swapHeads(driver: StorageDriver, swaps: readonly Swap[], ops: readonly WriteOp[]): Promise<void> {
  try {
    await driver.compareAndSwapAll(swaps, ops)
  } catch (error) {
    if (isStorageError(error, 'SWAP_CONFLICT')) throw new StoreError('HEAD_CONFLICT', 'a log head moved under this writer', { cause: error })
    throw error
  }
}
