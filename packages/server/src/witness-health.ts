// How submitting one log to one witness goes, and the two moments an operator is told of:
// a witness failing for longer than a threshold, and its recovery after that.

/** One witness and one log, as Witnessing keeps them. */
export interface Track {
  witnessed: number
  cosigned: number | undefined
  busy: boolean
  failures: number
  resubmits: number
  retryAt: number
  lastError: string | undefined
  lastErrorAt: number | undefined
  /** When the current run of failures began; undefined while the witness answers. */
  failingSince: number | undefined
  /** The current run of failures was alerted. */
  alerted: boolean
  /** Since start: submissions that got a cosignature kept, and those that failed. */
  successes: number
  totalFailures: number
}

/** Said once when a witness has failed for a log for the threshold, and once when it cosigns again. */
export interface WitnessAlert {
  readonly kind: 'failing' | 'recovered'
  readonly witness: string
  readonly log: string
  /** When the failures began. */
  readonly since: Date
  /** The last failure's reason. */
  readonly lastError: string
  /** The newest size this witness cosigned for the log since start, if any. */
  readonly cosignedSize: number | undefined
}

/** A witness of a log's policy, as `GET /v1/logs/{log}` shows it. */
export interface WitnessHealth {
  readonly name: string
  /** False when the policy names a witness this server is not configured with: it cannot count. */
  readonly configured: boolean
  /** Its cosignature verifier key, when configured. */
  readonly verifierKey: string | undefined
  /** The newest size this witness cosigned for the log since start. */
  readonly cosignedSize: number | undefined
  /** Failures in a row; 0 once it cosigns again. */
  readonly failures: number
  /** The last failure's reason and time, kept after the witness recovers. */
  readonly lastError: string | undefined
  readonly lastErrorAt: Date | undefined
  /** When the current run of failures began; undefined while the witness answers. */
  readonly failingSince: Date | undefined
}

/** A witnessed log's policy and how its witnesses are doing. */
export interface LogWitnessing {
  readonly k: number
  /** The newest size whose checkpoint meets the policy, if any. */
  readonly policyMetSize: number | undefined
  readonly witnesses: readonly WitnessHealth[]
}

export function newTrack(): Track {
  return {
    witnessed: 0, cosigned: undefined, busy: false, failures: 0, resubmits: 0, retryAt: 0, lastError: undefined,
    lastErrorAt: undefined, failingSince: undefined, alerted: false, successes: 0, totalFailures: 0,
  }
}

/** Notes a failure at `now`. */
export function trackFailure(track: Track, message: string, now: number): void {
  track.failures++
  track.totalFailures++
  track.lastError = message
  track.lastErrorAt = now
  track.failingSince ??= now
}

/** Notes a success; returns the alert to give when the failures that ended had been alerted. */
export function trackSuccess(track: Track, witness: string, log: string): WitnessAlert | undefined {
  const alert = track.alerted ? alertOf('recovered', track, witness, log) : undefined
  track.successes++
  track.failures = 0
  track.failingSince = undefined
  track.alerted = false
  return alert
}

/** The failing alert, once per run of failures, when the run has lasted `after` ms at `now`. */
export function dueAlert(track: Track, witness: string, log: string, now: number, after: number): WitnessAlert | undefined {
  if (track.alerted || track.failingSince === undefined || now - track.failingSince < after) return undefined
  track.alerted = true
  return alertOf('failing', track, witness, log)
}

export function healthOf(name: string, track: Track | undefined, verifierKey: string | undefined): WitnessHealth {
  const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms))
  if (verifierKey === undefined) {
    return { name, configured: false, verifierKey, cosignedSize: undefined, failures: 0, lastError: 'not a witness of this server',
      lastErrorAt: undefined, failingSince: undefined }
  }
  return {
    name, configured: true, verifierKey, cosignedSize: track?.cosigned, failures: track?.failures ?? 0, lastError: track?.lastError,
    lastErrorAt: date(track?.lastErrorAt), failingSince: date(track?.failingSince),
  }
}

function alertOf(kind: WitnessAlert['kind'], track: Track, witness: string, log: string): WitnessAlert {
  return { kind, witness, log, since: new Date(track.failingSince!), lastError: track.lastError!, cosignedSize: track.cosigned }
}
