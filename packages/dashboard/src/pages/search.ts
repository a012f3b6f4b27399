import { h, replace } from '../dom.js'
import { type Page, entrySummary, heading, logLink, notice, problem } from '../ui.js'
import type { EntryView } from '../verify.js'

/** The search API's filters, with their labels and hints. */
const FILTERS: readonly (readonly [name: string, label: string, hint: string])[] = [
  ['sub', 'Subject (sub)', 'alice'],
  ['client_id', 'Client (client_id)', 'billing'],
  ['granted_scope', 'Granted scope', 'log:append'],
  ['required_scope', 'Required scope', 'audit:read'],
  ['route', 'Route', '/v1/logs/:log/entries'],
  ['action', 'Action', 'login'],
  ['status', 'Status', '403 or 4xx'],
  ['jti', 'Token id (jti)', ''],
  ['remote_address', 'Remote address', '127.0.0.1'],
]

interface SearchPage {
  readonly size: number
  readonly next: string | null
  readonly results: EntryView[]
}

/** GET /v1/logs/{log}/search with every filter the API takes, and its cursor for more. */
export async function searchPage(page: Page): Promise<void> {
  const name = page.args[0]!
  const params = page.params
  const input = (id: string, label: string, hint: string, props: Record<string, string> = {}) => h('div', { class: 'field' },
    h('label', { for: `f-${id}` }, label),
    h('input', { id: `f-${id}`, name: id, value: params.get(id) ?? '', autocomplete: 'off', ...(hint === '' ? {} : { placeholder: hint }), ...props }))
  const fieldName = [...params.keys()].find((key) => key.startsWith('field.'))
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': `Search ${name}`, onsubmit: (event: SubmitEvent) => {
    event.preventDefault()
    const query = new URLSearchParams()
    for (const [key, value] of new FormData(form)) {
      if (typeof value !== 'string' || value.trim() === '') continue
      if (key === 'from' || key === 'to') query.set(key, new Date(value).toISOString())
      else if (key !== 'field_name' && key !== 'field_value') query.set(key, value.trim())
    }
    const field = (form.elements.namedItem('field_name') as HTMLInputElement).value.trim()
    const value = (form.elements.namedItem('field_value') as HTMLInputElement).value
    if (field !== '' && value !== '') query.set(`field.${field}`, value)
    location.hash = `#/logs/${encodeURIComponent(name)}/search?${query}`
  } },
  h('div', { class: 'grid' },
    FILTERS.map(([id, label, hint]) => input(id, label, hint)),
    input('from', 'From (local time)', '', { type: 'datetime-local', value: localTime(params.get('from')) }),
    input('to', 'To (local time)', '', { type: 'datetime-local', value: localTime(params.get('to')) }),
    input('field_name', 'Payload field (indexed)', 'actor', { value: fieldName?.slice('field.'.length) ?? '' }),
    input('field_value', 'Field value', '', { value: fieldName === undefined ? '' : params.get(fieldName) ?? '' }),
    h('div', { class: 'field' }, h('label', { for: 'f-order' }, 'Order'),
      h('select', { id: 'f-order', name: 'order' },
        h('option', { value: 'newest', selected: params.get('order') !== 'oldest' }, 'Newest first'),
        h('option', { value: 'oldest', selected: params.get('order') === 'oldest' }, 'Oldest first')))),
  h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Search'),
    h('a', { href: `#/logs/${encodeURIComponent(name)}/search` }, 'Clear'),
    h('a', { href: `#/logs/${encodeURIComponent(name)}/tail` }, 'Tail this log')))
  const results = h('section', { 'aria-labelledby': 'results-head', 'aria-live': 'polite' })
  replace(page.main, heading(`Search ${name}`), form, results)
  const rows = h('tbody', {})
  const more = h('div', { class: 'toolbar' })
  const status = h('p', { class: 'help' })
  replace(results, h('h2', { id: 'results-head' }, 'Results'), status,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, `Entries of ${name} that match`),
      h('thead', {}, h('tr', {}, ['Index', 'Time', 'Who', 'What'].map((column) => h('th', { scope: 'col' }, column)))), rows)),
    more)
  let shown = 0
  const load = async (cursor: string | undefined) => {
    const query = new URLSearchParams(params)
    query.set('limit', query.get('limit') ?? '50')
    if (cursor !== undefined) query.set('cursor', cursor)
    replace(more, h('span', { class: 'help' }, 'Searching…'))
    try {
      const found = await page.api.json<SearchPage>(`/v1/logs/${encodeURIComponent(name)}/search?${query}`, { signal: page.signal })
      for (const entry of found.results) {
        const { time, who, what } = entrySummary(entry)
        rows.append(h('tr', {}, h('td', {}, logLink(name, entry.index)), h('td', {}, time), h('td', {}, who), h('td', { class: 'what' }, what)))
      }
      shown += found.results.length
      status.textContent = `${shown} ${shown === 1 ? 'entry' : 'entries'} shown, of a log of ${found.size} when the search began.`
      replace(more, found.next === null ? (shown === 0 ? notice('Nothing matches.') : null)
        : h('button', { type: 'button', onclick: () => void load(found.next!) }, 'Show more'))
    } catch (error) {
      replace(more, problem(error))
    }
  }
  await load(undefined)
}

/** An RFC 3339 time as a datetime-local input's value, in local time. */
function localTime(iso: string | null): string {
  if (iso === null) return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
}
