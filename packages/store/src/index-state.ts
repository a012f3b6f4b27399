// What a log's search index covers, and the reindex building its next generation. Written only
// in the log's own batches (with entries, or alone), so that it changes in step with the rows.
import { StoreError } from './errors.js'

/** A generation of term rows being built by a reindex, beside the one searches read. */
export interface IndexBuild {
  readonly generation: number
  /** What the reindex was asked to build (Ledger.reindex's `config`), kept as given. */
  readonly config?: string
  /**
   * Entries at this index and after are written to the build as they are appended, and the
   * reindex fills in those below it. Unset while the build's rows are being cleared first.
   */
  readonly below?: number
  /** Entries from `below` on but before this one were appended without an indexer. */
  readonly from?: number
}

/** A log's index state (see Log.indexState). */
export interface IndexState {
  /** The generation of term rows that searches read. */
  readonly generation: number
  /**
   * Every entry from this index on has its rows: its terms in the live generation, its time
   * in the time index. Entries below it were appended without an indexer (or before the log
   * kept this state) and are found only by reading them.
   */
  readonly from: number
  /** What the live generation was built with from index 0, if a reindex built it. */
  readonly config?: string
  readonly build?: IndexBuild
}

/**
 * A change of the index state, applied in the log's next batch: `size` is its size after that
 * batch. A change that no longer applies (its build was replaced) leaves the state as it is.
 */
export class IndexChange {
  /** The state the change made, and the log's size after its batch, once staged (a batch staged again sets them again). */
  staged: IndexState | undefined
  size: number | undefined

  constructor(readonly apply: (state: IndexState, size: number) => IndexState) {}
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeIndexState(state: IndexState): Uint8Array {
  return utf8.encode(JSON.stringify(state))
}

// States read from no row (a log kept before index states were): the log's next batch writes one.
const unstored = new WeakSet<IndexState>()

/** False for a state that no row holds yet. */
export function isStored(state: IndexState): boolean {
  return !unstored.has(state)
}

/** The state of a log whose row is `bytes`; without a row, none of its `size` entries is covered. */
export function decodeIndexState(bytes: Uint8Array | undefined, size: number): IndexState {
  if (bytes === undefined) {
    const state = { generation: 0, from: size }
    unstored.add(state)
    return state
  }
  try {
    const state = JSON.parse(utf8Decoder.decode(bytes)) as IndexState
    const build = state.build
    if (!Number.isSafeInteger(state.generation) || !Number.isSafeInteger(state.from) ||
        (build !== undefined && (!Number.isSafeInteger(build.generation) || build.generation <= state.generation))) {
      throw new TypeError('bad index state')
    }
    return state
  } catch (error) {
    throw new StoreError('CORRUPTION', 'the stored index state is unreadable', { cause: error })
  }
}

/** The state after a batch of entries from `size` to `after` appended without an indexer: they are not covered. */
export function withoutIndexer(state: IndexState, after: number): IndexState {
  const { build } = state
  return { ...state, from: after, ...(build?.below === undefined ? {} : { build: { ...build, from: after } }) }
}

/** A build of generation `generation` is intended: its rows are cleared before it begins. */
export function intendBuild(generation: number, config: string | undefined): IndexChange {
  return new IndexChange((state) => {
    const { build: _, ...rest } = state
    return { ...rest, build: { generation, ...(config === undefined ? {} : { config }) } }
  })
}

/** The build of `generation` begins: entries after this batch are written to it as well. */
export function beginBuild(generation: number): IndexChange {
  return new IndexChange((state, size) => {
    if (state.build?.generation !== generation || state.build.below !== undefined) return state
    return { ...state, build: { ...state.build, below: size } }
  })
}

/** The build of `generation`, filled in, becomes the generation searches read. */
export function switchToBuild(generation: number): IndexChange {
  return new IndexChange((state) => {
    const { build } = state
    if (build?.generation !== generation || build.below === undefined) return state
    return { generation, from: build.from ?? 0, ...(build.config === undefined ? {} : { config: build.config }) }
  })
}
