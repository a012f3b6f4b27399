// A generated access history, written to the access log through the store (no HTTP), for the
// scope review's brute-force test and its benchmark.
import type { Ledger } from '@annal/store'
import { type AccessRecordInput, accessRecordBytes } from '../access-record.js'
import type { Principal } from '../auth.js'
import { ACCESS_LOG } from '../scopes.js'

export interface HistoryOptions {
  readonly records: number
  /** Clients, each with `subs` users: clients x subs principals. */
  readonly clients: number
  readonly subs: number
  /** The records' times are spread evenly over `days` days up to `end`. */
  readonly days: number
  readonly end: number
  readonly seed?: number
  /** Called with the count written so far, after each batch. */
  readonly progress?: (written: number) => void
}

/** The members of a generated record that the review reads. */
export interface HistoryRecord {
  readonly clientId: string
  readonly sub: string
  readonly time: number
  readonly scopes: readonly string[]
  readonly status: number
  readonly code?: string
  readonly requiredScope: string
  readonly authorizedBy?: string
}

const SCOPE_POOL = ['log:read', 'log:append', 'log:admin', 'audit:read', 'log:read:payments', 'log:append:payments']
const BATCH = 10_000

/** Writes the history, and returns its records when `keep` (for a brute-force count). */
export async function writeHistory(ledger: Ledger, options: HistoryOptions, keep = false): Promise<HistoryRecord[]> {
  const random = mulberry32(options.seed ?? 1)
  const principals = Array.from({ length: options.clients * options.subs }, (_, i) => {
    // Each principal's tokens carry a fixed subset of the pool, and it uses some of them.
    const scopes = SCOPE_POOL.filter(() => random() < 0.5)
    return { clientId: `client-${Math.floor(i / options.subs)}`, sub: `user-${i % options.subs}`, scopes: scopes.length === 0 ? ['log:read'] : scopes }
  })
  const span = options.days * 86_400_000
  const kept: HistoryRecord[] = []
  const log = ledger.log(ACCESS_LOG)
  for (let written = 0; written < options.records;) {
    const count = Math.min(BATCH, options.records - written)
    const leaves: Uint8Array[] = []
    for (let i = 0; i < count; i++, written++) {
      const who = principals[Math.floor(random() * principals.length)]!
      const time = options.end - span + Math.floor((written / options.records) * span)
      const wanted = SCOPE_POOL[Math.floor(random() * SCOPE_POOL.length)]!
      const granted = who.scopes.includes(wanted)
      const record: HistoryRecord = {
        clientId: who.clientId, sub: who.sub, time, scopes: who.scopes, requiredScope: wanted,
        ...(granted ? { status: 200, authorizedBy: wanted } : { status: 403, code: 'INSUFFICIENT_SCOPE' }),
      }
      if (keep) kept.push(record)
      leaves.push(accessRecordBytes(inputOf(record, written)))
    }
    await log.append(leaves)
    options.progress?.(written)
  }
  return kept
}

function inputOf(record: HistoryRecord, n: number): AccessRecordInput {
  const principal: Principal = {
    iss: 'https://issuer.test', sub: record.sub, clientId: record.clientId, scopes: record.scopes,
    fingerprint: '0'.repeat(64), expiresAt: record.time + 3_600_000,
  }
  return {
    time: new Date(record.time), requestId: `r${n}`, method: 'GET', route: '/v1/logs/:log/entries', log: 'payments',
    status: record.status, code: record.code, requiredScope: record.requiredScope, authorizedBy: record.authorizedBy,
    principal, fingerprint: principal.fingerprint,
  }
}

/** A small seeded PRNG, so that a history is the same in every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
