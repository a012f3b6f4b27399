/**
 * What batches written while lookups were under way hold: a lookup that began before a write may
 * have read storage before the write landed, so the written values are kept, and answered to
 * such a lookup, until every lookup that began before the write is done. A lookup takes a ticket
 * when it begins; `release(ticket)` says that no lookup older than `ticket` is still to be answered.
 */
export class RecentWrites<V> {
  #tickets = 0
  #batches: { readonly values: ReadonlyMap<string, V>; readonly afterTicket: number }[] = []

  /** A ticket for a lookup about to begin. */
  ticket(): number {
    return ++this.#tickets
  }

  /** `values` are in storage from now on: lookups holding a ticket issued so far may have missed them. */
  written(values: ReadonlyMap<string, V>): void {
    this.#batches.push({ values, afterTicket: this.#tickets })
  }

  /** The newest value of `key` written since the lookup holding `ticket` began, if any. */
  missed(key: string, ticket: number): V | undefined {
    for (let i = this.#batches.length - 1; i >= 0; i--) {
      const batch = this.#batches[i]!
      if (batch.afterTicket < ticket) return undefined
      const value = batch.values.get(key)
      if (value !== undefined) return value
    }
    return undefined
  }

  /** Forgets the batches that every lookup from `ticket` on saw in storage. */
  release(ticket: number): void {
    this.#batches = this.#batches.filter((batch) => batch.afterTicket >= ticket)
  }

  /** Every value kept, oldest batch first. */
  *entries(): Iterable<[string, V]> {
    for (const batch of this.#batches) yield* batch.values
  }
}
