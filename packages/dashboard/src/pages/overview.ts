import { type Api, ApiProblem } from '../api.js'
import { h, replace } from '../dom.js'
import { ago, count, short } from '../format.js'
import { type Page, badge, heading, problem, table } from '../ui.js'
import type { EntryView, LogView } from '../verify.js'

/** Every log: size, latest checkpoint and its age, witnesses, policy. */
export async function overviewPage(page: Page): Promise<void> {
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading the logs…'))
  replace(page.main, heading('Logs'), body)
  try {
    const { logs } = await page.api.json<{ logs: { name: string }[] }>('/v1/logs', { signal: page.signal })
    const views = await Promise.all(logs.map(async ({ name }) => {
      try {
        const log = await page.api.json<LogView>(`/v1/logs/${encodeURIComponent(name)}`, { signal: page.signal })
        return { name, log, time: await checkpointTime(page.api, log, page.signal) }
      } catch (error) {
        return { name, error }
      }
    }))
    const now = Date.now()
    replace(body, table('Logs, their checkpoints and witnesses', ['Log', 'Entries', 'Checkpoint', 'Signed', 'Witnesses', 'Policy', ''],
      views.map((view) => {
        if (!('log' in view) || view.log === undefined) {
          const refused = view.error instanceof ApiProblem && [401, 403].includes(view.error.status) ? 'needs audit:read' : (view.error as Error).message
          return [view.name, '—', '—', '—', '—', refused, '']
        }
        const { log, time } = view
        const served = log.witnessing === null ? log.size : log.witnessing.policy_met_size
        return [
          h('strong', {}, log.name),
          count(log.size),
          served === null ? 'none meets the policy yet' : h('span', { title: log.root }, `size ${count(served)}`,
            served === log.size ? h('span', { class: 'muted' }, ` · root ${short(log.root)}`) : null),
          time === undefined ? h('span', { class: 'muted', title: 'the time of the checkpoint\'s last entry needs log:read' }, '—')
            : h('time', { datetime: new Date(time).toISOString(), title: new Date(time).toISOString() }, ago(time, now)),
          witnessesCell(log),
          policyCell(log),
          h('span', { class: 'actions' },
            h('a', { href: `#/logs/${encodeURIComponent(log.name)}/search` }, 'Search', h('span', { class: 'visually-hidden' }, ` ${log.name}`)),
            h('a', { href: `#/logs/${encodeURIComponent(log.name)}/tail` }, 'Tail', h('span', { class: 'visually-hidden' }, ` ${log.name}`))),
        ]
      }), true))
    body.setAttribute('aria-busy', 'false')
  } catch (error) {
    replace(body, problem(error))
  }
}

/**
 * When the served checkpoint was signed: the time of its last entry, since a checkpoint is
 * signed in the same write as the entries it adds. Undefined when the token cannot read entries.
 */
async function checkpointTime(api: Api, log: LogView, signal: AbortSignal): Promise<number | undefined> {
  const size = log.witnessing === null ? log.size : log.witnessing.policy_met_size ?? 0
  if (size === 0) return undefined
  try {
    const entry = await api.json<EntryView>(`/v1/logs/${encodeURIComponent(log.name)}/entries/${size - 1}`, { signal })
    const time = Date.parse(String((entry.envelope as { time?: unknown } | undefined)?.time))
    return Number.isNaN(time) ? undefined : time
  } catch {
    return undefined
  }
}

function witnessesCell(log: LogView): HTMLElement | string {
  if (log.witnessing === null) return h('span', { class: 'muted' }, 'not witnessed')
  return h('ul', { class: 'plain' }, log.witnessing.witnesses.map((witness) => h('li', {},
    !witness.configured ? badge('bad', `${witness.name}: not configured`)
      : witness.cosigned_size === null ? badge(witness.failures > 0 ? 'bad' : 'idle', `${witness.name}: no cosignature yet`)
        : badge(witness.failures > 0 ? 'warn' : 'good', `${witness.name}: cosigned ${count(witness.cosigned_size)}`),
    witness.last_error !== null && witness.failures > 0 ? h('span', { class: 'muted' }, ` (${witness.failures} failures: ${witness.last_error})`) : null)))
}

function policyCell(log: LogView): HTMLElement {
  if (log.witnessing === null) return badge('idle', 'none')
  const { k, witnesses, policy_met_size: met } = log.witnessing
  const of = `${k} of ${witnesses.length}`
  if (met === null) return badge('bad', `${of}: unmet`)
  if (met < log.size) return badge('warn', `${of}: met at ${count(met)}, newest not yet`)
  return badge('good', `${of}: met`)
}
