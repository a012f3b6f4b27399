import { nodeEd25519, nodeHashProvider } from '@annal/crypto-node'
import { readBody } from '@annal/http'
import {
  type NoteVerifier, SIGNATURE_TYPE_COSIGNATURE_V1, formatAddCheckpoint, formatSignatureLine, openCheckpoint,
  parseSignatureLines, parseVerifierKey, verifyCosignatures,
} from '@annal/note'
import { isStorageError } from '@annal/storage'
import type { Ledger, Log } from '@annal/store'
import { ProblemError, isCodedError } from './problem.js'
import { ACCESS_LOG } from './scopes.js'

// node:crypto verifies Ed25519 an order of magnitude faster than the portable provider.
const NODE_PROVIDERS = { hash: nodeHashProvider, signature: nodeEd25519 }

/** One witness the log submits its checkpoints to (C2SP tlog-witness). */
export interface WitnessConfig {
  /** The witness's key name; must equal the name in `verifierKey`. */
  readonly name: string
  /** The submission prefix: checkpoints go to `<url>/add-checkpoint`. http(s). */
  readonly url: string
  /** The witness's C2SP verifier key, type 0x04 (tlog-cosignature v1). */
  readonly verifierKey: string
}

/** A checkpoint meets the policy with valid cosignatures from at least `k` of the witnesses. */
export interface WitnessPolicy {
  readonly k: number
}

export interface WitnessingOptions {
  readonly ledger: Ledger
  readonly witnesses: readonly WitnessConfig[]
  readonly policy: WitnessPolicy
  /** Names of the logs to witness. Default: every log of the ledger but `access`, also those created later. */
  readonly logs?: readonly string[]
  /** How often log sizes are looked at, in ms. Default 100. */
  readonly pollIntervalMs?: number
  /** Limit on one add-checkpoint request (connect, answer and body), in ms. Default 2,000. */
  readonly timeoutMs?: number
  /** Wait after a witness's first failure, in ms, doubled per further failure. Default 250. */
  readonly backoffMs?: number
  /** Longest wait between attempts to a failing witness, in ms. Default 30,000. */
  readonly maxBackoffMs?: number
}

/** How submitting one log to one witness is going. */
export interface WitnessStatus {
  readonly witness: string
  readonly log: string
  /** The size this witness last cosigned for us, as far as we know (0 until it answers). */
  readonly witnessedSize: number
  /** The newest size whose cosignature from this witness we hold, since start. */
  readonly cosignedSize: number | undefined
  /** Failures in a row; 0 after a success. */
  readonly failures: number
  /** 409 answers with a size that were followed by a resubmission, since start. */
  readonly resubmits: number
  readonly lastError: string | undefined
}

/** A checkpoint as the checkpoint endpoint serves it. */
export interface ServedCheckpoint {
  readonly size: number
  /** The log's signed checkpoint note with the cosignature lines kept for it. */
  readonly note: string
  /** Whether the served checkpoint has >= k valid cosignatures of configured witnesses. */
  readonly policyMet: boolean
  /** The log's latest size when served: newer checkpoints may lack cosignatures yet. */
  readonly latestSize: number
}

interface Witness {
  readonly name: string
  readonly endpoint: string
  readonly verifier: NoteVerifier
}

interface Track {
  witnessed: number
  cosigned: number | undefined
  busy: boolean
  failures: number
  resubmits: number
  retryAt: number
  lastError: string | undefined
}

const SIZE_CONTENT_TYPE = 'text/x.tlog.size'
const SIZE_BODY = /^(0|[1-9][0-9]{0,15})\n$/
const MAX_RESPONSE = 64 * 1024
/** 409 answers followed in one submission before it counts as a failure. */
const MAX_RESUBMITS = 3
/** Cosignature rows looked at, newest first, to find the policy-meeting checkpoint after a start. */
const MAX_HISTORY_SCAN = 1_000

