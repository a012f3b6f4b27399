import { follow } from '../api.js'
import { h, replace } from '../dom.js'
import { type Page, refocus, entrySummary, heading, logLink, problem } from '../ui.js'
import type { EntryView, LogView } from '../verify.js'

/** Entries shown at once: older ones leave the list as new ones come. */
const SHOWN = 200
/** Entries shown from before the tail starts. */
const BACKLOG = 20

/** A live tail of a log over GET /v1/logs/{log}/stream. */
export async function tailPage(page: Page): Promise<void> {
  const name = page.args[0]!
  const path = `/v1/logs/${encodeURIComponent(name)}`
  const state = h('p', { class: 'stream-state', role: 'status' }, 'Connecting…')
  const rows = h('tbody', {})
  let paused = false
  const held: EntryView[] = []
  const pause = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    paused = !paused
    pause.setAttribute('aria-pressed', String(paused))
    pause.textContent = paused ? 'Resume' : 'Pause'
    if (!paused) for (const entry of held.splice(0)) show(entry)
  } }, 'Pause')
  replace(page.main, heading(`Tail of ${name}`, h('a', { href: `#/logs/${encodeURIComponent(name)}/search` }, 'Search this log')),
    h('div', { class: 'toolbar' }, pause, state),
    h('div', { class: 'table-wrap' }, h('table', { 'aria-describedby': 'tail-help' },
      h('caption', { class: 'visually-hidden' }, `Newest entries of ${name}, newest first`),
      h('thead', {}, h('tr', {}, ['Index', 'Time', 'Who', 'What'].map((column) => h('th', { scope: 'col' }, column)))),
      rows)),
    h('p', { id: 'tail-help', class: 'help' }, `New entries appear at the top as they are appended; the newest ${SHOWN} are kept.`))

  function show(entry: EntryView): void {
    const { time, who, what } = entrySummary(entry)
    rows.prepend(h('tr', {}, h('td', {}, logLink(name, entry.index)), h('td', {}, time), h('td', {}, who), h('td', { class: 'what' }, what)))
    while (rows.childElementCount > SHOWN) rows.lastElementChild!.remove()
  }

  let from: number
  try {
    const log = await page.api.json<LogView>(path, { signal: page.signal })
    from = Math.max(0, log.size - BACKLOG)
  } catch (error) {
    replace(page.main, heading(`Tail of ${name}`), problem(error))
    refocus(page.main)
    return
  }
  await follow(page.api, `${path}/stream?from=${from}`, page.signal, (event) => {
    if (event.event !== 'entry') return
    const entry = JSON.parse(event.data) as EntryView
    if (!paused) {
      show(entry)
      return
    }
    // Only the newest SHOWN can be shown on resuming: a long pause holds no more.
    held.push(entry)
    if (held.length > SHOWN) held.shift()
  }, (stream) => {
    state.textContent = stream.kind === 'live' ? 'Live: following new entries.'
      : stream.kind === 'reconnecting' ? `Disconnected (${stream.reason}); reconnecting in ${Math.round(stream.inMs / 1000)} s.`
        : `Stopped: ${stream.reason}`
    state.className = `stream-state ${stream.kind}`
  })
}
