/** A map of at most `capacity` entries that forgets the least recently used, each with an expiry. */
export class LruMap<K, V> {
  readonly #capacity: number
  readonly #entries = new Map<K, { value: V; until: number }>()

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer')
    this.#capacity = capacity
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: K): { value: V; until: number } | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry
  }

  set(key: K, value: V, until: number): void {
    this.#entries.delete(key)
    this.#entries.set(key, { value, until })
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value as K)
  }

  delete(key: K): void {
    this.#entries.delete(key)
  }
}