/** Why a submission failed; short, for `status()`. */
class SubmitError extends Error {}

function positive(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}

/** Checks and parses the witness list. RangeError or TypeError for bad configuration. */
function parseWitnesses(configs: readonly WitnessConfig[]): Witness[] {
  if (!Array.isArray(configs) || configs.length === 0) throw new RangeError('witnesses must be a non-empty array')
  const names = new Set<string>()
  return configs.map((config) => {
    const verifier = parseVerifierKey(config.verifierKey, { providers: NODE_PROVIDERS })
    if (verifier.type !== SIGNATURE_TYPE_COSIGNATURE_V1) throw new RangeError('witness verifier keys must be type 0x04')
    if (verifier.name !== config.name) throw new RangeError('a witness name must equal its verifier key name')
    if (names.has(config.name)) throw new RangeError('two witnesses share a name')
    names.add(config.name)
    const url = new URL(config.url)
    if (!/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
      throw new TypeError('a witness url is http(s) without query or fragment')
    }
    return { name: config.name, endpoint: `${url.href.replace(/\/$/, '')}/add-checkpoint`, verifier }
  })
}

/**
 * The log side of witnessing: submits each witnessed log's newest checkpoint to every witness
 * in parallel, keeps the cosignatures that verify with the log (`Log.addCosignatures`), and
 * answers which checkpoint meets the k-of-n policy. It polls log sizes every `pollIntervalMs`
 * (catching appends from any path, the access log's too), and `kick()` after an HTTP append
 * starts submissions at once. Appends never wait for it: a slow or dead witness only delays
 * its own cosignatures, and at most one request per witness and log is in flight.
 */
export class Witnessing {
  readonly k: number
  readonly #ledger: Ledger
  readonly #witnesses: Witness[]
  readonly #logs: ReadonlySet<string> | undefined
  readonly #options: { pollIntervalMs: number; timeoutMs: number; backoffMs: number; maxBackoffMs: number }
  readonly #tracks = new Map<string, Track>()
  /** Per log: the newest size known to meet the policy (loaded from the store on first use). */
  readonly #best = new Map<string, Promise<number | undefined>>()
  readonly #inFlight = new Set<Promise<void>>()
  readonly #abort = new AbortController()
  #timer: ReturnType<typeof setInterval> | undefined

