// Pieces every page uses: the page context, tables, notices, and how an entry reads in a list.
import type { Api } from './api.js'
import { ApiProblem } from './api.js'
import { type Child, h } from './dom.js'
import { short, utc } from './format.js'
import type { EntryView } from './verify.js'

export interface Page {
  readonly api: Api
  readonly main: HTMLElement
  /** Aborted when the page is left: streams and fetches stop. */
  readonly signal: AbortSignal
  readonly params: URLSearchParams
  /** Path parameters, in order: `log`, `index`. */
  readonly args: readonly string[]
}

/**
 * After a page replaced its heading (once its data came), gives the new one the focus the old one
 * had, so that a keyboard or screen reader user is not left on the document's body.
 */
export function refocus(main: HTMLElement): void {
  if (document.activeElement === null || document.activeElement === document.body) main.querySelector<HTMLElement>('h1')?.focus()
}

export function heading(text: string, ...after: Child[]): HTMLElement {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, text), ...after)
}

/** A table with a caption (for screen readers; visually hidden unless `showCaption`). */
export function table(caption: string, columns: readonly string[], rows: readonly Child[][], showCaption = false): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: showCaption ? '' : 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell)))))))
}

/** A status shown by word and symbol, not by colour alone. */
export function badge(kind: 'good' | 'bad' | 'warn' | 'idle', text: string): HTMLElement {
  const symbol = { good: '✓', bad: '✗', warn: '!', idle: '·' }[kind]
  return h('span', { class: `badge ${kind}` }, h('span', { 'aria-hidden': 'true' }, `${symbol} `), text)
}

/** An error as the page shows it; a refused token links to sign-in. */
export function problem(error: unknown): HTMLElement {
  const message = error instanceof Error ? error.message : String(error)
  const signIn = error instanceof ApiProblem && (error.status === 401 || error.status === 403)
  return h('div', { class: 'notice bad', role: 'alert' }, message,
    signIn ? [' ', h('a', { href: '#/sign-in' }, error.status === 401 ? 'Sign in again' : 'Sign in with another token')] : null)
}

export function notice(text: Child, kind: 'info' | 'bad' = 'info'): HTMLElement {
  return h('p', { class: `notice ${kind}` }, text)
}

export function logLink(log: string, index: number): HTMLElement {
  return h('a', { href: `#/logs/${encodeURIComponent(log)}/entries/${index}` }, String(index))
}

type Record_ = Record<string, unknown>
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** The time, who, and what of an entry, for one row of a list. */
export function entrySummary(entry: EntryView): { time: string; who: string; what: string } {
  if (entry.envelope === undefined || typeof entry.envelope !== 'object' || entry.envelope === null) {
    return { time: '', who: '', what: entry.leaf_base64 === undefined ? '' : `${entry.leaf_base64.length} base64 characters` }
  }
  const envelope = entry.envelope as Record_
  const actor = (envelope.actor ?? envelope.subject) as Record_ | undefined
  const sub = text(actor?.sub)
  const client = text(actor?.client_id)
  const who = (client === undefined || client === sub ? sub : sub === undefined ? client : `${sub} · ${client}`) ?? text(actor?.remote_address) ?? ''
  const time = text(envelope.time) === undefined ? '' : utc(envelope.time as string)
  let what: string
  switch (envelope.type) {
    case 'annal.access/v1':
      what = `${text(envelope.method) ?? ''} ${text(envelope.route) ?? '(no route)'} → ${String(envelope.status)}${envelope.code === undefined ? '' : ` ${String(envelope.code)}`}`
      break
    case 'annal.alert/v1':
      what = `${String(envelope.rule)}: ${text(envelope.summary) ?? ''}`
      break
    case 'annal.event/v1':
      what = entry.payload === undefined ? `${text((envelope.object as Record_ | undefined)?.content_type) ?? 'event'} ${short(text((envelope.object as Record_ | undefined)?.hash) ?? '')}`
        : preview(entry.payload)
      break
    default:
      what = `${text(envelope.type) ?? ''} ${preview(envelope)}`
  }
  return { time, who, what }
}

function preview(value: unknown): string {
  const json = JSON.stringify(value)
  return json.length > 120 ? `${json.slice(0, 119)}…` : json
}
