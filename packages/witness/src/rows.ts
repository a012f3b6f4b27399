import { nodeHashProvider } from '@annal/crypto-node'
import { RecoveringDriver, isStorageError, type StorageDriver, type WriteOp } from '@annal/storage'
import { bytesEqual } from '@annal/tlog'
import {
  decodeEvidence, decodePending, encodeEvidence, encodePending, evidenceKey, pendingKey,
  type Evidence, type SeenCheckpoint,
} from './evidence.js'
import { decodeState, encodeState, stateKey, type WitnessState } from './state.js'
import { WitnessError } from './errors.js'

/** What a witness holds for one origin, as last committed. */
export interface OriginRows {
  readonly state: WitnessState | undefined
  readonly pending: readonly SeenCheckpoint[]
  readonly evidence: Evidence | undefined
  /** The stored bytes, which compare-and-swap expects. */
  readonly stateBytes: Uint8Array | undefined
  readonly pendingBytes: Uint8Array | undefined
}

interface OriginKeys {
  readonly state: Uint8Array
  readonly pending: Uint8Array
  readonly evidence: Uint8Array
}

const byDriver = new WeakMap<StorageDriver, OriginRowStore>()

/**
 * The witness's rows per origin (state, pending list, evidence), read from the driver once and
 * then kept as last committed. Every write of them goes through here and replaces the kept copy
 * only once it has resolved (a failed write drops the copy, so the next read goes to the
 * database): the copy never shows anything that is not durable. Without it, each add-checkpoint
 * read three rows from LevelDB, the largest cost on the witness's thread after Ed25519.
 *
 * One store per driver, shared by every Witness on it, so two of them on one database (a
 * database opens once per process) read each other's writes; compare-and-swap still checks the
 * stored bytes, so a copy that is stale for any other reason loses instead of overwriting.
 */
export class OriginRowStore {
  readonly #driver: StorageDriver
  readonly #rows = new Map<string, Promise<OriginRows>>()
  readonly #keys = new Map<string, OriginKeys>()
  /**
   * Per origin, the state and whether evidence was held, as last read or committed: what the
   * witness has acted on, which a recovered database must still hold (recheck). Kept when a
   * write fails, unlike the copies in #rows.
   */
  readonly #acknowledged = new Map<string, { readonly state: WitnessState | undefined; readonly evidence: boolean }>()

  private constructor(driver: StorageDriver) {
    this.#driver = driver
  }

  /** The store of `driver`'s rows; on a RecoveringDriver, checked after each reopen. */
  static for(driver: StorageDriver): OriginRowStore {
    let store = byDriver.get(driver)
    if (store === undefined) {
      const created = store = new OriginRowStore(driver)
      byDriver.set(driver, store)
      if (driver instanceof RecoveringDriver) driver.afterReopen(() => created.recheck())
    }
    return store
  }

  /**
   * After the database was reopened (a write had failed): checks that it still holds, for every
   * origin, the state acknowledged or a newer one (a compare-and-swap whose sync failed may have
   * landed), and any evidence acknowledged; then drops the kept copies, so reads see what it holds.
   * @throws WitnessError CORRUPTION when it lost a cosigned state or evidence: cosigning on
   *   would risk cosigning a tree inconsistent with one cosigned before.
   */
  async recheck(): Promise<void> {
    for (const [origin, known] of [...this.#acknowledged]) {
      const held = await this.#load(origin)
      const state = held.state
      if (known.state !== undefined && (state === undefined || state.size < known.state.size ||
          (state.size === known.state.size && !bytesEqual(state.rootHash, known.state.rootHash)))) {
        throw new WitnessError('CORRUPTION', `the database lost the state cosigned for ${origin}: it holds size ${
          state?.size ?? 'none'}, size ${known.state.size} was cosigned`)
      }
      if (known.evidence && held.evidence === undefined) throw new WitnessError('CORRUPTION', `the database lost the evidence held for ${origin}`)
      this.#rows.delete(origin)
      this.#acknowledge(origin, held)
    }
  }

  #acknowledge(origin: string, rows: OriginRows): void {
    this.#acknowledged.set(origin, { state: rows.state, evidence: rows.evidence !== undefined })
  }

