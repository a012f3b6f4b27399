/** A write's result for a call it left out: the call is rejected with `error`, the rest of its batch goes on. */
export class Refused {
  constructor(readonly error: unknown) {}
}

export interface SequencerOptions {
  /** Most entries one integration takes; a single larger call still goes whole. Default 1000. */
  readonly maxBatchSize?: number
  /** How long the first waiting call may wait for company, in ms. Default 0: only calls that
   *  arrive while a write is in flight are gathered, which adds no latency when idle. */
  readonly maxBatchWaitMs?: number
}

interface Waiting<T, R> {
  readonly items: readonly T[]
  /** What the call counts for against maxBatchSize. */
  readonly size: number
  readonly resolve: (result: R) => void
  readonly reject: (error: unknown) => void
  /** Writes of the call lost to another process so far (see SequencerTurns). */
  lost: number
}

/** The steps a Sequencer runs for each batch; see Sequencer. */
export interface SequencerSteps<T, P, S, R> {
  /** Work that changes no state (hashing, lookups): may run while an earlier batch is written. */
  prepare(calls: readonly (readonly T[])[]): Promise<P>
  /** Decides the batch on top of every batch staged before it (durable or not); in order. */
  stage(calls: readonly (readonly T[])[], prepared: P): Promise<S>
  /** Makes a staged batch durable and gives each call's result (Refused for a call it left out); in order, one at a time. */
  write(staged: S): Promise<(R | Refused)[]>
  /** A write failed: forget every staged batch, so the next stage builds on what is durable. */
  discard(): void
}

/**
 * Turns, for a database that other processes write too. Batches are prepared, staged and
 * written only within a turn, and a turn begins by bringing the state up to date, so that a
 * batch builds on (and looks its duplicates up after) every other process's writes. A write
 * that lost to another process anyway (`lost`) is not failed: its calls are sequenced again in
 * a new turn, up to MAX_LOST times.
 */
export interface SequencerTurns {
  /** Waits for this process's turn (another process may hold it), then brings the state up to date. */
  begin(): Promise<void>
  /** Ends a turn; no write is in flight. */
  end(): Promise<void>
  /** Whether a write failed because another process wrote first (a lost compare-and-swap). */
  lost(error: unknown): boolean
  /** How long a turn lasts while calls keep coming, in ms, before other processes get theirs. */
  readonly turnMs: number
  /** How long a turn with time left waits for a call when there is none, in ms, before it ends. */
  readonly idleMs: number
}

/** How often one call may lose its write to other processes before it is failed with the last loss. */
export const MAX_LOST = 16

type Outcome<R> = { readonly ok: true; readonly results: readonly (R | Refused)[] } | { readonly ok: false; readonly error: unknown }

interface Writing<T, R> {
  readonly batch: readonly Waiting<T, R>[]
  /** Never rejects: a failed write is an outcome like a good one. */
  readonly outcome: Promise<Outcome<R>>
}

/** A written batch whose calls are still to be answered. */
interface Written<T, R> {
  readonly batch: readonly Waiting<T, R>[]
  readonly results: readonly (R | Refused)[]
}

/**
 * Gathers concurrent calls into batches and integrates them in order. A batch takes the calls
 * that arrive while the write before it is in flight; once a full batch waits, it is prepared
 * and staged on top of that write (its CPU work, hashing and tree integration, overlaps the
 * fsync), and its write starts once the first one's is done. If a write fails, its calls are
 * rejected, what was staged is discarded, and the next batch is staged again on the durable
 * state. Each call's items stay together in one batch, so a call is integrated whole or not
 * at all.
 */
export class Sequencer<T, P, S, R> {
  readonly #steps: SequencerSteps<T, P, S, R>
  readonly #maxBatchSize: number
  readonly #maxWaitMs: number
  readonly #waiting: Waiting<T, R>[] = []
  /** The sizes of the waiting calls, summed. */
  #waitingCount = 0
  #running = false
  #idle: Promise<void> = Promise.resolve()
  /** Wakes the loop, waiting on a write, once a full batch is waiting to be staged on top of it. */
  #onFull: (() => void) | undefined

