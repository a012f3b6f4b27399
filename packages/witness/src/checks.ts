import { encodeBase64 } from '@annal/note'
import type { SeenCheckpoint } from './evidence.js'
import type { WitnessState } from './state.js'
import { checkWithTiles, type TileCheck } from './tiles.js'

export interface CheckOptions {
  /** Limit on each tile request, in ms. Default 10,000. */
  readonly timeoutMs?: number
  /** Pause before the first retry of a failed check, in ms; it doubles with each retry. Default 5,000. */
  readonly retryMs?: number
  /** Attempts per check before it is dropped. Default 5. */
  readonly maxAttempts?: number
  readonly fetch?: typeof fetch
}

/** What the checks need of the witness (the Witness implements it). */
export interface CheckHost {
  /** The origin's cosigned state as committed, and whether it holds evidence. */
  current(origin: string): Promise<{ readonly state: WitnessState | undefined; readonly frozen: boolean }>
  /** `seen` is consistent with `state`: a pending copy of it may go. */
  settled(origin: string, seen: SeenCheckpoint, state: WitnessState): Promise<void>
  /** The log's tiles show `seen` and `state` inconsistent: store evidence. */
  inconsistent(origin: string, seen: SeenCheckpoint, state: WitnessState,
    result: Extract<TileCheck, { kind: 'inconsistent' }>, url: string): Promise<void>
}

/** How the checks of one origin went since the start (not stored). */
export interface CheckStatus {
  readonly origin: string
  readonly url: string
  /** Checks waiting (each a checkpoint, by size and root). */
  readonly queued: number
  readonly verified: number
  readonly inconsistent: number
  /** Failed attempts: network, status, tile length, tiles not matching the larger checkpoint. */
  readonly failures: number
  readonly lastError: string | undefined
}

/** Checks held per origin; more are dropped (gossip brings them again). */
export const MAX_CHECKS = 16
/** Pairs remembered per origin as verified or given up, so gossip does not redo them. */
const MAX_DONE = 256

interface Check {
  readonly seen: SeenCheckpoint
  attempts: number
  due: number
  /** The state the last failed attempt ran against (a new state retries at once). */
  failedAgainst: string | undefined
}

interface OriginChecks {
  readonly origin: string
  readonly url: string
  readonly queue: Map<string, Check>
  /** Pair key -> until when (ms) it needs no check: Infinity when verified. */
  readonly done: Map<string, number>
  worker: Promise<void> | undefined
  wake: (() => void) | undefined
  status: Omit<CheckStatus, 'queued'>
}

const headKey = (head: { readonly size: number; readonly rootHash: Uint8Array }): string => `${head.size} ${encodeBase64(head.rootHash)}`
/** A checked pair: a seen checkpoint against a cosigned state. */
const pairKey = (seen: SeenCheckpoint, state: WitnessState): string => `${headKey(seen)} / ${headKey(state)}`

/**
 * Background consistency checks between checkpoints of different sizes, for origins with a
 * tlog-tiles URL: one worker per origin, a bounded, deduplicated queue, retries with backoff.
 * Nothing here holds the origin's queue while fetching; only the host's callbacks take it.
 */
export class ConsistencyChecks {
  readonly #host: CheckHost
  readonly #origins = new Map<string, OriginChecks>()
  readonly #timeoutMs: number
  readonly #retryMs: number
  readonly #maxAttempts: number
  readonly #fetch: typeof fetch | undefined
  readonly #stop = new AbortController()

