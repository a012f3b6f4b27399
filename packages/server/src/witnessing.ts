import { readBody } from '@annal/http'
import { formatAddCheckpoint, formatSignatureLine, openCheckpoint, parseSignatureLines, parseVerifierKey, verifyCosignatures } from '@annal/note'
import { isStorageError } from '@annal/storage'
import type { Ledger, Log } from '@annal/store'
import { ProblemError, isCodedError } from './problem.js'
import { NODE_PROVIDERS, type Witness, type WitnessConfig, parseWitnesses, positive } from './witness-config.js'
import {
  type LogWitnessing, type Track, type WitnessAlert, dueAlert, healthOf, newTrack, trackFailure, trackSuccess,
} from './witness-health.js'
import type { LogPolicy } from './witness-policy.js'

/** What the witnessing needs besides the configured witnesses. */
export interface WitnessingOptions {
  readonly ledger: Ledger
  /** The server's witnesses; a log's policy names which of them it uses. May be empty. */
  readonly witnesses: readonly WitnessConfig[]
  /** A log's policy, or undefined for a log that is not witnessed. Asked at every poll. */
  readonly policyOf: (log: string) => LogPolicy | undefined
  /** How often log sizes are looked at, in ms. Default 100. */
  readonly pollIntervalMs?: number
  /** Limit on one add-checkpoint request (connect, answer and body), in ms. Default 2,000. */
  readonly timeoutMs?: number
  /** Wait after a witness's first failure, in ms, doubled per further failure. Default 250. */
  readonly backoffMs?: number
  /** Longest wait between attempts to a failing witness, in ms. Default 30,000. */
  readonly maxBackoffMs?: number
  /** How long a witness may keep failing for a log before `onAlert` hears of it, in ms. Default 60,000. */
  readonly alertAfterMs?: number
  /** Told once when a witness has failed for a log for `alertAfterMs`, and once when it cosigns again. */
  readonly onAlert?: (alert: WitnessAlert) => void
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
  /** Submissions that got a cosignature kept, and those that failed, since start. */
  readonly successes: number
  readonly totalFailures: number
  /** 409 answers with a size that were followed by a resubmission, since start. */
  readonly resubmits: number
  /** The last failure's reason, kept after the witness recovers. */
  readonly lastError: string | undefined
  readonly lastErrorAt: Date | undefined
  /** When the current run of failures began; undefined while the witness answers. */
  readonly failingSince: Date | undefined
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

const SIZE_CONTENT_TYPE = 'text/x.tlog.size'
const SIZE_BODY = /^(0|[1-9][0-9]{0,15})\n$/
const MAX_RESPONSE = 64 * 1024
/** 409 answers followed in one submission before it counts as a failure. */
const MAX_RESUBMITS = 3
/** Cosignature rows looked at, newest first, to find the policy-meeting checkpoint after a start. */
const MAX_HISTORY_SCAN = 1_000

/** Why a submission failed; short, for `status()`. */
class SubmitError extends Error {}

/** The newest policy-meeting size of a log, for the policy it was found under. */
interface Best {
  readonly policy: LogPolicy
  size: Promise<number | undefined>
}

/**
 * The log side of witnessing: submits each witnessed log's newest checkpoint to the witnesses
 * its policy names, in parallel, keeps the cosignatures that verify with the log
 * (`Log.addCosignatures`), and answers which checkpoint meets the log's k-of-n policy. It polls
 * log sizes every `pollIntervalMs` (catching appends from any path, the access log's too), and
 * `kick()` after an HTTP append starts submissions at once. Appends never wait for it: a slow
 * or dead witness only delays its own cosignatures, and at most one request per witness and
 * log is in flight.
 */
export class Witnessing {
  readonly #ledger: Ledger
  readonly #witnesses: ReadonlyMap<string, Witness>
  readonly #policyOf: (log: string) => LogPolicy | undefined
  readonly #options: { pollIntervalMs: number; timeoutMs: number; backoffMs: number; maxBackoffMs: number; alertAfterMs: number }
  readonly #onAlert: ((alert: WitnessAlert) => void) | undefined
  readonly #tracks = new Map<string, Track>()
  /** Per log: the newest size known to meet its policy (loaded from the store on first use). */
  readonly #best = new Map<string, Best>()
  readonly #inFlight = new Set<Promise<void>>()
  readonly #abort = new AbortController()
  #timer: ReturnType<typeof setInterval> | undefined

