// Requests, appends, refusals and alerts over time, counted per minute and per hour as the
// alerts follower reads the access log, so that a chart reads one small row per bucket and
// never the log: its cost follows the buckets shown, not the requests made.
import type { RowTable, TableRow } from '@annal/store'
import { isAppend, type SeenRecord } from './alert-rules.js'
import { encodeUtf8 } from './internal/utf8.js'

export const ACTIVITY_KINDS = ['requests', 'appends', 'refusals', 'alerts'] as const
export type ActivityKind = (typeof ACTIVITY_KINDS)[number]
export type ActivityCounts = Record<ActivityKind, number>

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
/** Minute buckets are kept this long; hour buckets as long as the longest review window. */
const KEEP_MINUTES_MS = 2 * 86_400_000
const KEEP_HOURS_MS = 400 * 86_400_000
/** The longest window answered in minute buckets (1,440 of them); longer ones are in hours. */
const MINUTE_WINDOW_MS = 86_400_000
/** Buckets remembered after a write, so that the next batch, which mostly adds to them, reads none. */
const CACHED_BUCKETS = 16
const utf8 = new TextDecoder()

/** One bucket as GET /v1/admin/activity answers it. */
export interface ActivityBucket extends ActivityCounts {
  readonly start: string
}

/** A record that counts: `requests` always, plus `appends` or `refusals` (401 and 403 answers). */
export function kindsOf(record: SeenRecord): ActivityKind[] {
  if (isAppend(record)) return ['requests', 'appends']
  if (record.status === 401 || record.status === 403) return ['requests', 'refusals']
  return ['requests']
}

/** Row keys sort by time: the bucket's start in ms, zero-padded. */
function bucketKey(granularity: 'm' | 'h', start: number): string {
  return `${granularity}/${String(start).padStart(16, '0')}`
}

function zero(): ActivityCounts {
  return { requests: 0, appends: 0, refusals: 0, alerts: 0 }
}

/**
 * The activity table. Counts are added to a batch, whose rows go into the alerts follower's
 * write with its cursor: after a crash the records are counted again from the cursor, so every
 * record counts once.
 */
export class Activity {
  readonly #table: RowTable
  readonly #cache = new Map<string, ActivityCounts>()
  #prunedHour = 0

  constructor(table: RowTable) {
    this.#table = table
  }

  /** A batch of counts, written with `rows()` and remembered once `adopt()` says the write landed. */
  batch(): ActivityBatch {
    const added = new Map<string, ActivityCounts>()
    let values = new Map<string, ActivityCounts>()
    return {
      add: (time, kinds) => {
        if (!Number.isFinite(time)) return
        for (const key of [bucketKey('m', time - (time % MINUTE_MS)), bucketKey('h', time - (time % HOUR_MS))]) {
          let counts = added.get(key)
          if (counts === undefined) added.set(key, counts = zero())
          for (const kind of kinds) counts[kind]++
        }
      },
      rows: async () => {
        values = new Map()
        const rows: TableRow[] = []
        for (const [key, counts] of added) {
          const base = this.#cache.get(key) ?? await this.#stored(key)
          const value = Object.fromEntries(ACTIVITY_KINDS.map((kind) => [kind, base[kind] + counts[kind]])) as ActivityCounts
          values.set(key, value)
          rows.push(this.#table.row(key, encodeUtf8(JSON.stringify(value))))
        }
        return rows
      },
      adopt: () => {
        for (const [key, value] of values) {
          this.#cache.delete(key)
          this.#cache.set(key, value)
        }
        for (const key of this.#cache.keys()) {
          if (this.#cache.size <= CACHED_BUCKETS) break
          this.#cache.delete(key)
        }
      },
    }
  }

  /**
   * Deletes buckets past their keeping, at most once an hour of `now` (records' time). A lost
   * delete only leaves rows that reads skip.
   */
  async prune(now: number): Promise<void> {
    const hour = now - (now % HOUR_MS)
    if (hour <= this.#prunedHour) return
    this.#prunedHour = hour
    const old: string[] = []
    for (const [granularity, keep] of [['m', KEEP_MINUTES_MS], ['h', KEEP_HOURS_MS]] as const) {
      const before = bucketKey(granularity, now - keep)
      for await (const [key] of this.#table.rows(`${granularity}/`)) {
        if (key >= before) break
        old.push(key)
      }
    }
    await this.#table.delete(old)
  }

  /**
   * The buckets from `since` to `until` (ms) that counted anything, oldest first: minutes for a
   * window up to a day, else hours.
   */
  async series(since: number, until: number): Promise<{ bucketMs: number; buckets: ActivityBucket[] }> {
    const minutes = until - since <= MINUTE_WINDOW_MS
    const granularity = minutes ? 'm' : 'h'
    const bucketMs = minutes ? MINUTE_MS : HOUR_MS
    const from = bucketKey(granularity, since - (since % bucketMs))
    const to = bucketKey(granularity, until)
    const buckets: ActivityBucket[] = []
    for await (const [key, value] of this.#table.rows(`${granularity}/`)) {
      if (key < from) continue
      if (key > to) break
      const counts = JSON.parse(utf8.decode(value)) as ActivityCounts
      buckets.push({ start: new Date(Number(key.slice(2))).toISOString(), ...counts })
    }
    return { bucketMs, buckets }
  }

  async #stored(key: string): Promise<ActivityCounts> {
    const bytes = await this.#table.get(key)
    return bytes === undefined ? zero() : { ...zero(), ...JSON.parse(utf8.decode(bytes)) as ActivityCounts }
  }
}

export interface ActivityBatch {
  /** Counts `kinds` once each at `time` (ms), in its minute and its hour. */
  add(time: number, kinds: readonly ActivityKind[]): void
  /** The rows holding the counts so far with what was stored. */
  rows(): Promise<TableRow[]>
  /** The rows were written: remember them for the next batch. */
  adopt(): void
}
