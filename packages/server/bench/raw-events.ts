// The NDJSON phase's baseline: raw LevelDB synced batches holding the rows the ledger writes for
// one NDJSON request (store/bench/raw-log.ts), with the bytes it wrote for real ones, and none of
// the server's or the ledger's work.
import { performance } from 'node:perf_hooks'
import { DEFAULT_WRITE_BUFFER_BYTES, type Ledger } from '@annal/store'
import { RawDatabase, type RawLog } from '../../store/bench/raw-log.js'
import { ACCESS_LOG } from '../src/scopes.js'

/** What the ledger wrote for the last NDJSON request appended to a log. */
export interface EventRows {
  /** The events' log. */
  readonly log: string
  /** The events' envelopes: entries of the events' log. */
  readonly envelopes: readonly Uint8Array[]
  /** The events' object metadata rows, each with its object's bytes inline. */
  readonly objectRows: readonly Uint8Array[]
  /** The request's access record: an entry of the access log. */
  readonly record: Uint8Array
}

/** objects.ts's row for an object stored inline: this kind byte, the metadata JSON's length (4 bytes, big-endian), the JSON, the bytes. */
const ROW_INLINE = 0x02
const ROW_HEADER = 5
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/**
 * The rows of the last `events` entries of log `name` and of the access log's last record, read back
 * from the ledger (call it after an NDJSON request of `events` events, with nothing since).
 */
export async function lastRequestRows(ledger: Ledger, name: string, events: number): Promise<EventRows> {
  const log = ledger.log(name)
  if (log.size < events) throw new Error(`the log holds ${log.size} entries, fewer than a request's ${events}`)
  const entries = await log.entries(log.size - events, events)
  const objectRows = await Promise.all(entries.map(async ({ data }) => {
    const envelope = JSON.parse(utf8Decoder.decode(data)) as { object: { hash: string } }
    const { bytes, info } = await ledger.objects.read(envelope.object.hash)
    const meta = utf8.encode(JSON.stringify(info))
    const row = new Uint8Array(ROW_HEADER + meta.length + bytes.length)
    row[0] = ROW_INLINE
    new DataView(row.buffer).setUint32(1, meta.length)
    row.set(meta, ROW_HEADER)
    row.set(bytes, ROW_HEADER + meta.length)
    return row
  }))
  const access = ledger.log(ACCESS_LOG)
  const [record] = await access.entries(access.size - 1, 1)
  return { log: name, envelopes: entries.map(({ data }) => data), objectRows, record: record!.data }
}

/**
 * A raw database written as the ledger writes NDJSON requests: per request one synced batch
 * with the object rows, the events' log rows and the access log's rows (a request's events and
 * objects outnumber the appender's batch, so each request is a write of its own), the id rows
 * of both logs behind.
 */
export class RawEvents {
  readonly #database: RawDatabase
  readonly #rows: EventRows
  readonly #events: RawLog
  readonly #access: RawLog

  private constructor(database: RawDatabase, rows: EventRows) {
    this.#database = database
    this.#rows = rows
    this.#events = database.log(rows.log, (i) => rows.envelopes[i % rows.envelopes.length]!)
    this.#access = database.log(ACCESS_LOG, () => rows.record)
  }

  static async open(directory: string, rows: EventRows): Promise<RawEvents> {
    return new RawEvents(await RawDatabase.open(directory, DEFAULT_WRITE_BUFFER_BYTES), rows)
  }

  /** Writes requests' rows for `seconds`; returns the events written and the seconds taken. */
  async write(seconds: number): Promise<{ events: number; seconds: number }> {
    const start = performance.now()
    const deadline = start + seconds * 1000
    let events = 0
    await this.#database.writeSynced(() => performance.now() < deadline, (batch) => {
      const eventsEnd = this.#events.size + this.#rows.envelopes.length
      const accessEnd = this.#access.size + 1
      this.#database.putObjectRows(batch, this.#rows.objectRows)
      this.#events.stage(batch, eventsEnd)
      this.#access.stage(batch, accessEnd)
      events += this.#rows.envelopes.length
      return () => {
        this.#events.durable(eventsEnd)
        this.#access.durable(accessEnd)
      }
    })
    return { events, seconds: (performance.now() - start) / 1000 }
  }

  close(): Promise<void> {
    return this.#database.close()
  }
}