  /** @throws RangeError, TypeError for bad configuration. */
  constructor(options: WitnessingOptions) {
    this.#ledger = options.ledger
    this.#witnesses = new Map(parseWitnesses(options.witnesses).map((witness) => [witness.name, witness]))
    this.#policyOf = options.policyOf
    this.#onAlert = options.onAlert
    this.#options = {
      pollIntervalMs: positive(options.pollIntervalMs, 100, 'pollIntervalMs'),
      timeoutMs: positive(options.timeoutMs, 2_000, 'timeoutMs'),
      backoffMs: positive(options.backoffMs, 250, 'backoffMs'),
      maxBackoffMs: positive(options.maxBackoffMs, 30_000, 'maxBackoffMs'),
      alertAfterMs: positive(options.alertAfterMs, 60_000, 'alertAfterMs'),
    }
  }

  /** The names of the configured witnesses, in configuration order. */
  get names(): string[] {
    return [...this.#witnesses.keys()]
  }

  /** The policy of log `name`, or undefined when its checkpoints do not go to witnesses. */
  policy(name: string): LogPolicy | undefined {
    return this.#policyOf(name)
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
   * Looks at log sizes now instead of at the next poll (say, right after an append or a policy
   * change). Starts submissions and returns at once; a no-op before start() and after close().
   */
  kick(): void {
    if (this.#timer !== undefined) this.#tick()
  }

  status(): WitnessStatus[] {
    return [...this.#tracks].map(([id, track]) => {
      const [witness, log] = id.split('\n') as [string, string]
      const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms))
      return { witness, log, witnessedSize: track.witnessed, cosignedSize: track.cosigned, failures: track.failures,
        successes: track.successes, totalFailures: track.totalFailures, resubmits: track.resubmits, lastError: track.lastError, lastErrorAt: date(track.lastErrorAt),
        failingSince: date(track.failingSince) }
    })
  }

