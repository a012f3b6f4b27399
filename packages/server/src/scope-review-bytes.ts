// The stored form of a principal's review aggregate: compact binary, since every evaluation
// batch rewrites the row of each principal it saw and a review reads them all.
//
//   version 1 (u8), flags (u8: 1 client_id, 2 sub), [client_id], [sub]   strings: varint length, UTF-8
//   scope count (varint), then per scope in code-unit order: name, carried, used, refused (u48 ms each)
//   first day (varint), day count (varint), that many refusal counts (u32 little-endian)
// A review is the first use of this code after a start, so it runs before the JIT has compiled
// it: fixed widths, and the day counts copied as one block, take fewer steps there than varints
// read byte by byte.
import { MAX_TIME, type PrincipalAggregate, type ScopeTimes } from './scope-review.js'

const VERSION = 1
const HAS_CLIENT = 1
const HAS_SUB = 2
const TIME_BYTES = 6
const COUNT_BYTES = 4
/** Strings up to this many bytes may be read as ASCII by hand (as arguments of one call). */
const SHORT_STRING = 256
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** @throws RangeError for a time that is not an integer ms from 0 to 2^48 - 1. */
export function encodeAggregate(aggregate: PrincipalAggregate): Uint8Array {
  const writer = new Writer()
  writer.byte(VERSION)
  writer.byte((aggregate.clientId === undefined ? 0 : HAS_CLIENT) | (aggregate.sub === undefined ? 0 : HAS_SUB))
  if (aggregate.clientId !== undefined) writer.string(aggregate.clientId)
  if (aggregate.sub !== undefined) writer.string(aggregate.sub)
  writer.varint(aggregate.scopes.size)
  for (const scope of [...aggregate.scopes.keys()].sort()) {
    writer.string(scope)
    for (const time of aggregate.scopes.get(scope)!) writer.time(time)
  }
  writer.varint(aggregate.firstDay)
  writer.varint(aggregate.days.length)
  writer.counts(aggregate.days)
  return writer.bytes()
}

/** @throws RangeError for bytes that encodeAggregate did not write. */
export function decodeAggregate(bytes: Uint8Array): PrincipalAggregate {
  const reader = new Reader(bytes)
  if (reader.byte() !== VERSION) throw new RangeError('not a review aggregate of a known version')
  const flags = reader.byte()
  const clientId = (flags & HAS_CLIENT) === 0 ? undefined : reader.string()
  const sub = (flags & HAS_SUB) === 0 ? undefined : reader.string()
  const scopes = new Map<string, ScopeTimes>()
  for (let count = reader.varint(); count > 0; count--) scopes.set(reader.string(), [reader.time(), reader.time(), reader.time()])
  const firstDay = reader.varint()
  const days = reader.counts(reader.varint())
  if (!reader.done) throw new RangeError('a review aggregate has bytes past its end')
  return { ...(clientId === undefined ? {} : { clientId }), ...(sub === undefined ? {} : { sub }), scopes, firstDay, days }
}

class Writer {
  #buffer = new Uint8Array(256)
  #length = 0

  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.#length)
  }

  byte(value: number): void {
    this.#room(1)
    this.#buffer[this.#length++] = value
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('a count is a non-negative safe integer')
    for (; value >= 0x80; value = Math.floor(value / 0x80)) this.byte(0x80 | (value % 0x80))
    this.byte(value)
  }

  time(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_TIME) throw new RangeError('a time is an integer ms from 0 to 2^48 - 1')
    this.#room(TIME_BYTES)
    const view = new DataView(this.#buffer.buffer)
    view.setUint16(this.#length, Math.floor(value / 2 ** 32))
    view.setUint32(this.#length + 2, value % 2 ** 32)
    this.#length += TIME_BYTES
  }

  counts(values: Uint32Array): void {
    this.#room(values.length * COUNT_BYTES)
    if (LITTLE_ENDIAN) this.#buffer.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.#length)
    else for (const [i, value] of values.entries()) new DataView(this.#buffer.buffer).setUint32(this.#length + i * COUNT_BYTES, value, true)
    this.#length += values.length * COUNT_BYTES
  }

  string(text: string): void {
    // At most 3 bytes a UTF-16 code unit; the length is written once the bytes are.
    this.#room(5 + 3 * text.length)
    const start = this.#length + 5
    const { written } = encoder.encodeInto(text, this.#buffer.subarray(start))
    this.varint(written)
    this.#buffer.copyWithin(this.#length, start, start + written)
    this.#length += written
  }

  #room(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return
    const grown = new Uint8Array(Math.max(2 * this.#buffer.length, this.#length + bytes))
    grown.set(this.#buffer.subarray(0, this.#length))
    this.#buffer = grown
  }
}

class Reader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  #at = 0

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get done(): boolean {
    return this.#at === this.#bytes.length
  }

  byte(): number {
    if (this.#at >= this.#bytes.length) throw new RangeError('a review aggregate ends early')
    return this.#bytes[this.#at++]!
  }

  varint(): number {
    let value = 0
    for (let scale = 1; ; scale *= 0x80) {
      const byte = this.byte()
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
      if (scale > 2 ** 42) throw new RangeError('a review aggregate has a count past 2^53')
    }
  }

  time(): number {
    const at = this.#advance(TIME_BYTES)
    return this.#view.getUint16(at) * 2 ** 32 + this.#view.getUint32(at + 2)
  }

  /** `n` counts, copied at once: a review reads some 100 a principal, too many to read one by one cold. */
  counts(n: number): Uint32Array {
    const at = this.#advance(n * COUNT_BYTES)
    // A copy is aligned for Uint32Array, which reads in the machine's byte order.
    if (LITTLE_ENDIAN) return new Uint32Array(this.#bytes.slice(at, at + n * COUNT_BYTES).buffer)
    return Uint32Array.from({ length: n }, (_, i) => this.#view.getUint32(at + i * COUNT_BYTES, true))
  }

  /** Moves past `bytes` bytes; where they start. */
  #advance(bytes: number): number {
    const at = this.#at
    if (at + bytes > this.#bytes.length) throw new RangeError('a review aggregate ends early')
    this.#at = at + bytes
    return at
  }

  string(): string {
    const length = this.varint()
    const at = this.#advance(length)
    const bytes = this.#bytes.subarray(at, at + length)
    // Scopes, client ids and subs are mostly short ASCII, which is quicker to read by hand.
    let ascii = bytes.length <= SHORT_STRING
    for (let i = 0; i < bytes.length && ascii; i++) ascii = bytes[i]! < 0x80
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[])
    try {
      return decoder.decode(bytes)
    } catch (error) {
      throw new RangeError('a review aggregate has a string that is not UTF-8', { cause: error })
    }
  }
}
