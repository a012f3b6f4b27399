import { createHash } from 'node:crypto'
import { isStoreError, type Ledger, type Log, type RowTable, type TableRow } from '@annal/store'
import { ACCESS_RECORD_TYPE } from './access-record.js'
import {
  type AlertDraft, type AlertRules, type DeepPartial, RuleState, type SeenRecord, alertRules, isAdminChange, isAppend,
  principalKey, principalSubject,
} from './alert-rules.js'
import { canonicalJson } from './canonical-json.js'
import { encodeUtf8 } from './internal/utf8.js'
import { Activity, type ActivityBatch, kindsOf } from './activity.js'
import { ACCESS_LOG, ALERTS_LOG } from './scopes.js'
import { type PrincipalAggregate, addRecord, aggregateBytes, newAggregate, reviewJson } from './scope-review.js'
import { decodeAggregate, encodeAggregate } from './scope-review-bytes.js'
import { type WebhookConfig, WebhookDelivery, type WebhookTiming, outboxKey, parseEndpoint } from './webhooks.js'

export interface AlertsOptions {
  /** Thresholds and switches, rule by rule, over DEFAULT_ALERT_RULES. */
  readonly rules?: DeepPartial<AlertRules>
  /** Where alerts are POSTed, signed per Standard Webhooks. */
  readonly webhooks?: readonly WebhookConfig[]
  readonly webhookTiming?: WebhookTiming
  /** How often the access log's size is looked at, in ms. Default 100. */
  readonly pollIntervalMs?: number
}

export const ALERT_RECORD_TYPE = 'annal.alert/v1'

const STATE_TABLE = 'alert-state'
const OUTBOX_TABLE = 'alert-outbox'
/**
 * The scope review's table: `a\n<sha256 hex of the principal>`, its aggregate
 * (scope-review-bytes.ts), rewritten as its records arrive; `principals`, how many there are;
 * `i\n<n>`, the hex digests of principals n * PAGE_PRINCIPALS and on, in the order they came,
 * rewritten only as principals are added. A review lists the principals from the pages and
 * reads their aggregates by key: a range over the aggregates would step over every older
 * version of each row still in the database.
 */
const REVIEW_TABLE = 'scope-review'
const ACTIVITY_TABLE = 'activity'
const AGGREGATE = 'a\n'
const PAGE = 'i\n'
const PRINCIPALS = 'principals'
/** Principals a page lists: the aggregates a review reads at once. */
const PAGE_PRINCIPALS = 1024
const DIGEST_HEX = 64
const CURSOR = 'cursor'
/**
 * The rules' saved state (their burst and rate windows): `{"cursor", "parts"}`, the parts under
 * `rules\n<i>` (a part beyond `parts` is left from a larger save, and ignored).
 */
const SAVED_RULES = 'rules'
/**
 * Access records evaluated between two saves of the rules' state (it is saved at close too):
 * a start after a crash evaluates at most this many again for the rules, raising nothing.
 */
const RULES_SAVED_EVERY = 20_000
/** Most bytes of one row of the rules' saved state. */
const RULES_PART_BYTES = 2 ** 20
/** Access records read and evaluated per write: each write rewrites every principal's aggregate the batch touched. */
const BATCH = 10_000
/** Most bytes of per-principal review aggregates and first-append marks cached. */
const CACHE_BYTES = 8 * 2 ** 20
const utf8 = new TextDecoder()

/**
 * The alerts: follows the `access` log from a durable cursor, behind the sequencer (requests
 * never wait for it), runs the rules on each committed record, and keeps the scope review's
 * aggregates. Each batch writes its alerts to the `alerts` log together with the cursor, the
 * aggregates and the webhook outbox rows, in one atomic write: after a crash evaluation resumes
 * where the last write left it, so no alert is lost or raised twice. It is the only writer of
 * the `alerts` log (alert indexes are known before the write, for the outbox rows).
 */
