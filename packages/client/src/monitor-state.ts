import { ClientError } from './errors.js'

/** Where a monitor stands: the last checkpoint it trusts, and the first entry not yet handled. */
export interface MonitorState {
  /** The trusted checkpoint note, verbatim with its signatures. */
  readonly checkpoint: string
  /** Entries below this index were handed to the callback; it is at most the checkpoint's size. */
  readonly next: number
}

/**
 * Keeps a monitor's state. `compareAndSwap` writes `next` only if the stored state still equals
 * `old` (undefined: nothing stored), atomically, and throws otherwise, so two monitors sharing a
 * store cannot both move it.
 */
export interface MonitorStateStore {
  load(): Promise<MonitorState | undefined>
  /** Throws ClientError STATE_CONFLICT when the stored state is not `old`. */
  compareAndSwap(old: MonitorState | undefined, next: MonitorState): Promise<void>
}

/** True when two states are the same (or both absent). */
export function sameState(a: MonitorState | undefined, b: MonitorState | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.checkpoint === b.checkpoint && a.next === b.next
}

/** A MonitorStateStore in memory: for tests, and for monitors that start afresh each run. */
export class MemoryStateStore implements MonitorStateStore {
  #state: MonitorState | undefined

  async load(): Promise<MonitorState | undefined> {
    return this.#state
  }

  async compareAndSwap(old: MonitorState | undefined, next: MonitorState): Promise<void> {
    if (!sameState(this.#state, old)) throw new ClientError('STATE_CONFLICT', 'the monitor state changed since it was loaded')
    this.#state = Object.freeze({ checkpoint: next.checkpoint, next: next.next })
  }
}
