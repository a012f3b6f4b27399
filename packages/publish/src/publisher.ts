import type { Ledger, Log } from '@annal/store'
import { TILE_WIDTH, type TileResource } from '@annal/tlog'
import type { ObjectBucket } from './bucket.js'
import {
  CHECKPOINT_CACHE, CHECKPOINT_CONTENT_TYPE, IMMUTABLE, SHORT_LIVED, TILE_CONTENT_TYPE, filledTiles, fullPart, partialTiles, tilePath,
} from './layout.js'
import { type Progress, ProgressTable } from './progress.js'
import { Slots } from './slots.js'

/** A checkpoint to publish: its size and the signed note, as the bucket serves it. */
export interface PublishedCheckpoint {
  readonly size: number
  readonly note: string
}

export interface PublisherOptions {
  /** An open ledger; close the publisher before it. */
  readonly ledger: Ledger
  readonly bucket: ObjectBucket
  /** Which logs to publish, by name. Default: every log. */
  readonly logs?: (name: string) => boolean
  /**
   * The checkpoint to publish of a log, or undefined for none yet. Default: its latest
   * (`Log.checkpointInfo`). A witnessed log's server gives the one it serves.
   */
  readonly checkpoint?: (log: Log) => Promise<PublishedCheckpoint | undefined>
  /**
   * Uploads in flight at once, over all logs. Each holds one object in memory: a tile is 8 KiB,
   * a bundle 256 entries (at most 16 MiB with the largest entries). Default 8.
   */
  readonly maxUploads?: number
  /**
   * The least time from one checkpoint published for a log to the next: each publication
   * uploads the partial tiles of its size, which no later one replaces. Default 1,000 ms.
   */
  readonly intervalMs?: number
  /**
   * Entries whose full tiles and bundles are uploaded between two writes of the progress: what a
   * restart may upload again. A multiple of 256; default 65,536 (256 bundles and their tiles).
   */
  readonly chunkEntries?: number
  /** How often to look for logs whose checkpoint moved without an append (a witnessed log's, a new log). Default 1,000 ms. */
  readonly pollIntervalMs?: number
  /** The wait after a failed publication, doubled after each failure in a row up to maxRetryMs. Default 1,000 ms. */
  readonly retryMs?: number
  /** Default 60,000 ms. */
  readonly maxRetryMs?: number
  /**
   * Told when a log's publication fails after it succeeded (or at its first try), with why in a
   * few words (as `PublishStatus.lastError`). Must not throw.
   */
  readonly onFailure?: (log: string, reason: string) => void
  /** Told when a log publishes again after failures, with the size published. Must not throw. */
  readonly onRecovery?: (log: string, size: number) => void
}

/** How publishing one log goes, for metrics and health. */
export interface PublishStatus {
  readonly log: string
  /** The size of the checkpoint in the bucket; undefined until one is known. */
  readonly publishedSize: number | undefined
  /** Failed publications since start. */
  readonly failures: number
  /** Failed publications since the last that succeeded. */
  readonly consecutiveFailures: number
  /** Why the last one failed, in a few words; undefined once one succeeds. */
  readonly lastError: string | undefined
}

/** One log's publishing. */
interface Track {
  progress: Progress | undefined
  busy: boolean
  failures: number
  consecutive: number
  lastError: string | undefined
  /** When the next publication may start: after a failure's wait, or the interval since the last. */
  dueAt: number
}

const utf8 = new TextEncoder()

/**
 * Publishes logs to an object store in the C2SP tlog-tiles layout, `<log>/tile/...` and
 * `<log>/checkpoint` under the bucket's prefix, so that clients, monitors and witnesses can read
 * a log from the bucket (or a CDN before it) instead of the API. For each log it uploads the
 * full tiles of every level and the full entry bundles (immutable), then the partial tiles and
 * bundle the checkpoint's size needs (short-lived), then the checkpoint, so that a checkpoint
 * is never in the bucket before a tile it needs.
 *
 * Appends never wait for it: it reads what the ledger has written. How far each log is
 * published is kept in the ledger (table `publish`), written only after the uploads it records;
 * what lies beyond it is the queue, which the ledger keeps durably anyway. So a failed
 * publication is retried with backoff, and after a crash or restart publishing resumes from
 * the progress kept, in memory bounded by `maxUploads` objects, however far behind it is.
 */
