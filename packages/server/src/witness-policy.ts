// Which logs are witnessed, and by which of the server's witnesses: one policy per log, kept in
// a ledger table so that it survives restarts, and changed only together with its record.
import type { Ledger, RowTable, TableRow } from '@annal/store'
import { canonicalJson } from './canonical-json.js'
import { isoTime } from './envelope.js'
import { encodeUtf8 } from './internal/utf8.js'
import { ApiError } from './errors.js'

/** A log's witness policy: a checkpoint meets it with valid cosignatures from `k` of `witnesses`. */
export interface LogPolicy {
  /** Names of configured witnesses (WitnessConfig.name), each once. */
  readonly witnesses: readonly string[]
  readonly k: number
}

/** The server's default for logs' policies: the k of a policy that names none. */
export interface WitnessPolicy {
  readonly k: number
}

export const WITNESSING_RECORD_TYPE = 'annal.witnessing/v1'

/** The ledger table of the policies: key the log's name, value canonical JSON of the policy or `null`. */
const POLICY_TABLE = 'witness-policies'
const utf8 = new TextDecoder()

/**
 * The logs' policies as last committed. A log without a row, or with `null`, is not witnessed.
 * Changes go through `change`, one at a time, so that the copy here follows the writes' order.
 */
export class WitnessPolicies {
  readonly #table: RowTable
  readonly #policies = new Map<string, LogPolicy>()
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(table: RowTable) {
    this.#table = table
  }

  static async load(ledger: Ledger): Promise<WitnessPolicies> {
    const policies = new WitnessPolicies(ledger.table(POLICY_TABLE))
    for await (const [log, value] of policies.#table.rows()) {
      const policy = JSON.parse(utf8.decode(value)) as LogPolicy | null
      if (policy !== null) policies.#policies.set(log, policy)
    }
    return policies
  }

  get(log: string): LogPolicy | undefined {
    return this.#policies.get(log)
  }

  /** Whether any log is witnessed. */
  get any(): boolean {
    return this.#policies.size > 0
  }

  /**
   * Runs `write` with the row that sets `log`'s policy (to write in the same atomic write as
   * the change's record), then keeps the policy here once the write resolved.
   */
  async change<T>(log: string, policy: LogPolicy | null, write: (row: TableRow) => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      const result = await write(this.#table.row(log, encodeUtf8(canonicalJson(policy))))
      if (policy === null) this.#policies.delete(log)
      else this.#policies.set(log, policy)
      return result
    })
    this.#queue = run.catch(() => undefined)
    return run
  }
}

/**
 * A policy as a request gives it (`{"witnesses"?, "k"?}` or `null`): `witnesses` default to all
 * of the server's, `k` to `defaultK` or else all of the policy's witnesses.
 * @throws ApiError REQUEST_MALFORMED, WITNESS_UNKNOWN.
 */
export function parsePolicy(value: unknown, configured: readonly string[], defaultK: number | undefined): LogPolicy | null {
  if (value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) throw new ApiError('REQUEST_MALFORMED', 'witnessing is an object or null')
  const { witnesses, k, ...rest } = value as Record<string, unknown>
  if (Object.keys(rest).length > 0) throw new ApiError('REQUEST_MALFORMED', 'witnessing has only witnesses and k')
  if (configured.length === 0) throw new ApiError('WITNESS_UNKNOWN', 'this server has no witnesses configured')
  if (witnesses !== undefined && (!Array.isArray(witnesses) || witnesses.length === 0
      || !witnesses.every((name) => typeof name === 'string') || new Set(witnesses).size !== witnesses.length)) {
    throw new ApiError('REQUEST_MALFORMED', 'witnessing.witnesses lists witness names, each once; null stops witnessing')
  }
  const names = (witnesses as string[] | undefined) ?? [...configured]
  const unknown = names.findIndex((name) => !configured.includes(name))
  if (unknown !== -1) throw new ApiError('WITNESS_UNKNOWN', `witnessing.witnesses[${unknown}] is not a witness of this server`)
  const chosen = k ?? defaultK ?? names.length
  if (!Number.isSafeInteger(chosen) || (chosen as number) < 1 || (chosen as number) > names.length) {
    throw new ApiError('REQUEST_MALFORMED', `witnessing.k must be from 1 to ${names.length}, the number of its witnesses`)
  }
  return { witnesses: names, k: chosen as number }
}

/**
 * The access-log leaf that says a log's policy changed, and why; the request's access record
 * (same `request_id`, same write) says who.
 */
export function witnessingRecord(input: { log: string; policy: LogPolicy | null; reason?: string; requestId: string; time: Date }): Uint8Array {
  return encodeUtf8(canonicalJson({
    type: WITNESSING_RECORD_TYPE, log: input.log, policy: input.policy, reason: input.reason, request_id: input.requestId,
    time: isoTime(input.time),
  }))
}
