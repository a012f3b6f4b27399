// The anomaly rules over committed access records: pure state, fed in log order, no I/O.

/** What an access record says, as the rules and the scope review read it. */
export interface SeenRecord {
  /** The record's index in the access log. */
  readonly index: number
  readonly time: number
  readonly method?: string
  readonly route?: string
  readonly log?: string
  readonly status: number
  readonly code?: string
  readonly requiredScope?: string
  readonly authorizedBy?: string
  readonly clientId?: string
  readonly sub?: string
  /** The token's scopes; undefined when no token was accepted. */
  readonly scopes?: readonly string[]
  readonly remoteAddress?: string
  readonly replayed: boolean
}

export type AlertRule =
  | 'insufficient_scope' | 'invalid_token' | 'rate' | 'revoked_token' | 'admin_change' | 'witness_split_view' | 'first_append'
  | 'scope_ceiling'

/** An alert before it is written to the `alerts` log. */
export interface AlertDraft {
  readonly rule: AlertRule
  readonly time: number
  /** Who or what it is about: `client_id` and `sub`, `remote_address`, `log`. */
  readonly subject: Readonly<Record<string, string>>
  readonly summary: string
  /** Rule-specific facts; `access_index` names the records that raised it. */
  readonly details: Readonly<Record<string, unknown>>
}

/** A count within a window. */
export interface BurstRule {
  readonly enabled: boolean
  /** This many in `windowMs` raise an alert (then the count starts again). */
  readonly count: number
  readonly windowMs: number
}

export interface RateRule {
  readonly enabled: boolean
  /** Requests are counted per bucket of this length. */
  readonly bucketMs: number
  /** A bucket above `factor` times the principal's baseline raises an alert... */
  readonly factor: number
  /** ...when it holds at least this many requests... */
  readonly minCount: number
  /** ...and the baseline has seen this many buckets. */
  readonly warmupBuckets: number
  /** The weight of the newest bucket in the baseline (an exponential moving average), 0-1. */
  readonly smoothing: number
}

export interface AlertRules {
  /** 403 insufficient_scope answers to one principal (client_id and sub). */
  readonly insufficientScope: BurstRule
  /** 401 invalid_token answers to one remote address. */
  readonly invalidToken: BurstRule
  readonly rate: RateRule
  readonly adminChange: { readonly enabled: boolean }
  readonly firstAppend: { readonly enabled: boolean }
  readonly witnessSplitView: { readonly enabled: boolean }
  readonly revokedToken: { readonly enabled: boolean }
  /** A token carrying more scopes than its client's ceiling (AppOptions.scopeCeilings). */
  readonly scopeCeiling: { readonly enabled: boolean }
  /** Most bytes of per-principal and per-address state held; the least recently seen go first. */
  readonly stateBytes: number
}

export const DEFAULT_ALERT_RULES: AlertRules = {
  insufficientScope: { enabled: true, count: 5, windowMs: 5 * 60_000 },
  invalidToken: { enabled: true, count: 20, windowMs: 60_000 },
  rate: { enabled: true, bucketMs: 60_000, factor: 10, minCount: 100, warmupBuckets: 30, smoothing: 0.1 },
  adminChange: { enabled: true },
  firstAppend: { enabled: true },
  witnessSplitView: { enabled: true },
  revokedToken: { enabled: true },
  scopeCeiling: { enabled: true },
  stateBytes: 16 * 2 ** 20,
}

/** `partial` over the defaults, rule by rule. @throws RangeError for a bad value. */
export function alertRules(partial: DeepPartial<AlertRules> = {}): AlertRules {
  const rules = {} as Record<string, unknown>
  for (const [name, value] of Object.entries(DEFAULT_ALERT_RULES)) {
    const given = (partial as Record<string, unknown>)[name]
    rules[name] = typeof value === 'object' ? { ...value, ...(given as object | undefined) } : given ?? value
  }
  const result = rules as unknown as AlertRules
  for (const burst of [result.insufficientScope, result.invalidToken]) {
    positiveInteger(burst.count, 'count')
    positiveInteger(burst.windowMs, 'windowMs')
  }
  positiveInteger(result.rate.bucketMs, 'rate.bucketMs')
  positiveInteger(result.rate.minCount, 'rate.minCount')
  positiveInteger(result.rate.warmupBuckets, 'rate.warmupBuckets')
  positiveInteger(result.stateBytes, 'stateBytes')
  if (!(result.rate.factor > 1)) throw new RangeError('rate.factor must be above 1')
  if (!(result.rate.smoothing > 0 && result.rate.smoothing <= 1)) throw new RangeError('rate.smoothing must be in (0, 1]')
  return result
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] }

function positiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`)
}

/** Routes whose successful non-GET answers change scopes, policies, revocations, logs, their indexes or objects. */
const ADMIN_ROUTES = new Set(['POST /v1/logs', 'PATCH /v1/logs/:log', 'PUT /v1/logs/:log/witnessing', 'POST /v1/objects/:hash/erase'])

/** True when a 2xx answer to `record` was an administrative change. */
export function isAdminChange(record: SeenRecord): boolean {
  if (record.status < 200 || record.status > 299 || record.method === undefined || record.route === undefined) return false
  if (record.route.startsWith('/v1/admin/')) return record.method !== 'GET' && record.method !== 'HEAD'
  return ADMIN_ROUTES.has(`${record.method} ${record.route}`)
}

/** True when `record` is a committed append of events (not a replay) to a log. */
export function isAppend(record: SeenRecord): boolean {
  return record.method === 'POST' && record.route === '/v1/logs/:log/entries' && record.status === 201 && !record.replayed
    && record.log !== undefined
}

/** A principal's key: client_id and sub (either may be empty). */
export function principalKey(record: Pick<SeenRecord, 'clientId' | 'sub'>): string {
  return `${record.clientId ?? ''}\n${record.sub ?? ''}`
}

/** The subject of an alert about a principal. */
export function principalSubject(record: Pick<SeenRecord, 'clientId' | 'sub'>): Record<string, string> {
  return { ...(record.clientId === undefined ? {} : { client_id: record.clientId }), ...(record.sub === undefined ? {} : { sub: record.sub }) }
}

/** One principal's or address's state. Its size is fixed by the rules, whatever it sees. */
interface Track {
  /** Times of the recent refusals (at most the rule's count). */
  readonly times: number[]
  /** Indexes of the records behind `times`. */
  readonly indexes: number[]
  bucket: number
  bucketCount: number
  baseline: number
  buckets: number
  firedBucket: number
  readonly bytes: number
}

/** A track as `snapshot` writes it. */
type SavedTrack = [key: string, times: number[], indexes: number[], bucket: number, bucketCount: number, baseline: number,
  buckets: number, firedBucket: number]

/** About what a track takes: its arrays, fields and key, two bytes a character. */
function trackBytes(key: string, count: number): number {
  return 2 * key.length + 16 * count + 160
}

/**
 * The stateful rules (bursts and rates) over records fed in order. Memory is bounded in bytes
 * (`stateBytes`): each track is of fixed size, and the least recently seen are dropped first,
 * which can only delay an alert for a principal that had fallen silent.
 */
export class RuleState {
  readonly #rules: AlertRules
  readonly #tracks = new Map<string, Track>()
  #bytes = 0

  constructor(rules: AlertRules) {
    this.#rules = rules
  }

  /** Bytes of state held now. */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * The state, to save and `restore` after a restart: JSON texts of at most about `partBytes`
   * each (one part at least), the least recently seen tracks first.
   */
  snapshot(partBytes: number): string[] {
    const parts: string[] = []
    let part: string[] = []
    let bytes = 0
    for (const [key, t] of this.#tracks) {
      const text = JSON.stringify([key, t.times, t.indexes, t.bucket, t.bucketCount, t.baseline, t.buckets, t.firedBucket])
      if (bytes + text.length > partBytes && part.length > 0) {
        parts.push(`[${part.join(',')}]`)
        part = []
        bytes = 0
      }
      part.push(text)
      bytes += text.length + 1
    }
    parts.push(`[${part.join(',')}]`)
    return parts
  }

  /** The state of `snapshot`'s parts, in order, under `rules` (which may differ from the saved state's). */
  static restore(rules: AlertRules, parts: readonly string[]): RuleState {
    const state = new RuleState(rules)
    for (const part of parts) {
      for (const [key, times, indexes, bucket, bucketCount, baseline, buckets, firedBucket] of JSON.parse(part) as SavedTrack[]) {
        const track = state.#track(key, state.#countOf(key))
        track.times.push(...times)
        track.indexes.push(...indexes)
        Object.assign(track, { bucket, bucketCount, baseline, buckets, firedBucket })
      }
    }
    return state
  }

  /** The burst count a track of `key` is sized for (see #burst's keys). */
  #countOf(key: string): number {
    if (key.startsWith('s\n')) return this.#rules.insufficientScope.count
    if (key.startsWith('t\n')) return this.#rules.invalidToken.count
    return 0
  }

  /** The alerts `record` raises from the burst and rate rules. */
  observe(record: SeenRecord): AlertDraft[] {
    const drafts: AlertDraft[] = []
    const { insufficientScope, invalidToken, rate } = this.#rules
    const principal = record.scopes === undefined ? undefined : principalKey(record)
    if (insufficientScope.enabled && principal !== undefined && record.status === 403 && record.code === 'INSUFFICIENT_SCOPE') {
      const hit = this.#burst(`s\n${principal}`, insufficientScope, record)
      if (hit !== undefined) {
        drafts.push({ rule: 'insufficient_scope', time: record.time, subject: principalSubject(record),
          summary: `${hit.length} insufficient_scope refusals within ${insufficientScope.windowMs} ms`, details: { access_index: hit } })
      }
    }
    if (invalidToken.enabled && record.remoteAddress !== undefined && record.status === 401 && record.code === 'TOKEN_INVALID') {
      const hit = this.#burst(`t\n${record.remoteAddress}`, invalidToken, record)
      if (hit !== undefined) {
        drafts.push({ rule: 'invalid_token', time: record.time, subject: { remote_address: record.remoteAddress },
          summary: `${hit.length} invalid_token refusals within ${invalidToken.windowMs} ms`, details: { access_index: hit } })
      }
    }
    if (rate.enabled && principal !== undefined) {
      const draft = this.#rate(`r\n${principal}`, rate, record)
      if (draft !== undefined) drafts.push(draft)
    }
    return drafts
  }

  /** Counts `record` against a burst rule; the indexes of the burst when it reaches the count. */
  #burst(key: string, rule: BurstRule, record: SeenRecord): number[] | undefined {
    const track = this.#track(key, rule.count)
    track.times.push(record.time)
    track.indexes.push(record.index)
    while (track.times.length > 0 && (track.times.length > rule.count || track.times[0]! <= record.time - rule.windowMs)) {
      track.times.shift()
      track.indexes.shift()
    }
    if (track.times.length < rule.count) return undefined
    const indexes = [...track.indexes]
    track.times.length = 0
    track.indexes.length = 0
    return indexes
  }

  #rate(key: string, rule: RateRule, record: SeenRecord): AlertDraft | undefined {
    const track = this.#track(key, 0)
    const bucket = Math.floor(record.time / rule.bucketMs)
    if (track.buckets === 0 && track.bucketCount === 0) track.bucket = bucket
    if (bucket > track.bucket) {
      // The closed bucket enters the baseline, then each empty one after it.
      track.baseline = track.buckets === 0 ? track.bucketCount : rule.smoothing * track.bucketCount + (1 - rule.smoothing) * track.baseline
      const empty = Math.min(bucket - track.bucket - 1, 10 * rule.warmupBuckets)
      track.baseline *= (1 - rule.smoothing) ** empty
      track.buckets += 1 + empty
      track.bucket = bucket
      track.bucketCount = 0
    }
    track.bucketCount++
    if (track.buckets < rule.warmupBuckets || track.bucketCount < rule.minCount || track.firedBucket === bucket) return undefined
    if (track.bucketCount <= rule.factor * track.baseline) return undefined
    track.firedBucket = bucket
    return {
      rule: 'rate', time: record.time, subject: principalSubject(record),
      summary: `${track.bucketCount} requests in ${rule.bucketMs} ms, over ${rule.factor} times the baseline`,
      details: { count: track.bucketCount, baseline: Math.round(track.baseline * 1000) / 1000, bucket_ms: rule.bucketMs, access_index: [record.index] },
    }
  }

  #track(key: string, count: number): Track {
    let track = this.#tracks.get(key)
    if (track !== undefined) {
      // Map order is recency order: re-inserting moves it last.
      this.#tracks.delete(key)
      this.#tracks.set(key, track)
      return track
    }
    track = { times: [], indexes: [], bucket: 0, bucketCount: 0, baseline: 0, buckets: 0, firedBucket: -1, bytes: trackBytes(key, count) }
    this.#tracks.set(key, track)
    this.#bytes += track.bytes
    for (const [oldest, old] of this.#tracks) {
      if (this.#bytes <= this.#rules.stateBytes || oldest === key) break
      this.#tracks.delete(oldest)
      this.#bytes -= old.bytes
    }
    return track
  }
}
