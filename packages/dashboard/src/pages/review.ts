import { h, replace } from '../dom.js'
import { utc } from '../format.js'
import { type Page, badge, heading, problem, table } from '../ui.js'

interface Principal {
  readonly client_id: string | null
  readonly sub: string | null
  readonly carried: string[]
  readonly used: Record<string, string>
  readonly unused: string[]
  readonly refusals: number
  readonly refused: Record<string, string>
  readonly suggested_ceiling: string[]
}

const WINDOWS = ['7d', '30d', '90d', '400d'] as const

/** The scope review: what each principal's tokens carried against what it used. */
export async function reviewPage(page: Page): Promise<void> {
  const since = WINDOWS.find((window) => window === page.params.get('since')) ?? '30d'
  const choose = h('select', { id: 'since', onchange: () => { location.hash = `#/review?since=${choose.value}` } },
    WINDOWS.map((window) => h('option', { value: window, selected: window === since }, `last ${window.replace('d', ' days')}`)))
  const body = h('div', {}, h('p', {}, 'Loading…'))
  replace(page.main, heading('Scope review'), h('div', { class: 'toolbar' }, h('label', { for: 'since' }, 'Window'), choose), body)
  try {
    const review = await page.api.json<{ principals: Principal[]; evaluated: number; until: string }>(`/v1/admin/scope-review?since=${since}`, { signal: page.signal })
    const list = (scopes: readonly string[]) => scopes.length === 0 ? h('span', { class: 'muted' }, 'none')
      : h('ul', { class: 'plain' }, scopes.map((scope) => h('li', {}, h('code', {}, scope))))
    replace(body, h('p', { class: 'help' }, `${review.principals.length} principals; access records read: ${review.evaluated}, until ${utc(review.until)}.`),
      table(`Scopes carried and used per principal, last ${since}`, ['Client', 'Subject', 'Carried', 'Used (last use)', 'Unused', 'Refusals', 'Suggested ceiling'],
        review.principals.map((principal) => [
          principal.client_id ?? '—', principal.sub ?? '—', list(principal.carried),
          Object.keys(principal.used).length === 0 ? h('span', { class: 'muted' }, 'none')
            : h('ul', { class: 'plain' }, Object.entries(principal.used).map(([scope, time]) => h('li', {}, h('code', {}, scope), ` ${utc(time)}`))),
          principal.unused.length === 0 ? badge('good', 'none') : h('div', {}, badge('warn', `${principal.unused.length} unused`), list(principal.unused)),
          principal.refusals === 0 ? '0' : badge('bad', String(principal.refusals)),
          list(principal.suggested_ceiling),
        ])))
  } catch (error) {
    replace(body, problem(error))
  }
}
