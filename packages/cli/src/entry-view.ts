import type { EntryView } from './entry-source.js'

/** Git's default abbreviation length. */
const MIN_ABBREVIATION = 7
/** Digits only and shorter than this reads as an index, as the API reads a reference. */
const DIGIT_REF_LENGTH = 16
/** The width of an event's summary in `log --oneline`. */
const SUMMARY_WIDTH = 72

/**
 * An id abbreviated as Git does: its shortest prefix of at least 7 hex digits that `unique`
 * accepts, and never one made only of digits and shorter than 16, which names an index.
 */
export async function abbreviate(id: string, unique: (prefix: string) => Promise<boolean>): Promise<string> {
  for (let length = MIN_ABBREVIATION; length < id.length; length++) {
    const prefix = id.slice(0, length)
    if (length < DIGIT_REF_LENGTH && /^[0-9]+$/.test(prefix)) continue
    if (await unique(prefix)) return prefix
  }
  return id
}

interface Envelope {
  readonly time?: string
  readonly request_id?: string
  readonly line?: number
  readonly actor?: { readonly iss?: string; readonly sub?: string; readonly client_id?: string }
  readonly object?: { readonly hash?: string; readonly size?: number; readonly content_type?: string }
}

function envelopeOf(entry: EntryView): Envelope {
  return (entry.envelope ?? {}) as Envelope
}

/** Who appended, from the envelope's actor: subject, client and issuer as far as known. */
function actorOf(envelope: Envelope): string | undefined {
  const { actor } = envelope
  if (actor === undefined) return undefined
  const details = [actor.client_id === undefined ? '' : `client ${actor.client_id}`, actor.iss === undefined ? '' : `issuer ${actor.iss}`]
    .filter(Boolean).join(', ')
  return `${actor.sub ?? '-'}${details === '' ? '' : ` (${details})`}`
}

/** The event in one line: its JSON, or what stands in for it when it is not inline. */
export function summary(entry: EntryView): string {
  if (entry.leaf_base64 !== undefined) return `(not an event: a leaf of ${atob(entry.leaf_base64).length} bytes)`
  if ('payload' in entry) return JSON.stringify(entry.payload)
  const { object } = envelopeOf(entry)
  if (entry.payload_erased === true) return `(erased: ${object?.hash})`
  if (entry.payload_omitted !== undefined) return `(not inline, ${entry.payload_omitted}: ${object?.hash})`
  if (object !== undefined) return `(${object.content_type}, ${object.size} bytes: ${object.hash})`
  return '(not an event)'
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`
}

/** `git log --oneline` style: abbreviated id, index, time and the event's summary. */
export function onelineOf(entry: EntryView, abbreviation: string): string {
  const time = envelopeOf(entry).time ?? '-'
  return `${abbreviation} ${entry.index} ${time} ${clip(summary(entry), SUMMARY_WIDTH)}`
}

/** `git log` style: the full id, then index, time and actor, then the event indented. */
export function logLines(entry: EntryView): string[] {
  const envelope = envelopeOf(entry)
  const actor = actorOf(envelope)
  return [
    `entry ${entry.id}`,
    `Index: ${entry.index}`,
    ...(envelope.time === undefined ? [] : [`Time:  ${envelope.time}`]),
    ...(actor === undefined ? [] : [`Actor: ${actor}`]),
    '',
    `    ${summary(entry)}`,
    '',
  ]
}

/** `annal show`: every field of the entry, then its event pretty-printed. */
export function showLines(entry: EntryView): string[] {
  const envelope = envelopeOf(entry)
  const actor = actorOf(envelope)
  const { object } = envelope
  const field = (name: string, value: unknown) => value === undefined ? [] : [`${`${name}:`.padEnd(9)}${String(value)}`]
  const event = 'payload' in entry ? JSON.stringify(entry.payload, null, 2).split('\n') : [summary(entry)]
  return [
    `entry ${entry.id}`,
    ...field('Index', entry.index),
    ...field('Time', envelope.time),
    ...field('Actor', actor),
    ...field('Request', envelope.request_id),
    ...field('Line', envelope.line),
    ...field('Object', object === undefined ? undefined : `${object.hash} (${object.content_type}, ${object.size} bytes)`),
    '',
    ...event,
  ]
}