export class Alerts {
  readonly #ledger: Ledger
  readonly #rules: AlertRules
  #state: RuleState
  /** The cursor at which the rules' state was last saved. */
  #rulesSavedAt = 0
  readonly #table: RowTable
  readonly #outbox: RowTable
  readonly #reviews: RowTable
  readonly #activity: Activity
  readonly #delivery: WebhookDelivery
  readonly #pollIntervalMs: number
  /** Review aggregates and first-append marks, least recently used first. */
  readonly #cache = new Map<string, { value: PrincipalAggregate | true; bytes: number }>()
  #cacheBytes = 0
  /** How many principals have an aggregate, and the last page of their digests; read at the first added. */
  #principals: { count: number; page: string } | undefined
  #cursor = 0
  #chain: Promise<unknown> = Promise.resolve()
  #stepping = false
  #timer: ReturnType<typeof setInterval> | undefined
  #closed = false
  #changed!: () => void
  #next: Promise<void>

  private constructor(ledger: Ledger, clock: () => Date, options: AlertsOptions) {
    this.#ledger = ledger
    this.#rules = alertRules(options.rules)
    this.#state = new RuleState(this.#rules)
    this.#table = ledger.table(STATE_TABLE)
    this.#outbox = ledger.table(OUTBOX_TABLE)
    this.#reviews = ledger.table(REVIEW_TABLE)
    this.#activity = new Activity(ledger.table(ACTIVITY_TABLE))
    this.#pollIntervalMs = options.pollIntervalMs ?? 100
    if (!Number.isSafeInteger(this.#pollIntervalMs) || this.#pollIntervalMs < 1) throw new RangeError('pollIntervalMs must be a positive integer')
    this.#delivery = new WebhookDelivery({
      ...options.webhookTiming, endpoints: (options.webhooks ?? []).map(parseEndpoint), outbox: this.#outbox, state: this.#table,
      alerts: ledger.log(ALERTS_LOG), clock,
    })
    this.#next = new Promise((resolve) => { this.#changed = resolve })
  }

  /**
   * Creates the `alerts` log if the ledger lacks it, reads the cursor, starts the webhook workers.
   * @throws RangeError, TypeError for bad options (never echoing a secret).
   */
  static async open(ledger: Ledger, clock: () => Date, options: AlertsOptions = {}): Promise<Alerts> {
    if (!ledger.logs().some((log) => log.name === ALERTS_LOG)) {
      await ledger.createLog(ALERTS_LOG).catch((error: unknown) => {
        if (!isStoreError(error, 'LOG_EXISTS')) throw error
      })
    }
    const alerts = new Alerts(ledger, clock, options)
    const cursor = await alerts.#table.get(CURSOR)
    alerts.#cursor = cursor === undefined ? 0 : Number(utf8.decode(cursor))
    await alerts.#restoreRules()
    await alerts.#delivery.start()
    return alerts
  }

