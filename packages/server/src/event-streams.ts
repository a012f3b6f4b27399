// Server-sent event streams: how many are open, and their end when the server stops.
import type { Log } from '@annal/store'
import { ApiError } from './errors.js'

/** An SSE comment this often keeps proxies from closing a quiet stream. */
export const KEEPALIVE_MS = 15_000
/** How often a stream waiting for a log to grow looks at its size. */
const POLL_MS = 100

/**
 * The open event streams (the alerts stream, log tails): at most `limit` at once, since each
 * holds a connection and a timer for as long as its client stays; `end()` ends them all, so
 * that a stopping server does not wait out its grace period for streams that never finish.
 */
export class EventStreams {
  readonly #limit: number
  #open = 0
  #ended = false
  readonly #ending: Promise<void>
  #end!: () => void

  constructor(limit: number) {
    this.#limit = limit
    this.#ending = new Promise((resolve) => { this.#end = resolve })
  }

  /**
   * Takes a place for one stream; call the returned function once it ends.
   * @throws ApiError SHUTTING_DOWN after end(), STREAMS_EXHAUSTED at the limit.
   */
  take(): () => void {
    if (this.#ended) throw new ApiError('SHUTTING_DOWN', 'the server is stopping; reconnect to another')
    if (this.#open >= this.#limit) throw new ApiError('STREAMS_EXHAUSTED', `${this.#limit} event streams are open; retry later`)
    this.#open++
    let released = false
    return () => {
      if (!released) this.#open--
      released = true
    }
  }

  /** Resolves when end() is called. */
  get ending(): Promise<void> {
    return this.#ending
  }

  /** Ends every stream and refuses new ones. */
  end(): void {
    this.#ended = true
    this.#end()
  }
}

/**
 * Resolves once `log` holds more than `size` entries, or once `stop` settles, whichever is first;
 * `true` when the log grew.
 */
export async function grown(log: Log, size: number, stop: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setInterval> | undefined
  let stopped = false
  void stop.finally(() => { stopped = true })
  try {
    return await Promise.race([
      stop.then(() => false, () => false),
      new Promise<boolean>((resolve) => {
        timer = setInterval(() => {
          if (stopped) resolve(false)
          else if (log.size > size) resolve(true)
        }, POLL_MS)
      }),
    ])
  } finally {
    clearInterval(timer)
  }
}
