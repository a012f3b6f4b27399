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
  /** As IndexState.from, for the build's entries from `below` on; absent: all of them. */
  readonly from?: number
}

/** A log's index state (see Log.indexState). */
export interface IndexState {
  /** The generation of term rows that searches read. */
  readonly generation: number
  /**
   * Every entry from this index on has its rows: its terms in the live generation, its time
   * in the time index. Entries below it were appended without an indexer (or before the log
   * kept this state) and are found only by reading them. UNCOVERED while the log's last
   * entries are such: none is known to have its rows until an append with an indexer.
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

/** IndexState.from of a log whose last entries were appended without an indexer. */
export const UNCOVERED = Number.MAX_SAFE_INTEGER

/** The state of a log whose row is `bytes`; without a row (a log kept before index states were), none is covered. */
export function decodeIndexState(bytes: Uint8Array | undefined): IndexState {
  if (bytes === undefined) return { generation: 0, from: UNCOVERED }
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

/** The state after a batch appended without an indexer: its entries are not covered, nor those before. */
export function withoutIndexer(state: IndexState): IndexState {
  const { build } = state
  const building = build?.below !== undefined
  if (state.from === UNCOVERED && (!building || build.from === UNCOVERED)) return state
  return { ...state, from: UNCOVERED, ...(building ? { build: { ...build, from: UNCOVERED } } : {}) }
}

/** The state after a batch from `first` on appended with an indexer: if none was covered, they are from there on. */
export function withIndexer(state: IndexState, first: number): IndexState {
  const { build } = state
  if (state.from !== UNCOVERED && build?.from !== UNCOVERED) return state
  return {
    ...state, from: Math.min(state.from, first), ...(build?.from === UNCOVERED ? { build: { ...build, from: first } } : {}),
  }
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
