import { bytesEqual } from '@annal/tlog'
import { verifyCheckpoint, type TrustedCheckpoint } from './checkpoint.js'
import { checkConsistent, proofNeeded } from './consistency.js'
import { ClientError } from './errors.js'
import { tellWitness, type GossipOutcome } from './gossip.js'
import { BundleReader } from './internal/bundles.js'
import { countField, hashesField, type LogReader } from './internal/http.js'
import { LogClient, readerOf, type Fetch } from './log-client.js'
import { sameState, type MonitorState, type MonitorStateStore } from './monitor-state.js'
import type { Policy } from './policy.js'
import { SplitViewError } from './split-view.js'

/** An entry of the log, proven to be at `index` in the checkpoint the monitor trusts. */
export interface MonitorEntry {
  readonly index: number
  /** The entry's bytes as the log holds them (for Annal, the envelope). */
  readonly bytes: Uint8Array
  readonly leafHash: Uint8Array
}

export interface MonitorOptions {
  readonly policy: Policy
  readonly store: MonitorStateStore
  /** Called once per entry, in index order; a throw stops the poll before the state moves past it. */
  readonly onEntry: (entry: MonitorEntry) => void | Promise<void>
  /** Defaults to the global fetch. */
  readonly fetch?: Fetch
  /** A bearer token: log:read for entry bundles, audit:read to follow the access log. */
  readonly token?: string
  /**
   * Base URLs of witnesses (tlog-witness with Annal's `/v1/gossip`, as `annal witness serve`),
   * each handed every newly trusted checkpoint before any entry under it is handed. A witness
   * that answers with verified evidence of a fork of this log stops the poll with a
   * SplitViewError; one that is down or slow does not stop the monitor.
   */
  readonly witnesses?: readonly string[]
  /** Called with how each witness took each checkpoint, failures included; must not throw. */
  readonly onGossip?: (outcome: GossipOutcome) => void
  /** Limit on each witness's answers, in ms. Default 10,000. */
  readonly gossipTimeoutMs?: number
}

/**
 * Follows one log of the Annal HTTP API (`url` as for LogClient). Each poll verifies the latest
 * checkpoint against the policy and as consistent with the trusted one, reads the entries since
 * from entry bundles, one bundle at a time, proves each bundle against the new root (with the
 * hash tiles' nodes around it) before handing any of its entries to `onEntry`, and saves the
 * state after each entry. The first poll, with no state, trusts the first checkpoint the
 * policy accepts.
 *
 * Entries are handed at least once: the state moves only after onEntry returns, so a process
 * killed inside onEntry (or between its return and the state write) hands that entry again
 * when it restarts from the same store, and never skips one. Exactly once would need the
 * handler's effect and the state write in one transaction, which only the handler's own store
 * can give: such a handler should make the entry's `index` its key.
 */
export class Monitor {
  readonly url: string
  readonly #client: LogClient
  readonly #options: MonitorOptions
  readonly #fetch: Fetch
  readonly #reader: LogReader
  readonly #witnesses: readonly string[]
  readonly #gossipTimeoutMs: number

  constructor(url: string, options: MonitorOptions) {
    if (options?.store === undefined || typeof options.onEntry !== 'function') {
      throw new TypeError('options.store and options.onEntry are required')
    }
    this.#client = new LogClient(url, options)
    this.url = this.#client.url
    this.#options = options
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.#reader = readerOf(this.#client)
    this.#witnesses = (options.witnesses ?? []).map(witnessUrl)
    this.#gossipTimeoutMs = options.gossipTimeoutMs ?? 10_000
    if (!Number.isSafeInteger(this.#gossipTimeoutMs) || this.#gossipTimeoutMs < 1) throw new RangeError('gossipTimeoutMs must be a positive integer')
  }

  /**
   * One round; resolves with the checkpoint now trusted, every entry below its size handed.
   * Throws SplitViewError (SPLIT_VIEW) when the log signed a checkpoint that is not consistent
   * with the trusted one, or a witness holds verified evidence that it did; ClientError INCLUSION_FAILED when the entries do not hash to the
   * root, STATE_CONFLICT from the store, or as LogClient.checkpoint(); what onEntry throws.
   */
  async poll(): Promise<TrustedCheckpoint> {
    let state = await this.#options.store.load()
    const trusted = state === undefined ? undefined : verifyCheckpoint(state.checkpoint, this.#options.policy)
    const latest = await this.#client.checkpoint()
    const target = trusted === undefined ? latest : await this.#extend(trusted, latest)
    if (target !== trusted) await this.#gossip(target)
    const from = state?.next ?? 0
    if (!Number.isSafeInteger(from) || from < 0 || from > target.checkpoint.size) {
      throw new RangeError('the saved next index is not within the trusted checkpoint')
    }
    const bundles = new BundleReader(this.#reader, this.url, target.checkpoint)
    for await (const entries of bundles.entries(from)) {
      for (const entry of entries) {
        await this.#options.onEntry(entry)
        state = await this.#save(state, { checkpoint: target.checkpoint.note, next: entry.index + 1 })
      }
    }
    await this.#save(state, { checkpoint: target.checkpoint.note, next: target.checkpoint.size })
    return target
  }

  /** Hands `trusted` to every witness at once. Throws SplitViewError when one shows a fork. */
  async #gossip(trusted: TrustedCheckpoint): Promise<void> {
    const { note, origin, size } = trusted.checkpoint
    const told = await Promise.all(this.#witnesses.map((witness) =>
      tellWitness(this.#fetch, witness, { note, origin, size }, this.#options.policy, this.#gossipTimeoutMs)))
    for (const { outcome } of told) this.#options.onGossip?.(outcome)
    const fork = told.find((one) => one.evidence !== undefined)
    if (fork !== undefined) {
      throw new SplitViewError(`witness ${fork.outcome.witness} holds evidence that the log forked`, fork.evidence!)
    }
  }

  async #save(old: MonitorState | undefined, next: MonitorState): Promise<MonitorState> {
    if (!sameState(old, next)) await this.#options.store.compareAndSwap(old, next)
    return next
  }

  /** `latest` if it extends `trusted`; `trusted` if it is the same or an older consistent one. */
  async #extend(trusted: TrustedCheckpoint, latest: TrustedCheckpoint): Promise<TrustedCheckpoint> {
    const [old, now] = [trusted.checkpoint, latest.checkpoint]
    if (old.size === now.size && old.origin === now.origin && bytesEqual(old.rootHash, now.rootHash)) return trusted
    const [small, large] = now.size < old.size ? [now, old] : [old, now]
    const proof = proofNeeded(small, large) ? await this.#consistencyProof(small.size, large.size) : []
    await checkConsistent(small, large, proof, (size) => new BundleReader(this.#reader, this.url, large).treeHash(size))
    // An older checkpoint that the trusted one extends is a stale answer, not news.
    return now.size > old.size ? latest : trusted
  }

  async #consistencyProof(from: number, to: number): Promise<Uint8Array[]> {
    const body = await this.#reader.publicJson(`${this.url}/proof/consistency?from=${from}&to=${to}`)
    if (countField(body, 'from') !== from || countField(body, 'to') !== to) {
      throw new ClientError('RESPONSE_INVALID', `the consistency proof is not from ${from} to ${to}`)
    }
    return hashesField(body, 'proof')
  }
}

/** A witness's base URL without its trailing slash. Throws TypeError unless it is http(s). */
function witnessUrl(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TypeError(`witness ${JSON.stringify(url)} is not an http(s) URL`)
  }
  return url.replace(/\/+$/, '')
}
