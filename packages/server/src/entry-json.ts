// Entries as served: JSON that nothing stored can make fail, and pages bounded in bytes.
import { isStoreError, type Entry, type Ledger } from '@annal/store'
import { isJsonType, nestedDeeperThan } from './body.js'
import { DEFAULT_LIMITS, type Limits, MAX_JSON_DEPTH } from './context.js'
import { ENVELOPE_TYPE } from './envelope.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Why an entry's JSON payload is served without being inline. */
export type PayloadOmitted = 'too_large' | 'too_deep'

/** An entry with its leaf parsed once: the envelope (undefined for a leaf the server cannot print) and its event's object. */
export interface ParsedEntry {
  readonly entry: Entry
  readonly envelope: unknown
  readonly object: EventObject | undefined
}

/** Parses an entry's leaf, once for both paging and serving. */
export function parseEntry(entry: Entry): ParsedEntry {
  const envelope = printableJson(entry.data)
  return { entry, envelope, object: eventObject(envelope) }
}

/**
 * An entry as served, as JSON text: index, id, the parsed envelope, and the event inline as
 * `payload` when it is JSON, not erased, at most `inline.bytes` long and nested at most
 * `inline.depth` deep. Otherwise `payload_erased` or `payload_omitted` says why it is not, and
 * the envelope's object hash names it for GET /v1/objects/{hash}. A leaf that is not JSON, or
 * nested deeper than the server can print, is served as `leaf_base64`: nothing stored can make
 * this fail.
 */
export async function entryJson(ledger: Ledger, { entry, envelope, object }: ParsedEntry,
    inline: { readonly bytes: number; readonly depth: number }): Promise<string> {
  if (envelope === undefined) {
    return JSON.stringify({ index: entry.index, id: entry.id, leaf_base64: Buffer.from(entry.data).toString('base64') })
  }
  const view: Record<string, unknown> = { index: entry.index, id: entry.id, envelope }
  if (object === undefined || !isJsonType(object.contentType)) return JSON.stringify(view)
  if (object.size > inline.bytes) {
    view.payload_omitted = 'too_large' satisfies PayloadOmitted
    return JSON.stringify(view)
  }
  let bytes: Uint8Array
  try {
    bytes = await ledger.objects.get(object.hash)
  } catch (error) {
    if (isStoreError(error, 'OBJECT_ERASED')) view.payload_erased = true
    else if (!isStoreError(error, 'OBJECT_NOT_FOUND')) throw error
    return JSON.stringify(view)
  }
  if (nestedDeeperThan(bytes, inline.depth)) view.payload_omitted = 'too_deep' satisfies PayloadOmitted
  else view.payload = printableJson(bytes)
  return JSON.stringify(view)
}

/** An entry as GET /v1/logs/{log}/entries/{ref} serves it (see entryJson), as JSON text. */
export function servedEntryJson(ledger: Ledger, entry: Entry, limits: Pick<Limits, 'pageBytes' | 'jsonDepth'> = DEFAULT_LIMITS): Promise<string> {
  return entryJson(ledger, parseEntry(entry), { bytes: limits.pageBytes, depth: limits.jsonDepth })
}

/** The JSON value in `bytes` if they are UTF-8 JSON that JSON.stringify can print back, else undefined. */
function printableJson(bytes: Uint8Array): unknown {
  if (nestedDeeperThan(bytes, MAX_JSON_DEPTH)) return undefined
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown
  } catch {
    return undefined
  }
}

/**
 * The leading entries of a list page that fit in `maxBytes` with their inline payloads (at least
 * one), judged from the envelopes' object sizes before any payload is read.
 */
export function pageOf(entries: readonly ParsedEntry[], maxBytes: number): ParsedEntry[] {
  let bytes = 0
  for (let i = 0; i < entries.length; i++) {
    const { entry, object } = entries[i]!
    const payload = object !== undefined && isJsonType(object.contentType) && object.size <= maxBytes ? object.size : 0
    bytes += entry.data.length + payload
    if (bytes > maxBytes && i > 0) return entries.slice(0, i)
  }
  return [...entries]
}

/**
 * A JSON document streamed in parts: `head`, each item's text (made when the socket wants it,
 * so that one page holds one payload in memory at a time) separated by commas, then `tail`.
 */
export function jsonStream(head: string, items: readonly (() => Promise<string>)[], tail: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let next = 0
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(head))
    },
    async pull(controller) {
      if (next === items.length) {
        controller.enqueue(encoder.encode(tail))
        controller.close()
        return
      }
      const text = await items[next]!()
      controller.enqueue(encoder.encode(next === 0 ? text : `,${text}`))
      next++
    },
  }, { highWaterMark: 1 })
}

/** The stored event an envelope names. */
export interface EventObject {
  readonly hash: string
  readonly size: number
  readonly contentType: string
}

/** The event object of an Annal envelope; undefined for anything else. */
export function eventObject(envelope: unknown): EventObject | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined
  const { type, object } = envelope as { type?: unknown; object?: { hash?: unknown; size?: unknown; content_type?: unknown } }
  if (type !== ENVELOPE_TYPE || typeof object?.hash !== 'string' || typeof object.content_type !== 'string' ||
    typeof object.size !== 'number') return undefined
  return { hash: object.hash, size: object.size, contentType: object.content_type }
}
