import { nodeEd25519, nodeHashProvider, nodeHasher } from '@annal/crypto-node'
import {
  SIGNATURE_TYPE_ED25519, formatVerifierKey, isCosignatureSigner, parseSignerKey, parseVerifierKey,
  type CosignatureSigner, type NoteProviders, type NoteVerifier,
} from '@annal/note'
import type { StorageDriver } from '@annal/store'
import { isTlogError } from '@annal/tlog'
import { decideAddCheckpoint, type AddCheckpointOutcome, type WitnessedLog } from './decide.js'
import { KeyedQueue } from './internal/keyed-queue.js'
import { parseAddCheckpoint, type AddCheckpointRequest } from './request.js'
import { decodeState, encodeState, originHash, stateKey, type WitnessState } from './state.js'

/** A log to witness: its origin line and one or more verifier keys (Ed25519, type 0x01). */
export interface WitnessLogConfig {
  readonly origin: string
  readonly verifierKeys: readonly (string | NoteVerifier)[]
}

export interface WitnessOptions {
  /** The witness's name; if given, it must equal the signer key's name. */
  readonly name?: string
  /** A cosignature/v1 (type 0x04) signer key string, or a signer made from one. */
  readonly signerKey: string | CosignatureSigner
  readonly logs: readonly WitnessLogConfig[]
  /** Where the latest cosigned checkpoint of each origin is kept (say, a LevelDriver). */
  readonly driver: StorageDriver
  /** The time cosignatures carry. Default: the system clock. */
  readonly clock?: () => Date
}

/** One log as /v1/witness reports it. */
export interface WitnessLogInfo {
  readonly origin: string
  readonly originHash: string
  readonly verifierKeys: readonly string[]
  /** The latest cosigned checkpoint; undefined if the witness never cosigned one. */
  readonly latest: WitnessState | undefined
}

const providers: NoteProviders = Object.freeze({ hash: nodeHashProvider, signature: nodeEd25519 })
/** A compare-and-swap that loses re-reads and decides again; each loss means another request won. */
const MAX_ATTEMPTS = 8

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

/**
 * A tlog-witness over a storage driver: add-checkpoint decided by decideAddCheckpoint, the new
 * state stored by a synced compare-and-swap before it is answered, requests for one origin
 * taken one at a time. The HTTP routes are in createWitnessApp.
 */
export class Witness {
  readonly signer: CosignatureSigner
  /** The witness's verifier key string (type 0x04). */
  readonly verifierKey: string
  readonly #logs: Map<string, WitnessedLog>
  readonly #byHash = new Map<string, string>()
  readonly #driver: StorageDriver
  readonly #clock: () => Date
  readonly #queue = new KeyedQueue()

  /** Throws RangeError or KEY_MALFORMED for a bad configuration. */
  constructor(options: WitnessOptions) {
    this.signer = witnessSigner(options)
    this.verifierKey = formatVerifierKey(this.signer.verifier)
    this.#logs = configuredLogs(options.logs)
    for (const origin of this.#logs.keys()) this.#byHash.set(originHash(origin, nodeHashProvider), origin)
    this.#driver = options.driver
    this.#clock = options.clock ?? (() => new Date())
  }

  get name(): string {
    return this.signer.name
  }

  /**
   * Handles an add-checkpoint body. Refusals the spec names come back as outcomes; a body
   * that does not parse throws BODY_TOO_LARGE, BODY_MALFORMED, SIZE_OUT_OF_RANGE,
   * NOTE_MALFORMED or CHECKPOINT_MALFORMED (all 400 but the first, 413).
   */
  async addCheckpoint(body: Uint8Array | string): Promise<AddCheckpointOutcome> {
    const request = parseAddCheckpoint(body)
    const log = this.#logs.get(request.origin)
    if (log === undefined) return this.#decide(request, undefined, undefined)
    return this.#queue.run(request.origin, async () => {
      const key = stateKey(request.origin, nodeHashProvider)
      for (let attempt = 1; ; attempt++) {
        const stored = await this.#driver.get(key)
        const outcome = this.#decide(request, log, stored && decodeState(stored))
        if (outcome.status !== 200) return outcome
        try {
          await this.#driver.compareAndSwap(key, stored, encodeState(outcome.next), [])
          return outcome
        } catch (error) {
          if (!isTlogError(error, 'HEAD_CONFLICT') || attempt === MAX_ATTEMPTS) throw error
        }
      }
    })
  }

  #decide(request: AddCheckpointRequest, log: WitnessedLog | undefined,
      state: WitnessState | undefined): AddCheckpointOutcome {
    const timestamp = Math.floor(this.#clock().getTime() / 1000)
    return decideAddCheckpoint({ request, log, state, signer: this.signer, timestamp, hasher: nodeHasher })
  }

  /** The latest cosigned checkpoint of a configured origin, if any. Throws CORRUPTION. */
  async latest(origin: string): Promise<WitnessState | undefined> {
    if (!this.#logs.has(origin)) return undefined
    const stored = await this.#driver.get(stateKey(origin, nodeHashProvider))
    return stored && decodeState(stored)
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
