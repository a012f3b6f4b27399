// How far each log is published, kept in the ledger's own database: the durable queue is the
// part of the log beyond it, which the ledger keeps anyway.
import { createHash } from 'node:crypto'
import type { Ledger, RowTable } from '@annal/store'

/** What a destination holds of a log. */
export interface Progress {
  /** Every full tile (all levels) and full entry bundle of the tree of this size; a multiple of 256. */
  readonly tiles: number
  /** The size of the checkpoint published, which has every tile it needs; undefined for none yet. */
  readonly size: number | undefined
}

const NO_PROGRESS: Progress = { tiles: 0, size: undefined }

const TABLE = 'publish'
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** The progress of one destination's logs, in the ledger table `publish`. */
export class ProgressTable {
  readonly #table: RowTable
  /** Keys start with a digest of the destination's id: an id may be longer than a key may. */
  readonly #destination: string

  constructor(ledger: Ledger, destination: string) {
    this.#table = ledger.table(TABLE)
    this.#destination = createHash('sha256').update(destination).digest('hex').slice(0, 32)
  }

  async read(log: string): Promise<Progress> {
    const row = await this.#table.get(this.#key(log))
    if (row === undefined) return NO_PROGRESS
    const { tiles, size } = JSON.parse(utf8Decoder.decode(row)) as { tiles: number; size: number | null }
    return { tiles, size: size ?? undefined }
  }

  /**
   * Not synced: a crash may lose the latest progress, which only makes the next start upload
   * some objects again (the same bytes to the same keys). Progress is written only after the
   * uploads it records succeeded, so it is never ahead of the bucket.
   */
  async write(log: string, progress: Progress): Promise<void> {
    const value = utf8.encode(JSON.stringify({ tiles: progress.tiles, size: progress.size ?? null }))
    await this.#table.write([this.#table.row(this.#key(log), value)], [], { sync: false })
  }

  #key(log: string): string {
    return `${this.#destination}/${log}`
  }
}
