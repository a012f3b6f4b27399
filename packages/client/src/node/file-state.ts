import { readFile } from 'node:fs/promises'
import { ClientError } from '../errors.js'
import { sameState, type MonitorState, type MonitorStateStore } from '../monitor-state.js'
import { writeFileAtomic } from './atomic.js'
import { LockFile } from './lock.js'

/** State files are readable by their owner only: they say what a monitor trusts. */
const STATE_MODE = 0o600

/**
 * A MonitorStateStore in one file: `{"checkpoint":"<note>","next":<n>}` (JSON, one line), no
 * file meaning no state yet. Each write replaces the file atomically (writeFileAtomic).
 *
 * One process at a time uses a state file: `open` takes the lock file `<path>.lock` (see
 * LockFile) and keeps it until `close`. A lock held for the store's life rather than around
 * each compare-and-swap refuses a second monitor before it hands any entry, where a per-write
 * lock would let two monitors both hand an entry and only one record it; a holder that died
 * (killed, say) is detected by its pid and its lock taken over. Under the lock, compareAndSwap
 * still reads the file back and compares it with `old`, so a file changed under the store
 * (another host, a hand edit) is refused rather than overwritten.
 */
export class FileStateStore implements MonitorStateStore {
  readonly path: string
  #lock: LockFile | undefined

  private constructor(path: string, lock: LockFile) {
    this.path = path
    this.#lock = lock
  }

  /**
   * Opens the state file at `path` (created by the first compareAndSwap), taking its lock.
   * Throws ClientError STATE_LOCKED (another live process has it open) or STATE_INVALID (the
   * file, or its lock, cannot be read or made, or the file holds no state).
   */
  static async open(path: string): Promise<FileStateStore> {
    const lock = await LockFile.acquire(`${path}.lock`)
    try {
      await readState(path)
    } catch (error) {
      await lock.release()
      throw error
    }
    return new FileStateStore(path, lock)
  }

  /** Throws ClientError STATE_INVALID. */
  async load(): Promise<MonitorState | undefined> {
    this.#open()
    return readState(this.path)
  }

  /** Throws ClientError STATE_CONFLICT when the file does not hold `old`, STATE_INVALID. */
  async compareAndSwap(old: MonitorState | undefined, next: MonitorState): Promise<void> {
    this.#open()
    if (typeof next?.checkpoint !== 'string' || !Number.isSafeInteger(next.next) || next.next < 0) {
      throw new TypeError('next must be a state: a checkpoint note and a count')
    }
    if (!sameState(await readState(this.path), old)) {
      throw new ClientError('STATE_CONFLICT', `the monitor state in ${this.path} changed since it was loaded`)
    }
    await writeFileAtomic(this.path, `${JSON.stringify({ checkpoint: next.checkpoint, next: next.next })}\n`, STATE_MODE)
  }

  /** Releases the lock; the store is not usable afterwards. */
  async close(): Promise<void> {
    const lock = this.#lock
    this.#lock = undefined
    await lock?.release()
  }

  #open(): void {
    if (this.#lock === undefined) throw new TypeError('the state store is closed')
  }
}

function invalid(path: string, why: string, cause?: unknown): ClientError {
  return new ClientError('STATE_INVALID', `${path} is not a monitor state file (${why}): restore it from a copy, `
    + 'or remove it to start over from the log\'s current checkpoint', { cause })
}

/** The state in the file at `path`; undefined if there is no file. Throws ClientError STATE_INVALID. */
async function readState(path: string): Promise<MonitorState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw invalid(path, `cannot be read: ${code ?? 'error'}`, error)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw invalid(path, 'not JSON', error)
  }
  const { checkpoint, next, ...rest } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (typeof checkpoint !== 'string' || !Number.isSafeInteger(next) || (next as number) < 0 || Object.keys(rest).length > 0) {
    throw invalid(path, 'not an object of a checkpoint note and a next index')
  }
  return Object.freeze({ checkpoint, next: next as number })
}
