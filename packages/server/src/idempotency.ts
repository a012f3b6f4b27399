import { TlogError } from '@annal/tlog'
import { LruMap } from './internal/lru.js'

/** A response remembered for an Idempotency-Key. */
export interface StoredResponse {
  readonly status: 200 | 201
  readonly contentType: string
  readonly body: string | Uint8Array<ArrayBuffer>
}

interface Slot {
  readonly request: string
  readonly response: Promise<StoredResponse>
}

const KEY = /^[\x21-\x7e]{1,255}$/

/**
 * Remembers the responses of requests made with an Idempotency-Key, in memory: at most
 * `capacity` keys, each for `ttlMs`, forgotten on restart. A retry waits for the first
 * request if it is still running. A request that failed is forgotten, so it can be retried.
 */
export class IdempotencyStore {
  readonly #slots: LruMap<string, Slot>
  readonly #ttlMs: number
  readonly #clock: () => Date

  constructor(capacity: number, ttlMs: number, clock: () => Date) {
    this.#slots = new LruMap(capacity)
    this.#ttlMs = ttlMs
    this.#clock = clock
  }

  /**
   * Runs `run` once per `scope` + `key`; `request` (a digest of the request) must match on retries.
   * @throws TlogError REQUEST_MALFORMED for a bad key; IDEMPOTENCY_KEY_REUSED for another request under the key.
   */
  async once(scope: string, key: string, request: string, run: () => Promise<StoredResponse>): Promise<{ response: StoredResponse; replayed: boolean }> {
    if (!KEY.test(key)) throw new TlogError('REQUEST_MALFORMED', 'an Idempotency-Key is 1-255 visible ASCII characters')
    const id = `${scope}\n${key}`
    const now = this.#clock().getTime()
    const slot = this.#slots.get(id)
    if (slot !== undefined && now < slot.until) {
      if (slot.value.request !== request) throw new TlogError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another request')
      return { response: await slot.value.response, replayed: true }
    }
    const response = run()
    const fresh: Slot = { request, response }
    this.#slots.set(id, fresh, now + this.#ttlMs)
    try {
      return { response: await response, replayed: false }
    } catch (error) {
      if (this.#slots.get(id)?.value === fresh) this.#slots.delete(id)
      throw error
    }
  }
}
