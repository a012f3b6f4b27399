export interface SequencerOptions {
  /** Most entries one integration takes; a single larger call still goes whole. Default 1000. */
  readonly maxBatchSize?: number
  /** How long the first waiting call may wait for company, in ms. Default 0: only calls that
   *  arrive while a write is in flight are gathered, which adds no latency when idle. */
  readonly maxBatchWaitMs?: number
}

interface Waiting<T, R> {
  readonly items: readonly T[]
  readonly resolve: (result: R) => void
  readonly reject: (error: unknown) => void
}

/**
 * Gathers concurrent calls into batches and integrates one batch at a time, in two steps: a
 * `prepare` that changes no state (hashing, lookups) and may run while the previous batch's
 * `apply` is still writing, then `apply`, strictly in order. Each call's items stay together in
 * one batch, so a call is integrated whole or not at all.
 */
export class Sequencer<T, P, R> {
  readonly #prepare: (calls: readonly (readonly T[])[]) => Promise<P>
  readonly #apply: (calls: readonly (readonly T[])[], prepared: P) => Promise<R[]>
  readonly #maxBatchSize: number
  readonly #maxWaitMs: number
  readonly #waiting: Waiting<T, R>[] = []
  #running = false
  #idle: Promise<void> = Promise.resolve()

  constructor(prepare: (calls: readonly (readonly T[])[]) => Promise<P>,
      apply: (calls: readonly (readonly T[])[], prepared: P) => Promise<R[]>, options: SequencerOptions = {}) {
    this.#prepare = prepare
    this.#apply = apply
    this.#maxBatchSize = options.maxBatchSize ?? 1000
    this.#maxWaitMs = options.maxBatchWaitMs ?? 0
    if (!Number.isInteger(this.#maxBatchSize) || this.#maxBatchSize < 1) throw new RangeError('maxBatchSize must be a positive integer')
    if (!(this.#maxWaitMs >= 0)) throw new RangeError('maxBatchWaitMs must be >= 0')
  }

  /** Resolves with this call's result once its batch is integrated. */
  submit(items: readonly T[]): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject })
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
    let batch: Waiting<T, R>[] | undefined = this.#takeBatch()
    let prepared = this.#startPrepare(batch)
    while (batch !== undefined) {
      let next: Waiting<T, R>[] | undefined
      let nextPrepared: Promise<P> | undefined
      try {
        const ready = await prepared
        // Hash and look up the next batch while this one is being written.
        next = this.#waiting.length > 0 ? this.#takeBatch() : undefined
        nextPrepared = next && this.#startPrepare(next)
        const results = await this.#apply(batch.map((call) => call.items), ready)
        batch.forEach((call, i) => call.resolve(results[i]!))
      } catch (error) {
        for (const call of batch) call.reject(error)
      }
      if (next === undefined && this.#waiting.length > 0) {
        next = this.#takeBatch()
        nextPrepared = this.#startPrepare(next)
      }
      batch = next
      prepared = nextPrepared!
    }
    this.#running = false
  }

  #startPrepare(batch: Waiting<T, R>[]): Promise<P> {
    const prepared = this.#prepare(batch.map((call) => call.items))
    // Its failure is reported when the batch's turn comes, not as an unhandled rejection.
    prepared.catch(() => undefined)
    return prepared
  }

  #takeBatch(): Waiting<T, R>[] {
    const batch = [this.#waiting.shift()!]
    let count = batch[0]!.items.length
    while (this.#waiting.length > 0 && count + this.#waiting[0]!.items.length <= this.#maxBatchSize) {
      const call = this.#waiting.shift()!
      count += call.items.length
      batch.push(call)
    }
    return batch
  }
}