export class Publisher {
  readonly #ledger: Ledger
  readonly #bucket: ObjectBucket
  readonly #table: ProgressTable
  readonly #options: Required<Pick<PublisherOptions, 'intervalMs' | 'pollIntervalMs' | 'retryMs' | 'maxRetryMs' | 'chunkEntries'>>
  readonly #filter: (name: string) => boolean
  readonly #checkpoint: (log: Log) => Promise<PublishedCheckpoint | undefined>
  readonly #onFailure: PublisherOptions['onFailure']
  readonly #onRecovery: PublisherOptions['onRecovery']
  readonly #slots: Slots
  readonly #tracks = new Map<string, Track>()
  readonly #runs = new Set<Promise<void>>()
  readonly #abort = new AbortController()
  #unwatch: (() => void) | undefined
  #poll: NodeJS.Timeout | undefined
  #timer: { readonly at: number; readonly handle: NodeJS.Timeout } | undefined
  #woken = false

  /** @throws RangeError for a bad option. */
  constructor(options: PublisherOptions) {
    this.#ledger = options.ledger
    this.#bucket = options.bucket
    this.#table = new ProgressTable(options.ledger, options.bucket.id)
    this.#options = {
      intervalMs: checkedMs(options.intervalMs ?? 1_000, 'intervalMs'),
      pollIntervalMs: checkedMs(options.pollIntervalMs ?? 1_000, 'pollIntervalMs'),
      retryMs: checkedMs(options.retryMs ?? 1_000, 'retryMs'),
      maxRetryMs: checkedMs(options.maxRetryMs ?? 60_000, 'maxRetryMs'),
      chunkEntries: options.chunkEntries ?? TILE_WIDTH ** 2,
    }
    const { chunkEntries } = this.#options
    if (!Number.isSafeInteger(chunkEntries) || chunkEntries < TILE_WIDTH || chunkEntries % TILE_WIDTH !== 0) {
      throw new RangeError('chunkEntries must be a positive multiple of 256')
    }
    const maxUploads = options.maxUploads ?? 8
    if (!Number.isSafeInteger(maxUploads) || maxUploads < 1) throw new RangeError('maxUploads must be a positive integer')
    this.#slots = new Slots(maxUploads)
    this.#filter = options.logs ?? (() => true)
    this.#checkpoint = options.checkpoint ?? (async (log) => log.checkpointInfo)
    this.#onFailure = options.onFailure
    this.#onRecovery = options.onRecovery
  }

  /** Starts publishing: at once, after each batch of appends, and every pollIntervalMs. */
  start(): void {
    if (this.#unwatch !== undefined || this.#abort.signal.aborted) return
    this.#unwatch = this.#ledger.watch((event) => {
      if (event.kind === 'batch' && event.error === undefined && [...event.entries.keys()].some(this.#filter)) this.#wake()
    })
    this.#poll = setInterval(() => this.#tick(), this.#options.pollIntervalMs).unref()
    this.#tick()
  }

  /** Each log's publishing, for the logs seen since start. */
  status(): PublishStatus[] {
    return [...this.#tracks].map(([log, track]) => ({
      log, publishedSize: track.progress?.size, failures: track.failures, consecutiveFailures: track.consecutive,
      lastError: track.lastError,
    }))
  }

  /** Stops: uploads in flight are abandoned (what they did not finish is uploaded after the next start). */
  async close(): Promise<void> {
    this.#abort.abort()
    this.#unwatch?.()
    clearInterval(this.#poll)
    if (this.#timer !== undefined) clearTimeout(this.#timer.handle)
    await Promise.all(this.#runs)
  }

  /** A tick soon, once however many batches ask for it meanwhile. */
  #wake(): void {
    if (this.#woken) return
    this.#woken = true
    setImmediate(() => {
      this.#woken = false
      this.#tick()
    })
  }

  /** Starts a publication for each log that is due and not publishing already. */
  #tick(): void {
    if (this.#abort.signal.aborted || this.#ledger.closed) return
    const now = Date.now()
    let next = Infinity
    for (const { name } of this.#ledger.logs()) {
      if (!this.#filter(name)) continue
      let track = this.#tracks.get(name)
      if (track === undefined) {
        this.#tracks.set(name, track = { progress: undefined, busy: false, failures: 0, consecutive: 0, lastError: undefined, dueAt: 0 })
      }
      if (track.busy) continue
      const log = this.#ledger.log(name)
      // Nothing new: the latest checkpoint is out (a witnessed log's may still be ahead of the served one).
      if (track.progress?.size === log.size) continue
      if (track.dueAt > now) {
        next = Math.min(next, track.dueAt)
        continue
      }
      const run = this.#run(name, track, log)
      this.#runs.add(run)
      void run.finally(() => this.#runs.delete(run))
    }
    if (next !== Infinity) this.#tickAt(next)
  }

  #tickAt(at: number): void {
    if (this.#timer !== undefined && this.#timer.at <= at) return
    if (this.#timer !== undefined) clearTimeout(this.#timer.handle)
    const handle = setTimeout(() => {
      this.#timer = undefined
      this.#tick()
    }, Math.max(0, at - Date.now())).unref()
    this.#timer = { at, handle }
  }

  /** Publishes a log's checkpoint if it is newer than the bucket's; never rejects. */
  async #run(name: string, track: Track, log: Log): Promise<void> {
    track.busy = true
    try {
      track.progress ??= await this.#table.read(name)
      const checkpoint = await this.#checkpoint(log)
      const published = track.progress.size
      if (checkpoint === undefined || (published !== undefined && checkpoint.size <= published)) return
      await this.#publish(name, track, log, checkpoint)
      track.dueAt = Date.now() + this.#options.intervalMs
      if (track.consecutive > 0) this.#onRecovery?.(name, checkpoint.size)
      track.consecutive = 0
      track.lastError = undefined
    } catch (error) {
      if (this.#abort.signal.aborted) return
      track.failures++
      track.consecutive++
      track.lastError = describeError(error)
      const wait = Math.min(this.#options.maxRetryMs, this.#options.retryMs * 2 ** Math.min(track.consecutive - 1, 30))
      track.dueAt = Date.now() + wait
      if (track.consecutive === 1) this.#onFailure?.(name, track.lastError)
    } finally {
      track.busy = false
      this.#tick()
    }
  }

  /** Full tiles in chunks (keeping the progress after each), then the partial ones, then the checkpoint. */
  async #publish(name: string, track: Track, log: Log, checkpoint: PublishedCheckpoint): Promise<void> {
    const full = fullPart(checkpoint.size)
    while (track.progress!.tiles < full) {
      const from = track.progress!.tiles
      const to = Math.min(full, from + this.#options.chunkEntries)
      await this.#upload(name, log, filledTiles(from, to), IMMUTABLE)
      track.progress = { ...track.progress!, tiles: to }
      await this.#table.write(name, track.progress)
    }
    await this.#upload(name, log, partialTiles(checkpoint.size), SHORT_LIVED)
    await this.#bucket.put(`${name}/checkpoint`, utf8.encode(checkpoint.note),
      { contentType: CHECKPOINT_CONTENT_TYPE, cacheControl: CHECKPOINT_CACHE }, this.#abort.signal)
    const progress = { tiles: track.progress!.tiles, size: checkpoint.size }
    await this.#table.write(name, progress)
    track.progress = progress
  }

  /**
   * Uploads `tiles`, each read when an upload slot frees, so that at most maxUploads objects are
   * held at once over all logs. Stops at the first failure and rejects with it once the uploads
   * in flight have settled.
   */
  async #upload(name: string, log: Log, tiles: Iterable<TileResource>, cacheControl: string): Promise<void> {
    const signal = this.#abort.signal
    const inFlight = new Set<Promise<void>>()
    let failure: { error: unknown } | undefined
    for (const tile of tiles) {
      await this.#slots.acquire()
      if (failure !== undefined || signal.aborted) {
        this.#slots.release()
        break
      }
      const upload = readTile(log, tile)
        .then((body) => this.#bucket.put(`${name}/${tilePath(tile)}`, body, { contentType: TILE_CONTENT_TYPE, cacheControl }, signal))
        .catch((error: unknown) => { failure ??= { error } })
        .finally(() => {
          this.#slots.release()
          inFlight.delete(upload)
        })
      inFlight.add(upload)
    }
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure.error
    if (signal.aborted) throw new Error('the publisher was closed')
  }
}

async function readTile(log: Log, tile: TileResource): Promise<Uint8Array> {
  return tile.kind === 'entries' ? log.entryBundle(tile.index, tile.width) : log.hashTile(tile.level, tile.index, tile.width)
}

/** An error in a few words for status(): its code or name, and its message's first line. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200)
  const code = (error as { code?: unknown }).code
  const label = typeof code === 'string' ? code : error.name
  return `${label}: ${error.message.split('\n')[0]!.slice(0, 200)}`
}

function checkedMs(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer of milliseconds`)
  return value
}
