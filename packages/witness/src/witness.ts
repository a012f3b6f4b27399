import { nodeEd25519, nodeHashProvider, nodeHasher } from '@annal/crypto-node'
import {
  MAX_ADD_CHECKPOINT_SIZE, NoteError, SIGNATURE_TYPE_ED25519, encodeBase64, formatVerifierKey, isCosignatureSigner,
  openCheckpoint, parseAddCheckpoint, parseCheckpoint, parseNote, parseSignerKey, parseVerifierKey,
  type AddCheckpointRequest, type CosignatureSigner, type NoteProviders, type NoteVerifier,
} from '@annal/note'
import { RecoveringDriver, isStorageError, type StorageDriver, type WriteHealth } from '@annal/storage'
import { bytesEqual } from '@annal/tlog'
import { decideAddCheckpoint, type AddCheckpointOutcome, type Refused, type WitnessedLog } from './decide.js'
import { ConsistencyChecks, type CheckHost, type CheckOptions, type CheckStatus } from './checks.js'
import { inconsistentEvidence, judge, sameSizeEvidence, witnessed, type Evidence, type SeenCheckpoint } from './evidence.js'
import { peerUrl } from './gossip.js'
import { KeyedQueue } from './internal/keyed-queue.js'
import { OriginRowStore, type OriginRows } from './rows.js'
import { originHash, type WitnessState } from './state.js'
import type { TileCheck } from './tiles.js'
import { WitnessError } from './errors.js'

/** A log to witness: its origin line and one or more verifier keys (Ed25519, type 0x01). */
export interface WitnessLogConfig {
  readonly origin: string
  readonly verifierKeys: readonly (string | NoteVerifier)[]
  /**
   * The log's C2SP tlog-tiles prefix (`<url>/tile/<L>/<N>[.p/<W>]`), http(s) without query or
   * fragment; for an Annal log `http://host:port/v1/logs/<name>`. With it, checkpoints of other
   * sizes than the cosigned one are checked for consistency in the background.
   */
  readonly url?: string
}

export interface WitnessOptions {
  /** The witness's name; if given, it must equal the signer key's name. */
  readonly name?: string
  /** A cosignature/v1 (type 0x04) signer key string, or a signer made from one. */
  readonly signerKey: string | CosignatureSigner
  readonly logs: readonly WitnessLogConfig[]
  /**
   * Where the latest cosigned checkpoint of each origin is kept: a RecoveringDriver that can
   * reopen its database (as runWitness makes), or any driver, which is then wrapped in one that
   * recovers through the same handle.
   */
  readonly driver: StorageDriver
  /** The time cosignatures carry. Default: the system clock. */
  readonly clock?: () => Date
  /** Called once evidence is durably stored (say, to post an alert); must not throw. */
  readonly onEvidence?: (evidence: Evidence) => void
  /** Timeouts and retries of the background consistency checks (logs with a `url`). */
  readonly checks?: CheckOptions
}

/**
 * What observing a log-signed checkpoint showed: the witnessed checkpoint again
 * (`consistent`), one of another size already shown consistent with it by the log's tiles
 * (`verified`), one below it (`older`), a new or already held unverified one above it
 * (`pending`, `known`; `ignored` when MAX_PENDING smaller ones are held), a split view
 * (`evidence`, now stored), or nothing because the origin already has evidence (`frozen`).
 * `older`, `pending`, `known` and `ignored` are checked in the background if the log has a URL.
 */
export type ObserveResult = 'consistent' | 'verified' | 'older' | 'pending' | 'known' | 'ignored' | 'evidence' | 'frozen'

/** One log as /v1/witness reports it. */
export interface WitnessLogInfo {
  readonly origin: string
  readonly originHash: string
  readonly verifierKeys: readonly string[]
  /** The latest cosigned checkpoint; undefined if the witness never cosigned one. */
  readonly latest: WitnessState | undefined
}

