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

interface Writing<T, R> {
  readonly batch: readonly Waiting<T, R>[]
  readonly done: Promise<(R | Refused)[]>
}

/**
 * Gathers concurrent calls into batches and integrates them in order, two deep: while one
 * batch's write is in flight, the next is prepared and staged on top of it (its CPU work,
 * hashing and tree integration, overlaps the fsync), and its write starts once the first
 * one's is done. If a write fails, its calls are rejected, what was staged is discarded,
 * and the next batch is staged again on the durable state. Each call's items stay together
 * in one batch, so a call is integrated whole or not at all.
 */
export class Sequencer<T, P, S, R> {
  readonly #steps: SequencerSteps<T, P, S, R>
  readonly #maxBatchSize: number
  readonly #maxWaitMs: number
  readonly #waiting: Waiting<T, R>[] = []
  #running = false
  #idle: Promise<void> = Promise.resolve()
  /** Wakes the loop while it waits on a write with nothing to stage. */
  #onArrival: (() => void) | undefined

  constructor(steps: SequencerSteps<T, P, S, R>, options: SequencerOptions = {}) {
    this.#steps = steps
    this.#maxBatchSize = options.maxBatchSize ?? 1000
    this.#maxWaitMs = options.maxBatchWaitMs ?? 0
    if (!Number.isInteger(this.#maxBatchSize) || this.#maxBatchSize < 1) throw new RangeError('maxBatchSize must be a positive integer')
    if (!(this.#maxWaitMs >= 0)) throw new RangeError('maxBatchWaitMs must be >= 0')
  }

  /** Resolves with this call's result once its batch is integrated; `size` counts against maxBatchSize. */
  submit(items: readonly T[], size: number = items.length): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#waiting.push({ items, size, resolve, reject })
      const wake = this.#onArrival
      this.#onArrival = undefined
      wake?.()
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

  async #run(): Promise<void> {
    if (this.#maxWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#maxWaitMs))
    else await new Promise((resolve) => setImmediate(resolve))
    let writing: Writing<T, R> | undefined
    for (;;) {
      if (this.#waiting.length === 0) {
        if (writing === undefined) break
        // Wait for the write, or for a call to arrive: that one is staged while the write goes on.
        const arrived = new Promise<'arrived'>((resolve) => { this.#onArrival = () => resolve('arrived') })
        const first = await Promise.race([writing.done.then(() => 'written', () => 'written'), arrived])
        this.#onArrival = undefined
        if (first === 'arrived') continue
        await this.#settle(writing)
        writing = undefined
        continue
      }
      const batch = this.#takeBatch()
      const calls = batch.map((call) => call.items)
      let prepared: P
      let staged: S
      try {
        prepared = await this.#steps.prepare(calls)
        staged = await this.#steps.stage(calls, prepared)
      } catch (error) {
        for (const call of batch) call.reject(error)
        continue
      }
      if (writing !== undefined) {
        const written = await this.#settle(writing)
        writing = undefined
        if (!written) {
          try {
            staged = await this.#steps.stage(calls, prepared)
          } catch (error) {
            for (const call of batch) call.reject(error)
            continue
          }
        }
      }
      const done = this.#steps.write(staged)
      // Its failure is reported when it is settled, not as an unhandled rejection.
      done.catch(() => undefined)
      writing = { batch, done }
    }
    this.#running = false
  }

  /** Waits for a write and settles its calls; false (and what was staged discarded) if it failed. */
  async #settle(writing: Writing<T, R>): Promise<boolean> {
    try {
      const results = await writing.done
      writing.batch.forEach((call, i) => {
        const result = results[i]!
        if (result instanceof Refused) call.reject(result.error)
        else call.resolve(result)
      })
      return true
    } catch (error) {
      for (const call of writing.batch) call.reject(error)
      this.#steps.discard()
      return false
    }
  }

  #takeBatch(): Waiting<T, R>[] {
    const batch = [this.#waiting.shift()!]
    let count = batch[0]!.size
    while (this.#waiting.length > 0 && count + this.#waiting[0]!.size <= this.#maxBatchSize) {
      const call = this.#waiting.shift()!
      count += call.size
      batch.push(call)
    }
    return batch
  }
}
