import { bytesEqual, bytesToHex, defaultHasher } from '@annal/tlog'
import { verifyCheckpoint, type TrustedCheckpoint } from './checkpoint.js'
import { checkConsistent, proofNeeded } from './consistency.js'
import { ClientError } from './errors.js'
import { BundleReader } from './internal/bundles.js'
import { LogReader, countField, hashField, hashesField } from './internal/http.js'
import type { Policy } from './policy.js'
import { formatProof, verifyIncluded } from './proof.js'

/** The part of the Fetch API the client uses; wrap it to add caching, retries or a proxy. */
export type Fetch = (input: string, init?: RequestInit) => Promise<Response>

export interface LogClientOptions {
  /** What to trust: the log's key, and the witnesses and quorum its checkpoints need. */
  readonly policy: Policy
  /** Defaults to the global fetch. */
  readonly fetch?: Fetch
  /**
   * A bearer token: log:read to look up abbreviated ids, audit:read to read the access log. It
   * is shown only to the routes that need it (see LogReader).
   */
  readonly token?: string
}

/**
 * An entry: its index, its id (the leaf hash, 64 lowercase hex digits), an abbreviated id (4 to
 * 63 lowercase hex digits, at least 16 when all digits, as the API reads them), or its bytes.
 */
export type EntryRef = number | string | Uint8Array

/** An entry proven to be in a trusted checkpoint. */
export interface Inclusion {
  readonly index: number
  readonly leafHash: Uint8Array
  /** The inclusion proof, from the leaf's sibling up. */
  readonly hashes: readonly Uint8Array[]
  readonly trusted: TrustedCheckpoint
}

const FULL_ID = /^[0-9a-f]{64}$/
const ABBREVIATED_ID = /^[0-9a-f]{4,63}$/
const INDEX_DIGITS = /^(?:0|[1-9][0-9]{0,14})$/

const readers = new WeakMap<LogClient, LogReader>()

/** The reader of `client`, so that a Monitor built on it meets the access log's refusal once. */
export function readerOf(client: LogClient): LogReader {
  return readers.get(client)!
}

/**
 * A client of one log of the Annal HTTP API (docs/api.md) that trusts nothing it has not
 * verified: checkpoints against the policy, entries by inclusion proofs, newer checkpoints by
 * consistency proofs. `url` is the log's URL, `https://host/v1/logs/{name}`. Network failures
 * reject as fetch does; everything else that does not verify is a ClientError.
 */
export class LogClient {
  readonly url: string
  readonly #policy: Policy
  readonly #reader: LogReader

