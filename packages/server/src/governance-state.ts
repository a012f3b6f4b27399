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

/** The ledger table: keys `rotation:<scope>`, `revocation:<id>` and `set:<sha256 of iss and jti>`. */
const GOVERNANCE_TABLE = 'governance'
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

export class GovernanceState {
  readonly #table: RowTable
  readonly #rotations = new Map<string, { readonly json: RotationJson; readonly second: number }>()
  readonly #revocations = new Map<string, RevocationJson>()
  /** Revocations not lifted, under the first of their jti, sub and client_id. */
  readonly #active = new Map<string, Active[]>()
  readonly #sets = new Set<string>()
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(table: RowTable) {
    this.#table = table
  }

  static async load(ledger: Ledger): Promise<GovernanceState> {
    const state = new GovernanceState(ledger.table(GOVERNANCE_TABLE))
    await state.#read()
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
      if (kind === 'set') this.#sets.add(name)
      else if (kind === 'rotation') this.#setRotation(JSON.parse(utf8.decode(value)) as RotationJson)
      else if (kind === 'revocation') this.#setRevocation(JSON.parse(utf8.decode(value)) as RevocationJson)
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

  /**
   * Runs `write` with the rows of `change` (to write in the same atomic write as its record),
   * then keeps the change here once the write resolved. Changes run one at a time, in order;
   * `change` may be a function, called in turn, that returns undefined to change nothing.
   */
  async change<T>(change: Change | (() => Change | undefined), write: (rows: TableRow[]) => Promise<T>): Promise<T | undefined> {
    const run = this.#queue.then(async () => {
      const changed = typeof change === 'function' ? change() : change
      if (changed === undefined) return undefined
      const rows = [
        ...(changed.rotation === undefined ? [] : [this.#row(`rotation:${changed.rotation.scope}`, changed.rotation)]),
        ...(changed.revocations ?? []).map((revocation) => this.#row(`revocation:${revocation.id}`, revocation)),
        ...(changed.set === undefined ? [] : [this.#row(`set:${changed.set}`, true)]),
      ]
      const result = await write(rows)
      if (changed.rotation !== undefined) this.#setRotation(changed.rotation)
      for (const revocation of changed.revocations ?? []) this.#setRevocation(revocation)
      if (changed.set !== undefined) this.#sets.add(changed.set)
      return result
    })
    this.#queue = run.catch(() => undefined)
    return run
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

/** What one governance action writes. `set` is the key of the security event applied. */
export interface Change {
  readonly rotation?: RotationJson
  readonly revocations?: readonly RevocationJson[]
  readonly set?: string
}

function matches(active: Active, principal: Principal, now: number): boolean {
  const { json, issuedBefore, until } = active
  if (until !== undefined && now >= until) return false
  if (issuedBefore !== undefined && principal.issuedAt !== undefined && principal.issuedAt > issuedBefore) return false
  return (json.jti === undefined || json.jti === principal.jti) && (json.sub === undefined || json.sub === principal.sub)
    && (json.client_id === undefined || json.client_id === principal.clientId)
}