  /** `urls`: origin -> tlog-tiles prefix, without a trailing slash. RangeError for bad numbers. */
  constructor(host: CheckHost, urls: ReadonlyMap<string, string>, options: CheckOptions = {}) {
    this.#host = host
    this.#timeoutMs = options.timeoutMs ?? 10_000
    this.#retryMs = options.retryMs ?? 5_000
    this.#maxAttempts = options.maxAttempts ?? 5
    if (!(this.#timeoutMs >= 1) || !(this.#retryMs >= 1) || !(Number.isInteger(this.#maxAttempts) && this.#maxAttempts >= 1)) {
      throw new RangeError('check timeout and retry must be >= 1 ms, attempts an integer >= 1')
    }
    this.#fetch = options.fetch
    for (const [origin, url] of urls) {
      this.#origins.set(origin, { origin, url, queue: new Map(), done: new Map(), worker: undefined, wake: undefined,
        status: { origin, url, verified: 0, inconsistent: 0, failures: 0, lastError: undefined } })
    }
  }

  /** True when `seen` was shown consistent with `state` (and needs no new check). */
  verified(origin: string, seen: SeenCheckpoint, state: WitnessState | undefined): boolean {
    const o = this.#origins.get(origin)
    return o !== undefined && state !== undefined && o.done.get(pairKey(seen, state)) === Infinity
  }

  /**
   * Queues a check of `seen` against the cosigned state (read again when the check runs), if
   * the origin has a URL, the sizes differ and are above 0, and the pair is not known. Never
   * waits and never throws.
   */
  enqueue(origin: string, seen: SeenCheckpoint, state: WitnessState | undefined): void {
    const o = this.#origins.get(origin)
    if (o === undefined || state === undefined || seen.size === state.size || seen.size === 0 || state.size === 0
        || this.#stop.signal.aborted || this.#isDone(o, pairKey(seen, state))) return
    const key = headKey(seen)
    const queued = o.queue.get(key)
    if (queued !== undefined) {
      if (queued.failedAgainst !== undefined && queued.failedAgainst !== headKey(state)) queued.due = 0
    } else if (o.queue.size < MAX_CHECKS) {
      o.queue.set(key, { seen, attempts: 0, due: 0, failedAgainst: undefined })
    } else {
      return
    }
    if (o.worker === undefined) o.worker = this.#work(o)
    else o.wake?.()
  }

  #isDone(o: OriginChecks, pair: string): boolean {
    const until = o.done.get(pair)
    if (until === undefined) return false
    if (until > Date.now()) return true
    o.done.delete(pair)
    return false
  }

  #remember(o: OriginChecks, pair: string, until: number): void {
    o.done.delete(pair)
    o.done.set(pair, until)
    if (o.done.size > MAX_DONE) o.done.delete(o.done.keys().next().value!)
  }

  async #work(o: OriginChecks): Promise<void> {
    while (!this.#stop.signal.aborted && o.queue.size > 0) {
      const [key, check] = [...o.queue].reduce((a, b) => (b[1].due < a[1].due ? b : a))
      const wait = check.due - Date.now()
      if (wait > 0) await this.#sleep(o, wait)
      else await this.#attempt(o, key, check)
    }
    o.worker = undefined
  }

  #sleep(o: OriginChecks, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#stop.signal.removeEventListener('abort', done)
        o.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#stop.signal.addEventListener('abort', done, { once: true })
      o.wake = done
    })
  }

  async #attempt(o: OriginChecks, key: string, check: Check): Promise<void> {
    check.attempts++
    let pair: string | undefined
    let state: WitnessState | undefined
    try {
      const current = await this.#host.current(o.origin)
      state = current.state
      if (current.frozen || state === undefined || state.size === check.seen.size) return void o.queue.delete(key)
      pair = pairKey(check.seen, state)
      if (this.#isDone(o, pair)) return void o.queue.delete(key)
      const [smaller, larger] = check.seen.size < state.size ? [check.seen, state] : [state, check.seen]
      const result = await checkWithTiles(o.url, smaller, larger,
        { timeoutMs: this.#timeoutMs, signal: this.#stop.signal, fetch: this.#fetch })
      if (result.kind === 'consistent') {
        this.#remember(o, pair, Infinity)
        o.status = { ...o.status, verified: o.status.verified + 1 }
        await this.#host.settled(o.origin, check.seen, state)
      } else {
        o.status = { ...o.status, inconsistent: o.status.inconsistent + 1 }
        await this.#host.inconsistent(o.origin, check.seen, state, result, o.url)
      }
      o.queue.delete(key)
    } catch (error) {
      if (this.#stop.signal.aborted) return
      const lastError = error instanceof Error ? error.message : 'failed'
      o.status = { ...o.status, failures: o.status.failures + 1, lastError }
      if (check.attempts >= this.#maxAttempts) {
        o.queue.delete(key)
        // Given up: gossip may bring it again after a pause as long as all the retries took.
        if (pair !== undefined) this.#remember(o, pair, Date.now() + this.#retryMs * 2 ** this.#maxAttempts)
      } else {
        check.due = Date.now() + this.#retryMs * 2 ** (check.attempts - 1)
        check.failedAgainst = state && headKey(state)
      }
    }
  }

  status(): CheckStatus[] {
    return [...this.#origins.values()].map((o) => ({ ...o.status, queued: o.queue.size }))
  }

  /** Stops every check, aborting tile requests in flight; resolves when the workers have ended. */
  async close(): Promise<void> {
    this.#stop.abort()
    await Promise.all([...this.#origins.values()].map((o) => o.worker))
  }
}