  constructor(url: string, options: LogClientOptions) {
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new TypeError('url must be an http(s) URL')
    if (options?.policy === undefined) throw new TypeError('options.policy is required')
    this.url = url.replace(/\/+$/, '')
    this.#policy = options.policy
    this.#reader = new LogReader(options.fetch ?? ((input, init) => globalThis.fetch(input, init)), options.token)
    readers.set(this, this.#reader)
  }

  /**
   * The log's latest checkpoint, verified against the policy.
   * Throws ClientError RESPONSE_INVALID, or as verifyCheckpoint.
   */
  async checkpoint(): Promise<TrustedCheckpoint> {
    const response = await this.#reader.public(`${this.url}/checkpoint`)
    return verifyCheckpoint(new Uint8Array(await response.arrayBuffer()), this.#policy)
  }

  /**
   * Proves that an entry is in `trusted` (by default the latest checkpoint, verified). Given the
   * entry's bytes or id, the leaf hash is the client's own; given an index, it is the one the
   * proof binds to that index.
   * Throws ClientError ENTRY_MISMATCH, INCLUSION_FAILED, RESPONSE_INVALID, or as checkpoint().
   */
  async inclusion(ref: EntryRef, trusted?: TrustedCheckpoint): Promise<Inclusion> {
    const checkpoint = trusted ?? await this.checkpoint()
    const size = checkpoint.checkpoint.size
    const known = await this.#leafHash(ref)
    const query = known === undefined ? `index=${String(ref)}` : `leaf_hash=${bytesToHex(known)}`
    const body = await this.#reader.publicJson(`${this.url}/proof/inclusion?${query}&tree_size=${size}`)
    const index = countField(body, 'index')
    const leafHash = hashField(body.leaf_hash, 'leaf_hash')
    const hashes = hashesField(body, 'proof')
    if (countField(body, 'tree_size') !== size) throw new ClientError('RESPONSE_INVALID', `the proof is not for tree size ${size}`)
    if (known === undefined ? index !== Number(ref) : !bytesEqual(leafHash, known)) {
      throw new ClientError('ENTRY_MISMATCH', 'the server proved another entry than the one asked for')
    }
    verifyIncluded(index, known ?? leafHash, hashes, checkpoint)
    return Object.freeze({ index, leafHash: known ?? leafHash, hashes: Object.freeze(hashes), trusted: checkpoint })
  }

  /**
   * The log's latest checkpoint, verified against the policy and proven to extend `trusted` (a
   * checkpoint from this client or a note to verify first). Throws SplitViewError (SPLIT_VIEW)
   * when the answer shows that the log forked; ClientError CONSISTENCY_FAILED (another origin,
   * a smaller tree, or a proof that does not hold), RESPONSE_INVALID, or as checkpoint().
   */
  async consistency(trusted: TrustedCheckpoint | string): Promise<TrustedCheckpoint> {
    const old = typeof trusted === 'string' ? verifyCheckpoint(trusted, this.#policy) : trusted
    const latest = await this.checkpoint()
    const [from, to] = [old.checkpoint, latest.checkpoint]
    const proof = proofNeeded(from, to)
      ? hashesField(await this.#reader.publicJson(`${this.url}/proof/consistency?from=${from.size}&to=${to.size}`), 'proof') : []
    await checkConsistent(from, to, proof, (size) => new BundleReader(this.#reader, this.url, to).treeHash(size))
    return latest
  }

  /**
   * A C2SP tlog-proof of the entry in the latest checkpoint, built from the API and verified
   * before it is returned. `extra` is written as given (tlog-proof §Format).
   * Throws as inclusion().
   */
  async proofFile(ref: EntryRef, options: { readonly extra?: Uint8Array } = {}): Promise<string> {
    const { index, hashes, trusted } = await this.inclusion(ref)
    return formatProof({ extra: options.extra, index, hashes, checkpoint: trusted.checkpoint.note })
  }

  /** The leaf hash of `ref` when the client can know it, or undefined for an index. */
  async #leafHash(ref: EntryRef): Promise<Uint8Array | undefined> {
    if (ref instanceof Uint8Array) return defaultHasher.leaf(ref)
    if (typeof ref === 'number') {
      if (!Number.isSafeInteger(ref) || ref < 0) throw new RangeError('an index is a safe non-negative integer')
      return undefined
    }
    if (typeof ref !== 'string') throw new TypeError('ref must be an index, an id or the entry bytes')
    // As the server reads a reference: up to 15 digits without a leading zero is an index, and
    // other hex digits (0007 among them) an abbreviated id.
    if (INDEX_DIGITS.test(ref)) return this.#leafHash(Number(ref))
    if (FULL_ID.test(ref)) return hashField(ref, 'id')
    if (!ABBREVIATED_ID.test(ref)) throw new RangeError('ref is not an index, an id or an abbreviated id')
    return this.#resolve(ref)
  }

  /** The full id an abbreviation stands for, from GET entries/{ref} (log:read). */
  async #resolve(prefix: string): Promise<Uint8Array> {
    const body = await this.#reader.restrictedJson(`${this.url}/entries/${prefix}`)
    const id = body.id
    if (typeof id !== 'string' || !id.startsWith(prefix)) throw new ClientError('ENTRY_MISMATCH', `the entry answered for ${prefix} has another id`)
    return hashField(id, 'id')
  }
}
