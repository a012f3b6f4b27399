import { setTimeout as sleep } from 'node:timers/promises'
import { readBody } from '@annal/http'
import { deadline } from './internal/deadline.js'
import type { ObserveResult } from './witness.js'
import { WitnessError } from './errors.js'

/** A GET /v1/gossip answer above this many bytes (1 MiB) is dropped. */
export const MAX_GOSSIP_RESPONSE = 1024 * 1024
/** A GET /v1/gossip answer with more notes than this is dropped. */
export const MAX_GOSSIP_NOTES = 1000

export interface GossipOptions {
  /** Peer witnesses' base URLs (`http://host:port`, as RunningWitness.url); each is pulled from. */
  readonly peers: readonly string[]
  /** Pause between two pulls from one peer, in ms. Default 30,000. */
  readonly intervalMs?: number
  /** Limit on one pull (connect, answer, body), in ms. Default 10,000. */
  readonly timeoutMs?: number
  readonly fetch?: typeof fetch
}

/** How pulling from one peer went. */
export interface PeerStatus {
  readonly url: string
  readonly pulls: number
  readonly failures: number
  /** The last failure's message, cleared by a success. */
  readonly lastError: string | undefined
}

/** Anything that can observe a note: a Witness. */
export interface Observer {
  observe(note: string, source: string): Promise<ObserveResult>
}

/** A peer (or log) URL without its trailing slash; RangeError unless http(s) without query or fragment. */
export function peerUrl(url: string, what = 'a peer'): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new RangeError(`${what} must be an http(s) URL`)
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.search !== '' || parsed.hash !== '' || url.endsWith('?') || url.endsWith('#')) {
    throw new RangeError(`${what} must be an http(s) URL without query or fragment`)
  }
  return parsed.href.replace(/\/+$/, '')
}

/** The notes of a GET /v1/gossip answer: JSON `{"checkpoints": [string, ...]}`. Throws WitnessError GOSSIP_MALFORMED. */
export function parseGossip(bytes: Uint8Array): string[] {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (error) {
    throw new WitnessError('GOSSIP_MALFORMED', 'gossip is not JSON', { cause: error })
  }
  const notes = (value as { checkpoints?: unknown } | null)?.checkpoints
  if (!Array.isArray(notes) || notes.length > MAX_GOSSIP_NOTES || notes.some((note) => typeof note !== 'string')) {
    throw new WitnessError('GOSSIP_MALFORMED', 'gossip must be {"checkpoints": [note, ...]}')
  }
  return notes as string[]
}

/**
 * Pulls every peer's GET /v1/gossip, one loop per peer (so a dead or slow peer delays no
 * other), each pull bounded by timeoutMs, and hands every note to the observer; notes it
 * refuses (other origins, bad signatures) are skipped. close() stops all loops and aborts
 * pulls in flight.
 */
export class GossipLoop {
  readonly #observer: Observer
  readonly #peers: readonly string[]
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch
  readonly #stop = new AbortController()
  readonly #status = new Map<string, PeerStatus>()
  #loops: Promise<void>[] = []

  /** RangeError for a bad peer URL or interval. */
  constructor(observer: Observer, options: GossipOptions) {
    this.#observer = observer
    this.#peers = [...new Set(options.peers.map((url) => peerUrl(url)))]
    this.#intervalMs = options.intervalMs ?? 30_000
    this.#timeoutMs = options.timeoutMs ?? 10_000
    if (!(this.#intervalMs >= 1) || !(this.#timeoutMs >= 1)) throw new RangeError('gossip interval and timeout must be >= 1 ms')
    this.#fetch = options.fetch ?? fetch
    for (const url of this.#peers) this.#status.set(url, { url, pulls: 0, failures: 0, lastError: undefined })
  }

  /** Starts one loop per peer, each pulling at once and then every intervalMs. */
  start(): void {
    if (this.#loops.length > 0 || this.#stop.signal.aborted) return
    this.#loops = this.#peers.map((url) => this.#loop(url))
  }

  async #loop(url: string): Promise<void> {
    while (!this.#stop.signal.aborted) {
      await this.pull(url)
      await sleep(this.#intervalMs, undefined, { signal: this.#stop.signal }).catch(() => undefined)
    }
  }

  /** One pull from one peer; never throws (failures are counted in status()). */
  async pull(url: string): Promise<void> {
    const before = this.#status.get(url) ?? { url, pulls: 0, failures: 0, lastError: undefined }
    const { signal, done } = deadline(this.#timeoutMs, this.#stop.signal)
    try {
      const response = await this.#fetch(`${url}/v1/gossip`, { signal, headers: { Accept: 'application/json' } })
      if (response.status !== 200) {
        void response.body?.cancel().catch(() => undefined)
        throw new WitnessError('PEER_FAILED', `peer answered ${response.status}`)
      }
      for (const note of parseGossip(await readBody(response, MAX_GOSSIP_RESPONSE))) {
        await this.#observer.observe(note, `gossip ${url}`).catch(() => undefined)
      }
      this.#status.set(url, { url, pulls: before.pulls + 1, failures: before.failures, lastError: undefined })
    } catch (error) {
      const lastError = error instanceof Error ? error.message : 'failed'
      this.#status.set(url, { url, pulls: before.pulls + 1, failures: before.failures + 1, lastError })
    } finally {
      done()
    }
  }

  status(): PeerStatus[] {
    return [...this.#status.values()]
  }

  /** Stops every loop and aborts pulls in flight; resolves when they have ended. */
  async close(): Promise<void> {
    this.#stop.abort()
    await Promise.all(this.#loops)
  }
}
