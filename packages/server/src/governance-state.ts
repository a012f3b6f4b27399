// Scope rotations, revocations and the security events received, kept in a ledger table so that
// they survive restarts. A row is written only in the same atomic write as the access-log record
// of the action that made it, so the table never holds a change the log does not, nor the other
// way round; it is read back at start, not rebuilt by scanning the log.
import type { Ledger, RowTable, TableRow } from '@annal/store'
import type { Principal } from './auth.js'
import { canonicalJson } from './canonical-json.js'
import type { RevocationJson } from './governance.js'
import { encodeUtf8 } from './internal/utf8.js'

/** A scope's last rotation: tokens issued (`iat`) at or before `rotated_at`'s second lose it. */
export interface RotationJson {
  readonly scope: string
  readonly rotated_at: string
  readonly reason: string
  readonly request_id: string
}

/**
 * The ledger table: keys `rotation:<scope>`, `revocation:<id>`, `set:<sha256 of iss and jti>`
 * (the SET's `{"iat"}`, in seconds) and `floor:sets` (see SetMemory).
 */
const GOVERNANCE_TABLE = 'governance'
const SET_FLOOR = 'floor:sets'
const utf8 = new TextDecoder()

interface Active {
  readonly json: RevocationJson
  readonly issuedBefore: number | undefined
  readonly until: number | undefined
}

/** The second a time falls in, in ms: `iat` has whole seconds only. */
function second(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}

/** How long the ids of applied SETs are kept against replay. */
export interface SetMemory {
  /** The oldest `iat` (seconds) a SET may have at `now` (caep.ts oldestAcceptedIat): older ids are let go. */
  readonly oldestAccepted: (now: Date) => number
  /**
   * Most ids kept. Past it, the oldest are let go, and SETs issued at or before the newest of
   * them are refused from then on (`forgotten`), so that none of them can be applied twice.
   */
  readonly maxKept: number
}

/** Ids of applied SETs kept, unless the app says otherwise: about 15 MiB at most. */
export const MAX_SET_IDS = 100_000

export class GovernanceState {
  readonly #table: RowTable
  readonly #rotations = new Map<string, { readonly json: RotationJson; readonly second: number }>()
  readonly #revocations = new Map<string, RevocationJson>()
  /** Revocations not lifted, under the first of their jti, sub and client_id. */
  readonly #active = new Map<string, Active[]>()
  /** The applied SETs' keys (see `setKey`) -> their `iat`, in seconds. */
  readonly #sets = new Map<string, number>()
  /** SETs issued at or before this second are refused: some of their ids were let go. */
  #setFloor = Number.NEGATIVE_INFINITY
  /** No kept SET id is older than this: pruning has nothing to do before it falls out of the window. */
  #oldestSet = Number.POSITIVE_INFINITY
  readonly #memory: SetMemory
  readonly #clock: () => Date
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(table: RowTable, clock: () => Date, memory: SetMemory) {
    this.#table = table
    this.#clock = clock
    this.#memory = memory
  }

  /** Reads the table, and lets go of the SET ids past the window. */
  static async load(ledger: Ledger, clock: () => Date, memory: SetMemory): Promise<GovernanceState> {
    if (!Number.isSafeInteger(memory.maxKept) || memory.maxKept < 1) throw new RangeError('maxKept must be a positive integer')
    const state = new GovernanceState(ledger.table(GOVERNANCE_TABLE), clock, memory)
    await state.#read()
    await state.#forgetSets([...state.#sets].filter(([, iat]) => iat <= state.#setFloor).map(([key]) => key))
    await state.#pruneSets()
    return state
  }

  /**
   * Reads the table again, in turn with this server's changes: on a shared database, other
   * servers' rotations and revocations (rows are only ever written or replaced, never deleted,
   * so reading them all over again is taking them up).
   */
  reload(): Promise<void> {
    const run = this.#queue.then(() => this.#read())
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #read(): Promise<void> {
    for await (const [key, value] of this.#table.rows()) {
      const colon = key.indexOf(':')
      const [kind, name] = [key.slice(0, colon), key.slice(colon + 1)]
      const json = JSON.parse(utf8.decode(value)) as unknown
      if (kind === 'set') this.#keepSet(name, (json as { iat: number }).iat)
      else if (key === SET_FLOOR) this.#setFloor = json as number
      else if (kind === 'rotation') this.#setRotation(json as RotationJson)
      else if (kind === 'revocation') this.#setRevocation(json as RevocationJson)
    }
  }

