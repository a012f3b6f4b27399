/**
 * What a client can fail to verify. Codes are stable: callers and the CLI switch on them.
 */
export const CLIENT_ERROR_CODES = [
  // A trust policy that does not parse (tlog-policy); `line` says where.
  'POLICY_MALFORMED',
  // A tlog-proof that does not parse; `line` says where.
  'PROOF_MALFORMED',
  // A checkpoint note that does not parse.
  'CHECKPOINT_MALFORMED',
  // The checkpoint's origin names no log of the policy.
  'LOG_UNKNOWN',
  // No valid signature by the policy's log key, or a known witness's cosignature is invalid.
  'SIGNATURE_INVALID',
  // The valid cosignatures do not satisfy the policy's quorum.
  'QUORUM_UNMET',
  // The inclusion proof (or the entries a monitor read) does not bind the leaves to the root.
  'INCLUSION_FAILED',
  // A newer checkpoint is not an extension of the trusted one.
  'CONSISTENCY_FAILED',
  // An entry the server answered is not the one asked for.
  'ENTRY_MISMATCH',
  // A server answer that is not what the API promises (status, content, JSON shape).
  'RESPONSE_INVALID',
  // The log signed two checkpoints that no consistency proof connects (a SplitViewError).
  'SPLIT_VIEW',
  // Split-view evidence (formatEvidence's text) that does not parse.
  'EVIDENCE_MALFORMED',
  // Split-view evidence that does not show a fork: not two log-signed checkpoints that no
  // consistency proof connects.
  'EVIDENCE_INVALID',
  // A monitor's state was changed by someone else between its load and its compare-and-swap.
  'STATE_CONFLICT',
  // A monitor state file that cannot be read, or does not hold a state: restore or remove it.
  'STATE_INVALID',
  // A monitor state file that another live process holds open (its lock file says which).
  'STATE_LOCKED',
] as const

export type ClientErrorCode = typeof CLIENT_ERROR_CODES[number]

export interface ClientErrorOptions extends ErrorOptions {
  /** The 1-based line of a policy or proof file that did not parse. */
  readonly line?: number
  /** The HTTP status of a refused request. */
  readonly status?: number
}

/** A failure to parse or verify, with a stable `code`. */
export class ClientError extends Error {
  override readonly name = 'ClientError'
  readonly code: ClientErrorCode
  readonly line: number | undefined
  readonly status: number | undefined

  constructor(code: ClientErrorCode, message: string, options: ClientErrorOptions = {}) {
    super(options.line === undefined ? message : `line ${options.line}: ${message}`, options)
    this.code = code
    this.line = options.line
    this.status = options.status
  }
}

/** True when `error` is a ClientError, with `code` if given. */
export function isClientError(error: unknown, code?: ClientErrorCode): error is ClientError {
  return error instanceof ClientError && (code === undefined || error.code === code)
}

/**
 * The `code` of an error thrown by tlog or note, read by shape rather than class, so that it
 * survives those packages changing their error classes.
 */
export function codeOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}