/** Request bodies and notes above this many bytes are refused: the add-checkpoint limit, 16 KiB. */
export const MAX_BODY_SIZE = MAX_ADD_CHECKPOINT_SIZE

const providers: NoteProviders = Object.freeze({ hash: nodeHashProvider, signature: nodeEd25519 })
/** A compare-and-swap that loses re-reads and decides again; each loss means another request won. */
const MAX_ATTEMPTS = 8
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** add-checkpoint's answer while an origin has evidence: see docs/witness.md for why 403. */
const FROZEN: Refused = Object.freeze({
  status: 403,
  code: 'EVIDENCE_HELD',
  message: 'split-view evidence is held for this origin; cosigning is stopped until an operator clears it',
})

function witnessSigner(options: WitnessOptions): CosignatureSigner {
  const signer = typeof options.signerKey === 'string'
    ? parseSignerKey(options.signerKey, { providers })
    : options.signerKey
  if (!isCosignatureSigner(signer)) throw new RangeError('the witness key must be a cosignature/v1 (0x04) key')
  if (options.name !== undefined && options.name !== signer.name) {
    throw new RangeError('the witness name must equal its key name')
  }
  return signer
}

function logVerifier(key: string | NoteVerifier): NoteVerifier {
  const verifier = typeof key === 'string' ? parseVerifierKey(key, { providers }) : key
  // A 0x04 key as a log key would let cosignatures pass for log signatures.
  if (verifier.type !== SIGNATURE_TYPE_ED25519) throw new RangeError('log keys must be Ed25519 (0x01) keys')
  return verifier
}

function configuredLogs(logs: readonly WitnessLogConfig[]): Map<string, WitnessedLog> {
  const byOrigin = new Map<string, WitnessedLog>()
  for (const log of logs) {
    if (typeof log.origin !== 'string' || log.origin.length === 0) throw new RangeError('a log needs an origin')
    if (byOrigin.has(log.origin)) throw new RangeError('an origin is configured twice')
    if (log.verifierKeys.length === 0) throw new RangeError('a log needs at least one verifier key')
    byOrigin.set(log.origin, Object.freeze({ origin: log.origin, verifiers: log.verifierKeys.map(logVerifier) }))
  }
  return byOrigin
}

/** Origin -> tiles URL (no trailing slash) for the logs that have one. RangeError for a bad URL. */
function tileUrls(logs: readonly WitnessLogConfig[]): Map<string, string> {
  return new Map(logs.filter((log) => log.url !== undefined).map((log) => [log.origin, peerUrl(log.url!, 'a log URL')]))
}

/** A note as text: at most MAX_BODY_SIZE bytes of UTF-8. Throws NOTE_TOO_LARGE, NOTE_MALFORMED. */
function noteText(note: string | Uint8Array): string {
  const bytes = typeof note === 'string' ? new TextEncoder().encode(note) : note
  if (bytes.length > MAX_BODY_SIZE) throw new WitnessError('NOTE_TOO_LARGE', `notes are limited to ${MAX_BODY_SIZE} bytes`)
  try {
    return typeof note === 'string' ? note : utf8Decoder.decode(bytes)
  } catch (error) {
    throw new NoteError('NOTE_MALFORMED', 'note is not UTF-8', { cause: error })
  }
}

/**
 * A tlog-witness over a storage driver: add-checkpoint decided by decideAddCheckpoint, the new
 * state stored by a synced compare-and-swap before it is answered, requests for one origin
 * taken one at a time. Every log-signed checkpoint it sees (add-checkpoint, gossip, submitted)
 * is compared with what it holds; a split view is stored as evidence and stops cosigning that
 * origin until clearEvidence. The HTTP routes are in createWitnessApp.
 */
export class Witness {
  readonly signer: CosignatureSigner
  /** The witness's verifier key string (type 0x04). */
  readonly verifierKey: string
  readonly #logs: Map<string, WitnessedLog>
  readonly #byHash = new Map<string, string>()
  readonly #rows: OriginRowStore
  readonly #clock: () => Date
  readonly #onEvidence: (evidence: Evidence) => void
  readonly #queue = new KeyedQueue()
  readonly #checks: ConsistencyChecks
  readonly #driver: RecoveringDriver