  /** The origin's rows. Throws CORRUPTION for a row that does not decode. */
  read(origin: string): Promise<OriginRows> {
    let rows = this.#rows.get(origin)
    if (rows === undefined) {
      rows = this.#load(origin)
      this.#rows.set(origin, rows)
      rows.catch(() => this.#forget(origin, rows!))
    }
    return rows
  }

  async #load(origin: string): Promise<OriginRows> {
    const keys = this.#keysOf(origin)
    const [stateBytes, pendingBytes, evidenceBytes] = await this.#driver.getMany([keys.state, keys.pending, keys.evidence])
    const rows = {
      state: stateBytes && decodeState(stateBytes),
      pending: pendingBytes === undefined ? [] : decodePending(pendingBytes),
      evidence: evidenceBytes && decodeEvidence(evidenceBytes),
      stateBytes,
      pendingBytes,
    }
    this.#acknowledge(origin, rows)
    return rows
  }

  /**
   * Moves the state from `from` to `next` and the pending list to `pending`, in one synced
   * compare-and-swap on the state row. Throws HEAD_CONFLICT when the stored state is not `from`'s.
   */
  async commitState(origin: string, from: OriginRows, next: WitnessState,
      pending: readonly SeenCheckpoint[]): Promise<void> {
    const keys = this.#keysOf(origin)
    const stateBytes = encodeState(next)
    const { op, pendingBytes } = this.#pendingWrite(keys, from, pending)
    await this.#commit(origin, () =>
      this.#driver.compareAndSwap(keys.state, from.stateBytes, stateBytes, op === undefined ? [] : [op]))
    const rows = { ...from, state: next, stateBytes, pending, pendingBytes }
    this.#rows.set(origin, Promise.resolve(rows))
    this.#acknowledge(origin, rows)
  }

  /** Replaces the pending list (synced compare-and-swap); HEAD_CONFLICT when it moved. */
  async commitPending(origin: string, from: OriginRows, pending: readonly SeenCheckpoint[]): Promise<void> {
    const keys = this.#keysOf(origin)
    const pendingBytes = encodePending(pending)
    await this.#commit(origin, () => this.#driver.compareAndSwap(keys.pending, from.pendingBytes, pendingBytes, []))
    this.#rows.set(origin, Promise.resolve({ ...from, pending, pendingBytes }))
  }

  /** Stores evidence unless some is held (synced); false when some already was. */
  async commitEvidence(origin: string, from: OriginRows, evidence: Evidence): Promise<boolean> {
    const keys = this.#keysOf(origin)
    try {
      await this.#commit(origin, () => this.#driver.compareAndSwap(keys.evidence, undefined, encodeEvidence(evidence), []))
    } catch (error) {
      if (isStorageError(error, 'SWAP_CONFLICT')) return false
      throw error
    }
    const rows = { ...from, evidence }
    this.#rows.set(origin, Promise.resolve(rows))
    this.#acknowledge(origin, rows)
    return true
  }

  /** Deletes the evidence and the pending list (one synced write). */
  async clear(origin: string, from: OriginRows): Promise<void> {
    const keys = this.#keysOf(origin)
    await this.#commit(origin, () =>
      this.#driver.write([{ type: 'del', key: keys.evidence }, { type: 'del', key: keys.pending }], { sync: true }))
    const rows = { ...from, evidence: undefined, pending: [], pendingBytes: undefined }
    this.#rows.set(origin, Promise.resolve(rows))
    this.#acknowledge(origin, rows)
  }

  #pendingWrite(keys: OriginKeys, from: OriginRows, pending: readonly SeenCheckpoint[]):
      { op: WriteOp | undefined; pendingBytes: Uint8Array | undefined } {
    if (pending.length === 0) {
      return { op: from.pendingBytes === undefined ? undefined : { type: 'del', key: keys.pending }, pendingBytes: undefined }
    }
    if (pending === from.pending) return { op: undefined, pendingBytes: from.pendingBytes }
    const pendingBytes = encodePending(pending)
    return { op: { type: 'put', key: keys.pending, value: pendingBytes }, pendingBytes }
  }

  /** Runs a write; when it fails the kept copy is dropped, since the database may differ. */
  async #commit(origin: string, write: () => Promise<void>): Promise<void> {
    try {
      await write()
    } catch (error) {
      this.#rows.delete(origin)
      throw error
    }
  }

  #forget(origin: string, rows: Promise<OriginRows>): void {
    if (this.#rows.get(origin) === rows) this.#rows.delete(origin)
  }

  #keysOf(origin: string): OriginKeys {
    let keys = this.#keys.get(origin)
    if (keys === undefined) {
      keys = {
        state: stateKey(origin, nodeHashProvider),
        pending: pendingKey(origin, nodeHashProvider),
        evidence: evidenceKey(origin, nodeHashProvider),
      }
      this.#keys.set(origin, keys)
    }
    return keys
  }
}
