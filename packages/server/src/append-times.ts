// When a witnessed log's entries were appended, coarsely, so that metrics can say how long the
// checkpoint it serves (the newest that meets its policy) has lacked its newest entries.

/** Marks closer together than this are one: ages are overstated by at most this much. */
const RESOLUTION_MS = 1_000
/** Marks kept per log (an hour of steady appends at RESOLUTION_MS); past it the oldest go. */
const MAX_MARKS = 3_600

/** From `size` on, the log's entries were appended at `at` or later. */
interface Mark {
  readonly size: number
  readonly at: number
}

export class AppendTimes {
  readonly #marks = new Map<string, Mark[]>()
  /** Entries appended before the process started count from its start. */
  readonly #start: number

  constructor(now: number) {
    this.#start = now
  }

  /** The log grew from `size` at `now`. */
  grew(log: string, size: number, now: number): void {
    let marks = this.#marks.get(log)
    if (marks === undefined) this.#marks.set(log, marks = [])
    const last = marks.at(-1)
    if (last !== undefined && now - last.at < RESOLUTION_MS) return
    marks.push({ size, at: now })
    if (marks.length > MAX_MARKS) marks.shift()
  }

  /**
   * Seconds since the first entry from `served` on was appended: 0 when `served` is the
   * log's `size`. Forgets what no later call can need.
   */
  age(log: string, served: number, size: number, now: number): number {
    const marks = this.#marks.get(log) ?? []
    if (served >= size) {
      this.#marks.delete(log)
      return 0
    }
    let covering = -1
    while (covering + 1 < marks.length && marks[covering + 1]!.size <= served) covering++
    if (covering > 0) marks.splice(0, covering)
    const since = covering === -1 ? this.#start : marks[0]!.at
    return Math.max(0, now - since) / 1000
  }
}
