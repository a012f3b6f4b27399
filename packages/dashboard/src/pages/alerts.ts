import { follow } from '../api.js'
import { h, replace } from '../dom.js'
import { utc } from '../format.js'
import { type Page, refocus, heading, logLink, problem } from '../ui.js'

interface Alert {
  readonly rule: string
  readonly time: string
  readonly summary: string
  readonly subject: Record<string, string>
}

/** Alerts shown: the newest of the log, then new ones as they come. */
const SHOWN = 100

/** The alerts panel: the newest alerts, then the stream. */
export async function alertsPage(page: Page): Promise<void> {
  const rows = h('tbody', {})
  const state = h('p', { class: 'stream-state', role: 'status' })
  replace(page.main, heading('Alerts'), state,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Alerts, newest first'),
      h('thead', {}, h('tr', {}, ['Index', 'Time', 'Rule', 'Subject', 'Summary'].map((column) => h('th', { scope: 'col' }, column)))),
      rows)))
  const show = (index: number, alert: Alert) => {
    const subject = Object.entries(alert.subject ?? {}).map(([key, value]) => `${key} ${value}`).join(', ')
    rows.prepend(h('tr', {}, h('td', {}, logLink('alerts', index)), h('td', {}, utc(alert.time)),
      h('td', {}, h('code', {}, alert.rule)), h('td', {}, subject), h('td', {}, alert.summary)))
    while (rows.childElementCount > SHOWN) rows.lastElementChild!.remove()
  }
  let size: number
  try {
    size = (await page.api.json<{ size: number }>('/v1/alerts?limit=1', { signal: page.signal })).size
  } catch (error) {
    replace(page.main, heading('Alerts'), problem(error))
    refocus(page.main)
    return
  }
  await follow(page.api, `/v1/alerts/stream?from=${Math.max(0, size - SHOWN)}`, page.signal, (event) => {
    if (event.event === 'alert' && event.id !== undefined) show(Number(event.id), JSON.parse(event.data) as Alert)
  }, (stream) => {
    state.textContent = stream.kind === 'live' ? (rows.childElementCount === 0 ? 'No alerts yet; new ones appear here.' : 'Live: new alerts appear at the top.')
      : stream.kind === 'reconnecting' ? `Disconnected (${stream.reason}); reconnecting in ${Math.round(stream.inMs / 1000)} s.`
        : `Stopped: ${stream.reason}`
    state.className = `stream-state ${stream.kind}`
  })
}