  /** @throws RangeError, TypeError for bad configuration. */
  constructor(options: WitnessingOptions) {
    this.#ledger = options.ledger
    this.#witnesses = parseWitnesses(options.witnesses)
    const k = options.policy?.k
    if (!Number.isSafeInteger(k) || k < 1 || k > this.#witnesses.length) {
      throw new RangeError('policy.k must be an integer from 1 to the number of witnesses')
    }
    this.k = k
    this.#logs = options.logs === undefined ? undefined : new Set(options.logs)
    this.#options = {
      pollIntervalMs: positive(options.pollIntervalMs, 100, 'pollIntervalMs'),
      timeoutMs: positive(options.timeoutMs, 2_000, 'timeoutMs'),
      backoffMs: positive(options.backoffMs, 250, 'backoffMs'),
      maxBackoffMs: positive(options.maxBackoffMs, 30_000, 'maxBackoffMs'),
    }
  }

  get n(): number {
    return this.#witnesses.length
  }

  /** Whether checkpoints of log `name` go to the witnesses. */
  covers(name: string): boolean {
    return this.#logs === undefined ? name !== ACCESS_LOG : this.#logs.has(name)
  }

  /** Starts polling. Idempotent. */
  start(): void {
    if (this.#timer !== undefined || this.#abort.signal.aborted) return
    this.#timer = setInterval(() => this.#tick(), this.#options.pollIntervalMs)
    this.#timer.unref()
    this.#tick()
  }

  /** Stops polling, aborts requests in flight and waits for them to settle. */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    this.#abort.abort()
    await Promise.allSettled([...this.#inFlight])
  }

  /**
   * Looks at log sizes now instead of at the next poll (say, right after an append). Starts
   * submissions and returns at once; a no-op before start() and after close().
   */
  kick(): void {
    if (this.#timer !== undefined) this.#tick()
  }

  status(): WitnessStatus[] {
    return [...this.#tracks].map(([id, track]) => {
      const [witness, log] = id.split('\n') as [string, string]
      return { witness, log, witnessedSize: track.witnessed, cosignedSize: track.cosigned, failures: track.failures,
        resubmits: track.resubmits, lastError: track.lastError }
    })
  }

  /**
   * The newest checkpoint of `log` that meets the policy, with its cosignatures; with `latest`,
   * the newest the log signed, with whatever cosignatures it has.
   * @throws ApiError POLICY_UNMET when no checkpoint meets the policy (and not `latest`).
   */
  async served(log: Log, latest: boolean): Promise<ServedCheckpoint> {
    const latestSize = log.size
    if (latest) {
      const note = await log.cosignedCheckpoint(latestSize)
      return { size: latestSize, note, policyMet: this.#count(log, note) >= this.k, latestSize }
    }
    const size = await this.#bestSize(log)
    if (size === undefined) {
      throw new ProblemError('POLICY_UNMET', `no checkpoint has ${this.k} of ${this.n} witness cosignatures yet`,
        { policy: { k: this.k, n: this.n }, latest_size: latestSize })
    }
    return { size, note: await log.cosignedCheckpoint(size), policyMet: true, latestSize }
  }

  #tick(): void {
    if (this.#abort.signal.aborted) return
    let logs: Log[]
    try {
      logs = this.#ledger.logs().filter((info) => this.covers(info.name)).map((info) => this.#ledger.log(info.name))
    } catch (error) {
      // The ledger was closed under us: nothing more can be submitted or kept.
      if (isStorageError(error, 'DATABASE_CLOSED')) void this.close()
      return
    }
    const now = Date.now()
    for (const log of logs) {
      if (log.size === 0) continue
      for (const witness of this.#witnesses) {
        const track = this.#track(witness.name, log.info.name)
        if (track.busy || now < track.retryAt || track.cosigned === log.size) continue
        this.#run(track, witness, log)
      }
    }
  }

  #track(witness: string, log: string): Track {
    const id = `${witness}\n${log}`
    let track = this.#tracks.get(id)
    if (track === undefined) {
      track = { witnessed: 0, cosigned: undefined, busy: false, failures: 0, resubmits: 0, retryAt: 0, lastError: undefined }
      this.#tracks.set(id, track)
    }
    return track
  }

  #run(track: Track, witness: Witness, log: Log): void {
    track.busy = true
    const run = this.#submit(track, witness, log).then(() => {
      track.failures = 0
      track.lastError = undefined
    }, (error: unknown) => {
      if (this.#abort.signal.aborted) return
      track.failures++
      track.lastError = error instanceof SubmitError || isCodedError(error) ? error.message
        : (error as Error)?.name === 'TimeoutError' ? 'timed out' : 'request failed'
      const wait = Math.min(this.#options.maxBackoffMs, this.#options.backoffMs * 2 ** Math.min(track.failures - 1, 30))
      track.retryAt = Date.now() + wait
    }).finally(() => {
      track.busy = false
      this.#inFlight.delete(run)
    })
    this.#inFlight.add(run)
  }

  /** Submits the log's checkpoint at its current size, following 409s, and keeps the cosignature. */
  async #submit(track: Track, witness: Witness, log: Log): Promise<void> {
    const size = log.size
    const note = await log.checkpoint(size)
    for (let attempt = 0; attempt <= MAX_RESUBMITS; attempt++) {
      if (track.witnessed > size) throw new SubmitError(`the witness holds size ${track.witnessed}, above ours`)
      const proof = track.witnessed === 0 ? [] : await log.consistencyProof(track.witnessed, size)
      const response = await this.#post(witness, formatAddCheckpoint(track.witnessed, proof, note))
      const text = await readBounded(response)
      if (response.status === 200) {
        await this.#keep(track, witness, log, size, note, text)
        return
      }
      const reported = SIZE_BODY.exec(text)
      const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
      // A 409 with the size body says where the witness is. A bare 409 (v1.0.0: same size,
      // different root) and 422 (current spec) are refusals, as is anything else.
      if (response.status !== 409 || type !== SIZE_CONTENT_TYPE || reported === null) {
        throw new SubmitError(`witness answered ${response.status}`)
      }
      track.witnessed = Number(reported[1])
      track.resubmits++
    }
    throw new SubmitError('witness kept answering 409')
  }

  async #post(witness: Witness, body: string): Promise<Response> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs)])
    return fetch(witness.endpoint, { method: 'POST', body, signal, headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
  }

  /** Verifies the witness's lines for `note` and keeps them with the log. */
  async #keep(track: Track, witness: Witness, log: Log, size: number, note: string, text: string): Promise<void> {
    let lines: string[]
    try {
      const ours = parseSignatureLines(text)
        .filter((line) => line.name === witness.verifier.name && line.keyId === witness.verifier.keyId)
        .map(formatSignatureLine)
      const checkpoint = openCheckpoint(note + ours.join(''), [parseVerifierKey(log.info.verifierKey, { providers: NODE_PROVIDERS })])
      if (verifyCosignatures(checkpoint, [witness.verifier]).length === 0) throw new SubmitError('no cosignature from the witness key')
      lines = ours
    } catch (error) {
      if (error instanceof SubmitError) throw error
      throw new SubmitError('the witness answered an invalid cosignature')
    }
    await log.addCosignatures(size, lines)
    track.witnessed = size
    track.cosigned = size
    await this.#noteCosigned(log, size)
  }

  /** Moves the log's policy-meeting size up to `size` if its kept cosignatures now suffice. */
  async #noteCosigned(log: Log, size: number): Promise<void> {
    const name = log.info.name
    const best = await this.#bestSize(log)
    if (best !== undefined && best >= size) return
    if (this.#count(log, await log.cosignedCheckpoint(size)) < this.k) return
    const current = this.#best.get(name)
    this.#best.set(name, (current ?? Promise.resolve(undefined)).then((value) => Math.max(value ?? 0, size)))
  }

  #bestSize(log: Log): Promise<number | undefined> {
    const name = log.info.name
    let best = this.#best.get(name)
    if (best === undefined) {
      best = this.#scan(log)
      this.#best.set(name, best)
      best.catch(() => this.#best.get(name) === best && this.#best.delete(name))
    }
    return best
  }

  /** The newest size in the kept history that meets the policy (the last MAX_HISTORY_SCAN rows). */
  async #scan(log: Log): Promise<number | undefined> {
    let seen = 0
    for await (const { size, lines } of log.cosignatureHistory()) {
      if (lines.length >= this.k && this.#count(log, await log.checkpoint(size) + lines.join('')) >= this.k) return size
      if (++seen >= MAX_HISTORY_SCAN) break
    }
    return undefined
  }

  /** Valid cosignatures of configured witnesses in a cosigned note; 0 if any line fails. */
  #count(log: Log, note: string): number {
    try {
      const checkpoint = openCheckpoint(note, [parseVerifierKey(log.info.verifierKey, { providers: NODE_PROVIDERS })])
      return verifyCosignatures(checkpoint, this.#witnesses.map((witness) => witness.verifier)).length
    } catch {
      return 0
    }
  }
}

/** The response body as UTF-8, refused as soon as it passes MAX_RESPONSE bytes. */
async function readBounded(response: Response): Promise<string> {
  try {
    return new TextDecoder().decode(await readBody(response, MAX_RESPONSE))
  } catch (error) {
    throw new SubmitError(`the witness answer is unreadable: ${(error as Error).message}`)
  }
}