  readonly #turns: SequencerTurns | undefined
  /** When the current turn began (performance.now()); undefined outside a turn. */
  #turnStart: number | undefined
  /** A write lost to another process: the next batch begins a new turn. */
  #lostTurn = false
  /** The betweenBatches task running, if any. */
  #task: Promise<void> | undefined
  /** betweenBatches callers waiting for a turn to begin (true) or the batches to end (false). */
  #turnWaiters: ((begun: boolean) => void)[] = []

  constructor(steps: SequencerSteps<T, P, S, R>, options: SequencerOptions = {}, turns?: SequencerTurns) {
    this.#steps = steps
    this.#turns = turns
    this.#maxBatchSize = options.maxBatchSize ?? 1000
    this.#maxWaitMs = options.maxBatchWaitMs ?? 0
    if (!Number.isInteger(this.#maxBatchSize) || this.#maxBatchSize < 1) throw new RangeError('maxBatchSize must be a positive integer')
    if (!(this.#maxWaitMs >= 0)) throw new RangeError('maxBatchWaitMs must be >= 0')
  }

  /** Resolves with this call's result once its batch is integrated; `size` counts against maxBatchSize. */
  submit(items: readonly T[], size: number = items.length): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#waiting.push({ items, size, resolve, reject, lost: 0 })
      this.#waitingCount += size
      if (this.#waitingCount >= this.#maxBatchSize) {
        const wake = this.#onFull
        this.#onFull = undefined
        wake?.()
      }
      if (!this.#running) {
        this.#running = true
        this.#idle = this.#run()
      }
    })
  }

  /** Resolves when every call submitted so far has settled. */
  async drain(): Promise<void> {
    while (this.#running) await this.#idle
  }

  /**
   * Runs `task` between batches, with none begun meanwhile (calls submitted during it wait for
   * it), for catching up with other processes: at once when no batch is being sequenced; else,
   * with turns, resolves once the next turn has begun (a turn catches up as it begins), or runs
   * `task` once the batches are done if they end first.
   */
  async betweenBatches(task: () => Promise<void>): Promise<void> {
    for (;;) {
      // Another task runs: it ends without starting batches of its own, so wait for it.
      while (this.#task !== undefined) await this.#task
      if (!this.#running) break
      if (await new Promise<boolean>((resolve) => this.#turnWaiters.push(resolve))) return
    }
    this.#running = true
    const run = (async () => {
      try {
        await task()
      } finally {
        this.#running = false
        this.#task = undefined
        this.#restartIfWaiting()
      }
    })()
    this.#idle = this.#task = run.catch(() => undefined)
    await run
  }

  /** Tells the betweenBatches callers waiting that a turn began (true) or the batches ended (false). */
  #hear(begun: boolean): void {
    const waiters = this.#turnWaiters
    this.#turnWaiters = []
    for (const waiter of waiters) waiter(begun)
  }

  async #run(): Promise<void> {
    if (this.#maxWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#maxWaitMs))
    else await new Promise((resolve) => setImmediate(resolve))
    let writing: Writing<T, R> | undefined
    for (;;) {
      // Calls are answered only once the next write has started, so the disk is not idle while
      // their responses go out.
      let written: Written<T, R> | undefined
      // A batch takes every call that arrives while the write before it runs: staged at the first
      // arrival instead, it would be small and later arrivals would wait for two writes. Only a
      // full batch is staged at once, on top of the write in flight.
      while (writing !== undefined && this.#waitingCount < this.#maxBatchSize) {
        const full = new Promise<undefined>((resolve) => { this.#onFull = () => resolve(undefined) })
        const outcome = await Promise.race([writing.outcome, full])
        this.#onFull = undefined
        if (outcome === undefined) continue
        written = this.#finish(writing, outcome)
        writing = undefined
      }
      if (this.#waiting.length === 0) {
        if (written !== undefined) answer(written)
        // The callers just answered often call again at once: a turn with time left is kept a
        // moment for them, rather than given up and waited for again behind other processes.
        if (this.#turns !== undefined && this.#inTurn() && await this.#callsWithin(this.#turns.idleMs)) continue
        break
      }
      if (this.#turns !== undefined && !this.#inTurn()) {
        // A turn ends with no write in flight: the next holder builds on all of this one's.
        if (writing !== undefined) {
          written = this.#finish(writing, await writing.outcome)
          writing = undefined
        }
        if (written !== undefined) answer(written)
        written = undefined
        if (!await this.#newTurn()) continue
        if (this.#waiting.length === 0) continue
      }
      const batch = this.#takeBatch()
      const calls = batch.map((call) => call.items)
      let staged: S
      try {
        const prepared = await this.#steps.prepare(calls)
        staged = await this.#steps.stage(calls, prepared)
        if (writing !== undefined) {
          const before = writing
          writing = undefined
          written = this.#finish(before, await before.outcome)
          if (written === undefined && this.#lostTurn) {
            // Prepared before the loss, without the other process's writes: sequenced again
            // after the calls of the write that lost, which went back first.
            this.#requeue(batch, 0, before.batch.length)
            continue
          }
          if (written === undefined) staged = await this.#steps.stage(calls, prepared)
        }
      } catch (error) {
        for (const call of batch) call.reject(error)
        if (written !== undefined) answer(written)
        continue
      }
      writing = { batch, outcome: outcomeOf(this.#steps.write(staged)) }
      if (written !== undefined) answer(written)
    }
    if (this.#turnStart !== undefined) await this.#endTurn()
    this.#running = false
    this.#hear(false)
    // Calls that came while the turn ended found the loop still running.
    this.#restartIfWaiting()
  }

  #restartIfWaiting(): void {
    if (this.#running || this.#waiting.length === 0) return
    this.#running = true
    this.#idle = this.#run()
  }

  /** Whether a call comes within `ms`. */
  async #callsWithin(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return this.#waiting.length > 0
  }

  #inTurn(): boolean {
    return this.#turnStart !== undefined && !this.#lostTurn && performance.now() - this.#turnStart < this.#turns!.turnMs
  }

  /**
   * Ends the turn held, if any, and begins the next. When it cannot begin (the database is
   * unreachable, say), the next batch's calls are rejected with the error.
   * @returns whether a turn began.
   */
  async #newTurn(): Promise<boolean> {
    if (this.#turnStart !== undefined) await this.#endTurn()
    this.#lostTurn = false
    try {
      await this.#turns!.begin()
    } catch (error) {
      for (const call of this.#takeBatch()) call.reject(error)
      return false
    }
    this.#turnStart = performance.now()
    this.#hear(true)
    return true
  }

  async #endTurn(): Promise<void> {
    this.#turnStart = undefined
    // A turn that cannot be given back cleanly ends with its holder's connection; the next
    // turn's begin reports what is wrong with the database.
    await this.#turns!.end().catch(() => undefined)
  }

  /** Puts calls back in the queue, in order, at `at` (default: the front), each having lost `lost` more writes. */
  #requeue(calls: readonly Waiting<T, R>[], lost: number, at = 0): void {
    for (const call of calls) call.lost += lost
    this.#waiting.splice(at, 0, ...calls)
    for (const call of calls) this.#waitingCount += call.size
  }

  /**
   * A finished write's calls to answer; if it failed, none: its calls are rejected now and what
   * was staged on it is discarded.
   */
  #finish(writing: Writing<T, R>, outcome: Outcome<R>): Written<T, R> | undefined {
    if (outcome.ok) return { batch: writing.batch, results: outcome.results }
    this.#steps.discard()
    if (this.#turns?.lost(outcome.error) === true && writing.batch.every((call) => call.lost < MAX_LOST)) {
      this.#lostTurn = true
      this.#requeue(writing.batch, 1)
      return undefined
    }
    for (const call of writing.batch) call.reject(outcome.error)
    return undefined
  }

  #takeBatch(): Waiting<T, R>[] {
    const batch = [this.#waiting.shift()!]
    let count = batch[0]!.size
    while (this.#waiting.length > 0 && count + this.#waiting[0]!.size <= this.#maxBatchSize) {
      const call = this.#waiting.shift()!
      count += call.size
      batch.push(call)
    }
    this.#waitingCount -= count
    return batch
  }
}

async function outcomeOf<R>(done: Promise<readonly (R | Refused)[]>): Promise<Outcome<R>> {
  try {
    return { ok: true, results: await done }
  } catch (error) {
    return { ok: false, error }
  }
}

function answer<T, R>({ batch, results }: Written<T, R>): void {
  batch.forEach((call, i) => {
    const result = results[i]!
    if (result instanceof Refused) call.reject(result.error)
    else call.resolve(result)
  })
}