  /**
   * Reads the rules' saved state, and queues a pass over the records evaluated since it was
   * saved (the rules see them again, raising nothing: they were raised before), so that burst
   * windows and rate baselines carry over a restart, a crash included.
   */
  async #restoreRules(): Promise<void> {
    const saved = await this.#table.get(SAVED_RULES)
    if (saved !== undefined) {
      const { cursor, parts } = JSON.parse(utf8.decode(saved)) as { cursor: number; parts: number }
      const texts: string[] = []
      for (let i = 0; i < parts; i++) texts.push(utf8.decode((await this.#table.get(`${SAVED_RULES}\n${i}`))!))
      // Saved with the cursor it names or after it, so never past the stored cursor; one that were is not used.
      if (cursor <= this.#cursor) [this.#state, this.#rulesSavedAt] = [RuleState.restore(this.#rules, texts), cursor]
    }
    // Without a save (a ledger from before they were kept), the last records rebuild what they can.
    const from = Math.max(this.#rulesSavedAt, this.#cursor - RULES_SAVED_EVERY)
    const to = this.#cursor
    if (from < to) void this.#enqueue(() => this.#replayRules(from, to)).catch(() => undefined)
  }

  async #replayRules(from: number, to: number): Promise<void> {
    for (let start = from; start < to;) {
      const entries = await this.#ledger.log(ACCESS_LOG).entries(start, Math.min(BATCH, to - start))
      if (entries.length === 0) return
      for (const entry of entries) {
        const record = seenRecord(entry.index, entry.data)
        if (record !== undefined) this.#state.observe(record)
      }
      start = entries.at(-1)!.index + 1
    }
  }

  /** The rows that save the rules' state as of `cursor`. */
  #savedRules(cursor: number): TableRow[] {
    const parts = this.#state.snapshot(RULES_PART_BYTES)
    return [
      ...parts.map((part, i) => this.#table.row(`${SAVED_RULES}\n${i}`, encodeUtf8(part))),
      this.#table.row(SAVED_RULES, encodeUtf8(JSON.stringify({ cursor, parts: parts.length }))),
    ]
  }

  /** The `alerts` log. */
  get log(): Log {
    return this.#ledger.log(ALERTS_LOG)
  }

  /** Access records evaluated so far (the cursor). */
  get evaluated(): number {
    return this.#cursor
  }

  /** Starts following the access log. Idempotent. */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setInterval(() => this.#tick(), this.#pollIntervalMs)
    this.#timer.unref()
  }

  /** Stops following, waits for the write in progress, saves the rules' state, stops the webhook workers. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    await this.#enqueue(async () => {
      if (this.#rulesSavedAt === this.#cursor) return
      await this.#table.write(this.#savedRules(this.#cursor))
      this.#rulesSavedAt = this.#cursor
    }).catch(() => undefined)
    await this.#delivery.close()
  }

  /** Resolves once every access record committed before the call is evaluated. */
  async caughtUp(): Promise<void> {
    const target = this.#ledger.log(ACCESS_LOG).size
    while (this.#cursor < target) await this.#enqueue(() => this.#step())
  }

  /** Resolves at the next write to the `alerts` log. */
  changed(): Promise<void> {
    return this.#next
  }

  /**
   * Raises an alert that no access record shows: governance events (the use of a revoked or
   * rotated token, `revoked_token`; a token clamped to its ceiling, `scope_ceiling`; see
   * governance-alerts.ts) and witness evidence. Rules switched off raise nothing.
   * @returns its index in the `alerts` log, or undefined when its rule is off or `dedupe` was seen.
   */
  async raise(draft: AlertDraft, dedupe?: string): Promise<number | undefined> {
    const enabled = {
      revoked_token: this.#rules.revokedToken, witness_split_view: this.#rules.witnessSplitView, scope_ceiling: this.#rules.scopeCeiling,
    }[draft.rule as string]
    if (enabled?.enabled === false) return undefined
    return this.#enqueue(async () => {
      const key = dedupe === undefined ? undefined : `raised\n${digest(dedupe)}`
      if (key !== undefined && await this.#table.get(key) !== undefined) return undefined
      const index = this.log.size
      await this.#commit([draft], key === undefined ? [] : [this.#table.row(key, new Uint8Array())])
      return index
    })
  }

  /** Requests, appends, refusals and alerts per bucket from `since` to `until` (ms); see activity.ts. */
  activity(since: number, until: number): ReturnType<Activity['series']> {
    return this.#activity.series(since, until)
  }

  /**
   * Each principal seen since `since` (ms), from the kept aggregates (see scope-review.ts): the
   * JSON texts of their PrincipalReviews by client_id and sub, as of `evaluated` access records
   * (it waits for the batch under evaluation, if any).
   */
  review(since: number): Promise<{ evaluated: number; principals: string[] }> {
    return this.#enqueue(async () => {
      const found: [order: string, json: string][] = []
      const { count } = await this.#principalPages()
      for (let page = 0; page * PAGE_PRINCIPALS < count; page++) {
        const digests = utf8.decode(await this.#reviews.get(PAGE + page))
        const keys: string[] = []
        for (let at = 0; at < digests.length; at += DIGEST_HEX) keys.push(AGGREGATE + digests.slice(at, at + DIGEST_HEX))
        for (const value of await this.#reviews.getMany(keys)) {
          const aggregate = decodeAggregate(value!)
          const json = reviewJson(aggregate, since)
          if (json !== undefined) found.push([`${aggregate.clientId ?? ''}\n${aggregate.sub ?? ''}`, json])
        }
      }
      found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return { evaluated: this.#cursor, principals: found.map(([, json]) => json) }
    })
  }

  #tick(): void {
    if (this.#stepping || this.#closed) return
    let size: number
    try {
      size = this.#ledger.log(ACCESS_LOG).size
    } catch {
      return // the ledger is closing
    }
    if (size <= this.#cursor) return
    this.#stepping = true
    void this.#enqueue(() => this.#step()).catch(() => undefined).finally(() => { this.#stepping = false })
  }

  #enqueue<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#chain.catch(() => undefined).then(run)
    this.#chain = result
    return result
  }

  /** Evaluates up to BATCH records from the cursor and writes what they raised. */
  async #step(): Promise<void> {
    const entries = await this.#ledger.log(ACCESS_LOG).entries(this.#cursor, BATCH)
    if (entries.length === 0) return
    const drafts: AlertDraft[] = []
    const dirty = new Map<string, PrincipalAggregate | true>()
    const counts = this.#activity.batch()
    let latest = 0
    const added: string[] = []
    for (const entry of entries) {
      const record = seenRecord(entry.index, entry.data)
      if (record === undefined) continue
      counts.add(record.time, kindsOf(record))
      if (record.time > latest) latest = record.time
      drafts.push(...this.#state.observe(record))
      if (this.#rules.adminChange.enabled && isAdminChange(record)) drafts.push(adminDraft(record))
      if (this.#rules.firstAppend.enabled && isAppend(record)) {
        const draft = await this.#firstAppend(record, dirty)
        if (draft !== undefined) drafts.push(draft)
      }
      if (record.scopes !== undefined) {
        const principal = digest(principalKey(record))
        const key = AGGREGATE + principal
        let aggregate = dirty.get(key) as PrincipalAggregate | undefined ?? await this.#aggregate(key)
        if (aggregate === undefined) {
          aggregate = newAggregate(record)
          added.push(principal)
        }
        addRecord(aggregate, record)
        dirty.set(key, aggregate)
      }
    }
    const cursor = entries.at(-1)!.index + 1
    const rows: TableRow[] = [this.#table.row(CURSOR, encodeUtf8(String(cursor)))]
    const saveRules = cursor - this.#rulesSavedAt >= RULES_SAVED_EVERY
    if (saveRules) rows.push(...this.#savedRules(cursor))
    for (const [key, value] of dirty) {
      rows.push(value === true ? this.#table.row(key, new Uint8Array()) : this.#reviews.row(key, encodeAggregate(value)))
      this.#remember(key, value, (value === true ? 64 : aggregateBytes(value)) + 2 * key.length)
    }
    const principals = added.length === 0 ? undefined : await this.#addPrincipals(added, rows)
    await this.#commit(drafts, rows, counts)
    if (principals !== undefined) this.#principals = principals
    this.#cursor = cursor
    if (saveRules) this.#rulesSavedAt = cursor
    if (latest > 0) await this.#activity.prune(latest)
  }

  /** Writes `drafts` to the alerts log with `rows`, their outbox rows and their counts, or `rows` alone. */
  async #commit(drafts: readonly AlertDraft[], given: readonly TableRow[], counts: ActivityBatch = this.#activity.batch()): Promise<void> {
    for (const draft of drafts) counts.add(draft.time, ['alerts'])
    const rows = [...given, ...await counts.rows()]
    if (drafts.length === 0) {
      // Losing this write in a crash loses no alert: the records are evaluated (and counted) again.
      await this.#table.write(rows, [], { sync: false })
      counts.adopt()
      return
    }
    const base = this.log.size
    const outbox = this.#delivery.enabled().flatMap((endpoint) =>
      drafts.map((_, i) => this.#outbox.row(outboxKey(endpoint.id, base + i), new Uint8Array())))
    await this.#ledger.append([{ log: ALERTS_LOG, entries: drafts.map(alertBytes) }], { rows: [...rows, ...outbox] })
    counts.adopt()
    const changed = this.#changed
    this.#next = new Promise((resolve) => { this.#changed = resolve })
    changed()
    this.#delivery.kick()
  }

  async #firstAppend(record: SeenRecord, dirty: Map<string, PrincipalAggregate | true>): Promise<AlertDraft | undefined> {
    const client = record.clientId ?? record.sub ?? ''
    const key = `appended\n${digest(`${record.log}\n${client}`)}`
    if (dirty.has(key) || this.#cached(key) !== undefined || await this.#table.get(key) !== undefined) return undefined
    dirty.set(key, true)
    return {
      rule: 'first_append', time: record.time, subject: { ...principalSubject(record), log: record.log! },
      summary: `first append to ${record.log} by this client`, details: { access_index: [record.index] },
    }
  }

  /** How many principals have an aggregate, and the last page of their digests. */
  async #principalPages(): Promise<{ count: number; page: string }> {
    if (this.#principals !== undefined) return this.#principals
    const stored = await this.#reviews.get(PRINCIPALS)
    const count = stored === undefined ? 0 : Number(utf8.decode(stored))
    const last = count % PAGE_PRINCIPALS === 0 ? undefined : await this.#reviews.get(PAGE + Math.floor(count / PAGE_PRINCIPALS))
    return this.#principals = { count, page: last === undefined ? '' : utf8.decode(last) }
  }

  /** Adds to `rows` the pages and count with the `digests` of new principals; the state once they are written. */
  async #addPrincipals(digests: readonly string[], rows: TableRow[]): Promise<{ count: number; page: string }> {
    let { count, page } = await this.#principalPages()
    for (const [i, principal] of digests.entries()) {
      page += principal
      count++
      if (count % PAGE_PRINCIPALS === 0 || i === digests.length - 1) {
        rows.push(this.#reviews.row(PAGE + Math.floor((count - 1) / PAGE_PRINCIPALS), encodeUtf8(page)))
      }
      if (count % PAGE_PRINCIPALS === 0) page = ''
    }
    rows.push(this.#reviews.row(PRINCIPALS, encodeUtf8(String(count))))
    return { count, page }
  }

  /** The principal's aggregate, or undefined when it has none yet. */
  async #aggregate(key: string): Promise<PrincipalAggregate | undefined> {
    const cached = this.#cached(key)
    if (cached !== undefined && cached !== true) return cached
    const stored = await this.#reviews.get(key)
    return stored === undefined ? undefined : decodeAggregate(stored)
  }

  #cached(key: string): PrincipalAggregate | true | undefined {
    const found = this.#cache.get(key)
    if (found === undefined) return undefined
    this.#cache.delete(key)
    this.#cache.set(key, found)
    return found.value
  }

  #remember(key: string, value: PrincipalAggregate | true, bytes: number): void {
    const old = this.#cache.get(key)
    if (old !== undefined) this.#cacheBytes -= old.bytes
    this.#cache.delete(key)
    this.#cache.set(key, { value, bytes })
    this.#cacheBytes += bytes
    for (const [oldest, entry] of this.#cache) {
      if (this.#cacheBytes <= CACHE_BYTES) break
      this.#cache.delete(oldest)
      this.#cacheBytes -= entry.bytes
    }
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** An alerts-log leaf: canonical JSON. */
export function alertBytes(draft: AlertDraft): Uint8Array {
  return encodeUtf8(canonicalJson({
    type: ALERT_RECORD_TYPE, rule: draft.rule, time: new Date(draft.time).toISOString(), subject: draft.subject,
    summary: draft.summary, details: draft.details,
  }))
}

function adminDraft(record: SeenRecord): AlertDraft {
  return {
    rule: 'admin_change', time: record.time,
    subject: { ...principalSubject(record), ...(record.log === undefined ? {} : { log: record.log }) },
    summary: `${record.method} ${record.route} answered ${record.status}`,
    details: { method: record.method, route: record.route, status: record.status, access_index: [record.index] },
  }
}

/** An access record as the rules read it; undefined for the access log's other entries (admin events). */
export function seenRecord(index: number, data: Uint8Array): SeenRecord | undefined {
  let json: Record<string, any>
  try {
    json = JSON.parse(utf8.decode(data)) as Record<string, any>
  } catch {
    return undefined
  }
  if (json.type !== ACCESS_RECORD_TYPE) return undefined
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  return {
    index, time: Date.parse(json.time), method: text(json.method), route: text(json.route), log: text(json.log),
    status: json.status, code: text(json.code), requiredScope: text(json.required_scope), authorizedBy: text(json.authorized_by),
    clientId: text(json.actor?.client_id), sub: text(json.actor?.sub),
    scopes: Array.isArray(json.scopes) ? json.scopes : undefined, remoteAddress: text(json.remote_address), replayed: json.replayed === true,
  }
}