  /** The log's policy and how its witnesses are doing; undefined when it is not witnessed. */
  async health(log: Log): Promise<LogWitnessing | undefined> {
    const name = log.info.name
    const policy = this.#policyOf(name)
    if (policy === undefined) return undefined
    return {
      k: policy.k,
      policyMetSize: await this.#bestSize(log, policy),
      witnesses: policy.witnesses.map((witness) =>
        healthOf(witness, this.#tracks.get(`${witness}\n${name}`), this.#witnesses.get(witness)?.verifierKey)),
    }
  }

  /**
   * The newest checkpoint of `log` that meets its policy, with its cosignatures; with `latest`,
   * the newest the log signed, with whatever cosignatures it has.
   * @throws RangeError for a log that is not witnessed; ProblemError POLICY_UNMET when no
   *   checkpoint meets the policy (and not `latest`).
   */
  async served(log: Log, latest: boolean): Promise<ServedCheckpoint> {
    const policy = this.#policyOf(log.info.name)
    if (policy === undefined) throw new RangeError('the log is not witnessed')
    const latestSize = log.size
    if (latest) {
      const note = await log.cosignedCheckpoint(latestSize)
      return { size: latestSize, note, policyMet: this.#count(log, note, policy) >= policy.k, latestSize }
    }
    const size = await this.#bestSize(log, policy)
    if (size === undefined) {
      const { k, witnesses: { length: n } } = policy
      // `see`: where each witness's last error is, as the detail of a 503 is not given out.
      throw new ProblemError('POLICY_UNMET', `no checkpoint has ${k} of ${n} witness cosignatures yet`,
        { policy: { k, n }, latest_size: latestSize, see: `/v1/logs/${log.info.name}` })
    }
    return { size, note: await log.cosignedCheckpoint(size), policyMet: true, latestSize }
  }

  #tick(): void {
    if (this.#abort.signal.aborted) return
    let logs: [Log, LogPolicy][]
    try {
      logs = this.#ledger.logs().flatMap((info) => {
        const policy = this.#policyOf(info.name)
        return policy === undefined ? [] : [[this.#ledger.log(info.name), policy] as [Log, LogPolicy]]
      })
    } catch (error) {
      // The ledger was closed under us: nothing more can be submitted or kept.
      if (isStorageError(error, 'DATABASE_CLOSED')) void this.close()
      return
    }
    const now = Date.now()
    for (const [log, policy] of logs) {
      if (log.size === 0) continue
      for (const name of policy.witnesses) {
        const witness = this.#witnesses.get(name)
        if (witness === undefined) continue
        const track = this.#track(name, log.info.name)
        const alert = dueAlert(track, name, log.info.name, now, this.#options.alertAfterMs)
        if (alert !== undefined) this.#onAlert?.(alert)
        if (track.busy || now < track.retryAt || track.cosigned === log.size) continue
        this.#run(track, witness, log)
      }
    }
  }

  #track(witness: string, log: string): Track {
    const id = `${witness}\n${log}`
    let track = this.#tracks.get(id)
    if (track === undefined) this.#tracks.set(id, track = newTrack())
    return track
  }

  #run(track: Track, witness: Witness, log: Log): void {
    track.busy = true
    const run = this.#submit(track, witness, log).then(() => {
      const alert = trackSuccess(track, witness.name, log.info.name)
      if (alert !== undefined) this.#onAlert?.(alert)
    }, (error: unknown) => {
      if (this.#abort.signal.aborted) return
      trackFailure(track, error instanceof SubmitError || isCodedError(error) ? error.message
        : (error as Error)?.name === 'TimeoutError' ? 'timed out' : 'request failed', Date.now())
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
    const policy = this.#policyOf(log.info.name)
    if (policy === undefined) return
    const best = await this.#bestSize(log, policy)
    if (best !== undefined && best >= size) return
    if (this.#count(log, await log.cosignedCheckpoint(size), policy) < policy.k) return
    const entry = this.#best.get(log.info.name)
    // A policy changed meanwhile has its own scan, which sees these cosignatures.
    if (entry?.policy !== policy) return
    entry.size = entry.size.then((value) => Math.max(value ?? 0, size))
  }

  #bestSize(log: Log, policy: LogPolicy): Promise<number | undefined> {
    const name = log.info.name
    const cached = this.#best.get(name)
    if (cached?.policy === policy) return cached.size
    const entry: Best = { policy, size: this.#scan(log, policy) }
    this.#best.set(name, entry)
    entry.size.catch(() => this.#best.get(name) === entry && this.#best.delete(name))
    return entry.size
  }

  /** The newest size in the kept history that meets the policy (the last MAX_HISTORY_SCAN rows). */
  async #scan(log: Log, policy: LogPolicy): Promise<number | undefined> {
    let seen = 0
    for await (const { size, lines } of log.cosignatureHistory()) {
      if (lines.length >= policy.k && this.#count(log, await log.checkpoint(size) + lines.join(''), policy) >= policy.k) return size
      if (++seen >= MAX_HISTORY_SCAN) break
    }
    return undefined
  }

  /** Valid cosignatures of the policy's configured witnesses in a cosigned note; 0 if any line fails. */
  #count(log: Log, note: string, policy: LogPolicy): number {
    const verifiers = policy.witnesses.flatMap((name) => {
      const witness = this.#witnesses.get(name)
      return witness === undefined ? [] : [witness.verifier]
    })
    try {
      const checkpoint = openCheckpoint(note, [parseVerifierKey(log.info.verifierKey, { providers: NODE_PROVIDERS })])
      return verifyCosignatures(checkpoint, verifiers).length
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
