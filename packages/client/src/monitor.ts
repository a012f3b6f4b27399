import {
  TILE_WIDTH, bytesEqual, decodeEntryBundle, defaultHasher, entryBundlePath, hashTilePath,
  nodeFromTiles, planTiles, rootPlan, type TileId,
} from '@annal/tlog'
import { translate, verifyCheckpoint, type TrustedCheckpoint } from './checkpoint.js'
import { proofNeeded, verifyConsistent } from './consistency.js'
import { ClientError } from './errors.js'
import { countField, get, getJson, hashesField } from './internal/http.js'
import { edgeNodes, rootFromEdge } from './internal/range.js'
import { LogClient, type Fetch } from './log-client.js'
import { sameState, type MonitorState, type MonitorStateStore } from './monitor-state.js'
import type { Policy } from './policy.js'

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
  /** A bearer token with log:read, which entry bundles need. */
  readonly token?: string
}

const tileKey = (tile: TileId): string => `${tile.level}/${tile.index}/${tile.width}`

/**
 * Follows one log of the Annal HTTP API (`url` as for LogClient). Each poll verifies the latest
 * checkpoint against the policy and as consistent with the trusted one, reads the entries since
 * from entry bundles, proves them by recomputing the new root from the hash tiles' nodes of the
 * old tree and the entries' leaf hashes, and hands each to `onEntry`, saving the state after
 * each one. The first poll, with no state, trusts the first checkpoint the policy accepts.
 */
export class Monitor {
  readonly url: string
  readonly #client: LogClient
  readonly #options: MonitorOptions
  readonly #fetch: Fetch
  readonly #headers: Record<string, string>

  constructor(url: string, options: MonitorOptions) {
    if (options?.store === undefined || typeof options.onEntry !== 'function') {
      throw new TypeError('options.store and options.onEntry are required')
    }
    this.#client = new LogClient(url, options)
    this.url = this.#client.url
    this.#options = options
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.#headers = options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }
  }

  /**
   * One round; resolves with the checkpoint now trusted, every entry below its size handed.
   * Throws SplitViewError (SPLIT_VIEW) when the log signed a checkpoint that is not consistent
   * with the trusted one; ClientError INCLUSION_FAILED when the entries do not hash to the
   * root, STATE_CONFLICT from the store, or as LogClient.checkpoint(); what onEntry throws.
   */
  async poll(): Promise<TrustedCheckpoint> {
    let state = await this.#options.store.load()
    const trusted = state === undefined ? undefined : verifyCheckpoint(state.checkpoint, this.#options.policy)
    const latest = await this.#client.checkpoint()
    const target = trusted === undefined ? latest : await this.#extend(trusted, latest)
    const from = state?.next ?? 0
    if (!Number.isSafeInteger(from) || from < 0 || from > target.checkpoint.size) {
      throw new RangeError('the saved next index is not within the trusted checkpoint')
    }
    for (const entry of await this.#entries(from, target)) {
      await this.#options.onEntry(entry)
      state = await this.#save(state, { checkpoint: target.checkpoint.note, next: entry.index + 1 })
    }
    await this.#save(state, { checkpoint: target.checkpoint.note, next: target.checkpoint.size })
    return target
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
    verifyConsistent(small, large, proofNeeded(small, large) ? await this.#consistencyProof(small.size, large.size) : [])
    // An older checkpoint that the trusted one extends is a stale answer, not news.
    return now.size > old.size ? latest : trusted
  }

  async #consistencyProof(from: number, to: number): Promise<Uint8Array[]> {
    const body = await getJson(this.#fetch, `${this.url}/proof/consistency?from=${from}&to=${to}`)
    if (countField(body, 'from') !== from || countField(body, 'to') !== to) {
      throw new ClientError('RESPONSE_INVALID', `the consistency proof is not from ${from} to ${to}`)
    }
    return hashesField(body, 'proof')
  }

  /** Entries `from` up to the checkpoint's size, proven against its root. */
  async #entries(from: number, target: TrustedCheckpoint): Promise<MonitorEntry[]> {
    const { size: to, rootHash } = target.checkpoint
    if (from === to) return []
    const leaves: Uint8Array[] = []
    for (let bundle = Math.floor(from / TILE_WIDTH); bundle * TILE_WIDTH < to; bundle++) {
      const start = bundle * TILE_WIDTH
      const entries = await this.#bundle(bundle, Math.min(TILE_WIDTH, to - start))
      leaves.push(...entries.slice(Math.max(0, from - start)))
    }
    const leafHashes = leaves.map((bytes) => defaultHasher.leaf(bytes))
    const root = rootFromEdge(from, await this.#edge(from, to), leafHashes, defaultHasher)
    if (!bytesEqual(root, rootHash)) {
      throw new ClientError('INCLUSION_FAILED', `entries ${from} to ${to - 1} do not hash to the root of size ${to}`)
    }
    return leaves.map((bytes, i) => Object.freeze({ index: from + i, bytes, leafHash: leafHashes[i]! }))
  }

  /** The entries of bundle `index` at `width`. Throws ClientError RESPONSE_INVALID. */
  async #bundle(index: number, width: number): Promise<Uint8Array[]> {
    const response = await get(this.#fetch, `${this.url}/${entryBundlePath(index, width)}`, this.#headers)
    let entries: Uint8Array[]
    try {
      entries = decodeEntryBundle(new Uint8Array(await response.arrayBuffer()))
    } catch (error) {
      return translate(error, { TILE_MALFORMED: 'RESPONSE_INVALID' }, `entry bundle ${index} does not parse`)
    }
    if (entries.length !== width) throw new ClientError('RESPONSE_INVALID', `entry bundle ${index} does not hold ${width} entries`)
    return entries
  }

  /** The hashes of edgeNodes(from), read from the hash tiles of the tree of size `to`. */
  async #edge(from: number, to: number): Promise<Uint8Array[]> {
    if (from === 0) return []
    const tiles = new Map<string, Uint8Array>()
    for (const tile of planTiles(rootPlan(from), to)) {
      const response = await get(this.#fetch, `${this.url}/${hashTilePath(tile)}`, this.#headers)
      tiles.set(tileKey(tile), new Uint8Array(await response.arrayBuffer()))
    }
    try {
      return edgeNodes(from).map((node) => nodeFromTiles(node, to, (tile) => tiles.get(tileKey(tile))))
    } catch (error) {
      return translate(error, { TILE_MALFORMED: 'RESPONSE_INVALID', TILE_NOT_FOUND: 'RESPONSE_INVALID' }, 'a hash tile is not as served')
    }
  }
}