  /** Throws RangeError or KEY_MALFORMED for a bad configuration. */
  constructor(options: WitnessOptions) {
    this.signer = witnessSigner(options)
    this.verifierKey = formatVerifierKey(this.signer.verifier)
    this.#logs = configuredLogs(options.logs)
    for (const origin of this.#logs.keys()) this.#byHash.set(originHash(origin, nodeHashProvider), origin)
    this.#driver = recovering(options.driver)
    this.#rows = OriginRowStore.for(this.#driver)
    this.#clock = options.clock ?? (() => new Date())
    this.#onEvidence = options.onEvidence ?? (() => undefined)
    this.#checks = new ConsistencyChecks(this.#checkHost(), tileUrls(options.logs), options.checks)
  }

  get name(): string {
    return this.signer.name
  }

  /**
   * Handles an add-checkpoint body. Refusals the spec names come back as outcomes, and 403
   * while the origin has evidence; a body that does not parse throws BODY_TOO_LARGE,
   * BODY_MALFORMED, SIZE_OUT_OF_RANGE, NOTE_MALFORMED or CHECKPOINT_MALFORMED (all 400 but the
   * first, 413). A log-signed checkpoint that conflicts with one held is stored as evidence.
   */
  async addCheckpoint(body: Uint8Array | string): Promise<AddCheckpointOutcome> {
    const request = parseAddCheckpoint(body)
    const log = this.#logs.get(request.origin)
    if (log === undefined) return this.#decide(request, undefined, undefined)
    return this.#queue.run(request.origin, async () => {
      for (let attempt = 1; ; attempt++) {
        const rows = await this.#rows.read(request.origin)
        if (rows.evidence !== undefined) return FROZEN
        const outcome = this.#decide(request, log, rows.state)
        // 409 and 422 come after the signature check: the note is the log's, so it is compared
        // too (and after a failed proof, kept as pending; a 409 is routine and the log resubmits).
        // The request that reveals a split view still gets the spec's status; later ones 403.
        if (outcome.status === 409 || outcome.status === 422) {
          await this.#observeLocked(log, rows, this.#seen(log, request.note, 'add-checkpoint'), outcome.status === 422)
          return outcome
        }
        if (outcome.status !== 200) return outcome
        const { size, rootHash } = outcome.checkpoint
        const pending = await this.#settlePending(log, rows, { size, rootHash, note: request.note, source: 'add-checkpoint', seen: this.#now() })
        if (pending === undefined) return FROZEN
        try {
          await this.#rows.commitState(request.origin, rows, outcome.next, pending)
          // Pending checkpoints the log went past were not covered by its proof: check them.
          for (const p of rows.pending) if (p.size < size) this.#checks.enqueue(log.origin, p, outcome.next)
          return outcome
        } catch (error) {
          if (!isStorageError(error, 'SWAP_CONFLICT') || attempt === MAX_ATTEMPTS) throw error
        }
      }
    })
  }

  #decide(request: AddCheckpointRequest, log: WitnessedLog | undefined,
      state: WitnessState | undefined): AddCheckpointOutcome {
    const timestamp = Math.floor(this.#clock().getTime() / 1000)
    return decideAddCheckpoint({ request, log, state, signer: this.signer, timestamp, hasher: nodeHasher })
  }

  /**
   * Before the state moves to the verified `next`: a pending checkpoint of its size with
   * another root is a split view (evidence stored, undefined returned); pending checkpoints at
   * or below its size leave the list (see docs: those below are not checked). Returns the
   * pending list that goes with the new state.
   */
  async #settlePending(log: WitnessedLog, rows: OriginRows, next: SeenCheckpoint): Promise<readonly SeenCheckpoint[] | undefined> {
    const twin = rows.pending.find((p) => p.size === next.size)
    if (twin !== undefined && !bytesEqual(twin.rootHash, next.rootHash)) {
      await this.#record(rows, sameSizeEvidence(log.origin, twin, next, this.#now()))
      return undefined
    }
    const rest = rows.pending.filter((p) => p.size > next.size)
    return rest.length === rows.pending.length ? rows.pending : rest
  }

  /**
   * Compares a signed checkpoint note, from a peer, a client or a monitor, with what the
   * witness holds for its origin, and stores a split view as evidence (see ObserveResult).
   * `source` says where it came from, for the evidence. Throws BODY_TOO_LARGE (over 16 KiB),
   * NOTE_MALFORMED, CHECKPOINT_MALFORMED, SIZE_OUT_OF_RANGE, LOG_NOT_FOUND, NOTE_UNVERIFIED,
   * SIGNATURE_INVALID; nothing is stored then.
   */
  async observe(note: string | Uint8Array, source: string): Promise<ObserveResult> {
    const text = noteText(note)
    const { origin } = parseCheckpoint(parseNote(text).text)
    const log = this.#logs.get(origin)
    if (log === undefined) throw new WitnessError('LOG_NOT_FOUND', 'unknown origin')
    const seen = this.#seen(log, text, source)
    return this.#queue.run(origin, async () => {
      const rows = await this.#rows.read(origin)
      if (rows.evidence !== undefined) return 'frozen'
      return this.#observeLocked(log, rows, seen)
    })
  }

  /** Verifies the log's signature (throws NOTE_UNVERIFIED, SIGNATURE_INVALID) and says where it came from. */
  #seen(log: WitnessedLog, note: string, source: string): SeenCheckpoint {
    const checkpoint = openCheckpoint(note, log.verifiers, { keyNameMustMatchOrigin: false })
    return Object.freeze({ size: checkpoint.size, rootHash: checkpoint.rootHash, note, source, seen: this.#now() })
  }

  /** observe, inside the origin's queue. */
  async #observeLocked(log: WitnessedLog, rows: OriginRows, seen: SeenCheckpoint, keep = true): Promise<ObserveResult> {
    const verdict = judge(seen, rows.state, rows.pending)
    if (verdict.kind === 'conflict') {
      await this.#record(rows, sameSizeEvidence(log.origin, verdict.with, seen, this.#now()))
      return 'evidence'
    }
    // Checked before: neither kept pending again nor checked again.
    if (verdict.kind !== 'consistent' && this.#checks.verified(log.origin, seen, rows.state)) return 'verified'
    if (verdict.kind === 'pending' && keep) await this.#rows.commitPending(log.origin, rows, verdict.pending)
    if (verdict.kind !== 'consistent') this.#checks.enqueue(log.origin, seen, rows.state)
    return verdict.kind
  }

  /** The background checks' access: each write in the origin's queue, after the fetching. */
  #checkHost(): CheckHost {
    return {
      current: async (origin) => {
        const rows = await this.#rows.read(origin)
        return { state: rows.state, frozen: rows.evidence !== undefined }
      },
      settled: (origin, seen, state) => this.#queue.run(origin, async () => {
        const rows = await this.#rows.read(origin)
        const rest = rows.pending.filter((p) => p.size !== seen.size || !bytesEqual(p.rootHash, seen.rootHash))
        // Only against the state it was checked with: a newer state may sit below it too.
        const same = rows.state !== undefined && rows.state.size === state.size && bytesEqual(rows.state.rootHash, state.rootHash)
        if (!same || rest.length === rows.pending.length) return
        await this.#rows.commitPending(origin, rows, rest)
      }),
      inconsistent: (origin, seen, state, result, url) => this.#queue.run(origin, async () => {
        const rows = await this.#rows.read(origin)
        if (rows.evidence !== undefined) return
        await this.#record(rows, inconsistentEvidence(origin, witnessed(state), seen, result.shown, this.#now(),
          seen.source, triedTiles(seen, state, result, url)))
      }),
    }
  }

  /** Stores evidence (synced) unless some is already held for the origin, then reports it. */
  async #record(rows: OriginRows, evidence: Evidence): Promise<void> {
    if (!(await this.#rows.commitEvidence(evidence.origin, rows, evidence))) return // the first stays
    try {
      this.#onEvidence(evidence)
    } catch {
      // The evidence is stored and served; a failing callback must not turn that into an error.
    }
  }

  /** How the background consistency checks went, per origin with a URL. */
  checkStatus(): CheckStatus[] {
    return this.#checks.status()
  }

  /**
   * Whether the witness's database can write now. After a write fails for a reason outside
   * Annal, every write is refused with STORAGE_UNWRITABLE until the database has recovered and
   * was found to hold every state the witness cosigned (OriginRowStore.recheck).
   */
  get writeHealth(): WriteHealth {
    return this.#driver.health
  }

  /** Stops the background checks (tile requests in flight are aborted) and waits for them. */
  async close(): Promise<void> {
    await this.#checks.close()
  }

  #now(): string {
    return this.#clock().toISOString()
  }

  /** The evidence held, one per origin at most, in configuration order. Throws CORRUPTION. */
  async evidence(): Promise<Evidence[]> {
    const out: Evidence[] = []
    for (const origin of this.#logs.keys()) {
      const { evidence } = await this.#rows.read(origin)
      if (evidence !== undefined) out.push(evidence)
    }
    return out
  }

  /**
   * The operator's decision after a split view: deletes the origin's evidence and pending
   * checkpoints, so that add-checkpoint cosigns again from the witnessed state. Returns
   * whether evidence was held. Throws LOG_NOT_FOUND for an origin not configured.
   */
  async clearEvidence(origin: string): Promise<boolean> {
    if (!this.#logs.has(origin)) throw new WitnessError('LOG_NOT_FOUND', 'unknown origin')
    return this.#queue.run(origin, async () => {
      const rows = await this.#rows.read(origin)
      await this.#rows.clear(origin, rows)
      return rows.evidence !== undefined
    })
  }

  /** The latest cosigned checkpoint of a configured origin, if any. Throws CORRUPTION. */
  async latest(origin: string): Promise<WitnessState | undefined> {
    if (!this.#logs.has(origin)) return undefined
    return (await this.#rows.read(origin)).state
  }

  /** The configured origin whose lowercase hex SHA-256 is `hash`, if any. */
  originForHash(hash: string): string | undefined {
    return this.#byHash.get(hash)
  }

  /** Every configured log with its keys and latest cosigned checkpoint, in configuration order. */
  async logs(): Promise<WitnessLogInfo[]> {
    const out: WitnessLogInfo[] = []
    for (const log of this.#logs.values()) {
      out.push({
        origin: log.origin,
        originHash: originHash(log.origin, nodeHashProvider),
        verifierKeys: log.verifiers.map(formatVerifierKey),
        latest: await this.latest(log.origin),
      })
    }
    return out
  }
}

/** Witnesses over one driver share its rows (OriginRowStore.for), so they share its recovering wrapper too. */
const wrappers = new WeakMap<StorageDriver, RecoveringDriver>()

function recovering(driver: StorageDriver): RecoveringDriver {
  if (driver instanceof RecoveringDriver) return driver
  let wrapper = wrappers.get(driver)
  if (wrapper === undefined) wrappers.set(driver, wrapper = new RecoveringDriver(driver))
  return wrapper
}

function triedTiles(seen: SeenCheckpoint, state: WitnessState, result: Extract<TileCheck, { kind: 'inconsistent' }>,
    url: string): string {
  const [m, n] = seen.size < state.size ? [seen.size, state.size] : [state.size, seen.size]
  return `both checkpoints verify with the log's configured key(s); the log's tiles at size ${n} from ${url} `
    + `(${result.tiles.join(', ')}) hash to the root of the checkpoint of size ${n}, and give its first ${m} leaves `
    + `the root ${encodeBase64(result.shown.rootHash)}, not the root of the checkpoint of size ${m}`
}