  /**
   * The rotated scopes `principal` was issued before (a token without `iat` predates them all),
   * or undefined when there are none.
   */
  staleScopes(principal: Principal): string[] | undefined {
    if (this.#rotations.size === 0) return undefined
    const issued = principal.issuedAt ?? Number.NEGATIVE_INFINITY
    let stale: string[] | undefined
    for (const [scope, rotation] of this.#rotations) if (issued <= rotation.second) (stale ??= []).push(scope)
    return stale
  }

  /** The revocation that matches `principal` at `now`, if any. */
  revocationOf(principal: Principal, now: number): RevocationJson | undefined {
    if (this.#active.size === 0) return undefined
    for (const key of [principal.jti, principal.sub, principal.clientId]) {
      if (key === undefined) continue
      const found = this.#active.get(key)?.find((active) => matches(active, principal, now))
      if (found !== undefined) return found.json
    }
    return undefined
  }

  revocations(): RevocationJson[] {
    return [...this.#revocations.values()]
  }

  revocation(id: string): RevocationJson | undefined {
    return this.#revocations.get(id)
  }

  /** Whether a security event with this key (see `setKey`) was applied already. */
  received(setKey: string): boolean {
    return this.#sets.has(setKey)
  }

  /** Whether a SET issued at `iat` (seconds) is one whose id may have been let go: it must be refused. */
  forgotten(iat: number): boolean {
    return iat <= this.#setFloor
  }

  /** SET ids kept against replay now. */
  get setsKept(): number {
    return this.#sets.size
  }

  /**
   * Runs `write` with the rows of `change` (to write in the same atomic write as its record),
   * then keeps the change here once the write resolved. Changes run one at a time, in order;
   * `change` may be a function, called in turn, that returns undefined to change nothing.
   */
  async change<T>(change: Change | (() => Change | undefined), write: (rows: TableRow[]) => Promise<T>): Promise<T | undefined> {
    const run = this.#queue.then(async () => {
      const changed = typeof change === 'function' ? change() : change
      if (changed === undefined) return undefined
      const { set } = changed
      const over = set === undefined ? [] : this.#overflow(set)
      const floor = over.reduce((highest, [, iat]) => Math.max(highest, iat), this.#setFloor)
      const rows = [
        ...(changed.rotation === undefined ? [] : [this.#row(`rotation:${changed.rotation.scope}`, changed.rotation)]),
        ...(changed.revocations ?? []).map((revocation) => this.#row(`revocation:${revocation.id}`, revocation)),
        ...(set === undefined ? [] : [this.#row(`set:${set.key}`, { iat: set.iat })]),
        ...(floor === this.#setFloor ? [] : [this.#row(SET_FLOOR, floor)]),
      ]
      const result = await write(rows)
      if (changed.rotation !== undefined) this.#setRotation(changed.rotation)
      for (const revocation of changed.revocations ?? []) this.#setRevocation(revocation)
      if (set !== undefined) {
        this.#keepSet(set.key, set.iat)
        this.#setFloor = floor
        // The change is written: letting go is housekeeping, and rows a crash or a failed delete
        // leaves are let go at the next load (at or below the floor, or out of the window).
        await this.#forgetSets(over.map(([key]) => key)).then(() => this.#pruneSets()).catch(() => undefined)
      }
      return result
    })
    this.#queue = run.catch(() => undefined)
    return run
  }

  /** The kept ids to let go, oldest first, so that `set` fits in maxKept. */
  #overflow(set: { readonly key: string; readonly iat: number }): [string, number][] {
    const excess = this.#sets.size + 1 - this.#memory.maxKept
    if (excess <= 0) return []
    // Let a tenth go at once, so that a full memory sorts once per maxKept / 10 SETs, not per SET.
    const count = Math.min(this.#sets.size, Math.max(excess, Math.ceil(this.#memory.maxKept / 10)))
    return [...this.#sets].filter(([key]) => key !== set.key).sort(([, a], [, b]) => a - b).slice(0, count)
  }

  #keepSet(key: string, iat: number): void {
    this.#sets.set(key, iat)
    this.#oldestSet = Math.min(this.#oldestSet, iat)
  }

  /** Lets go of the SET ids whose SETs verifySet would refuse now as too old. */
  async #pruneSets(): Promise<void> {
    const oldest = this.#memory.oldestAccepted(this.#clock())
    if (this.#oldestSet >= oldest) return
    await this.#forgetSets([...this.#sets].filter(([, iat]) => iat < oldest).map(([key]) => key))
  }

  async #forgetSets(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.#table.delete(keys.map((key) => `set:${key}`))
    for (const key of keys) this.#sets.delete(key)
    this.#oldestSet = Number.POSITIVE_INFINITY
    for (const iat of this.#sets.values()) this.#oldestSet = Math.min(this.#oldestSet, iat)
  }

  #row(key: string, value: unknown): TableRow {
    return this.#table.row(key, encodeUtf8(canonicalJson(value)))
  }

  #setRotation(rotation: RotationJson): void {
    this.#rotations.set(rotation.scope, { json: rotation, second: second(Date.parse(rotation.rotated_at)) })
  }

  #setRevocation(revocation: RevocationJson): void {
    const key = revocation.jti ?? revocation.sub ?? revocation.client_id!
    const others = (this.#active.get(key) ?? []).filter((active) => active.json.id !== revocation.id)
    if (revocation.lifted_at === undefined) {
      others.push({
        json: revocation,
        issuedBefore: revocation.issued_before === undefined ? undefined : Date.parse(revocation.issued_before),
        until: revocation.until === undefined ? undefined : Date.parse(revocation.until),
      })
    }
    if (others.length === 0) this.#active.delete(key)
    else this.#active.set(key, others)
    this.#revocations.set(revocation.id, revocation)
  }
}

/** What one governance action writes. `set` is the security event applied: its key (`setKey`) and `iat`. */
export interface Change {
  readonly rotation?: RotationJson
  readonly revocations?: readonly RevocationJson[]
  readonly set?: { readonly key: string; readonly iat: number }
}

function matches(active: Active, principal: Principal, now: number): boolean {
  const { json, issuedBefore, until } = active
  if (until !== undefined && now >= until) return false
  if (issuedBefore !== undefined && principal.issuedAt !== undefined && principal.issuedAt > issuedBefore) return false
  return (json.jti === undefined || json.jti === principal.jti) && (json.sub === undefined || json.sub === principal.sub)
    && (json.client_id === undefined || json.client_id === principal.clientId)
}
