/**
 * @module
 * The Annal dashboard: a page of plain DOM over the public API, served by `annal serve` at `/`.
 * It signs in with a bearer token kept in session storage, reads only what that token allows,
 * and verifies entries in the browser with @annal/client. Routes are in the URL's fragment.
 */
import { Api } from './api.js'
import { h, replace } from './dom.js'
import { activityPage } from './pages/activity.js'
import { alertsPage } from './pages/alerts.js'
import { entryPage } from './pages/entry.js'
import { overviewPage } from './pages/overview.js'
import { reviewPage } from './pages/review.js'
import { searchPage } from './pages/search.js'
import { signInPage } from './pages/sign-in.js'
import { tailPage } from './pages/tail.js'
import { claimsOf, takeDevKey, token } from './session.js'
import { type Page, heading, notice } from './ui.js'
import { route } from './routes.js'

const NAV = [
  ['#/', 'Logs'],
  ['#/alerts', 'Alerts'],
  ['#/activity', 'Activity'],
  ['#/review', 'Scope review'],
] as const

let leaving: AbortController | undefined

function render(): void {
  const found = route(location.hash)
  if (found === undefined) return // an in-page anchor such as the skip link, not a route
  leaving?.abort()
  leaving = new AbortController()
  const main = document.getElementById('main')!
  const current = token()
  const page: Page = { api: new Api(current), main, signal: leaving.signal, params: found.params, args: found.args }
  renderChrome(found.name, current)
  const pages = {
    overview: overviewPage, tail: tailPage, search: searchPage, entry: entryPage, alerts: alertsPage, review: reviewPage,
    activity: activityPage,
  }
  let shown: Promise<void>
  if (found.name === 'sign-in') {
    shown = signInPage(page, () => { location.hash = '#/' })
  } else if (found.name === 'unknown') {
    replace(main, heading('Not found'), notice(h('span', {}, 'No page here. ', h('a', { href: '#/' }, 'See the logs'))))
    shown = Promise.resolve()
  } else if (current === undefined && found.name !== 'overview') {
    replace(main, heading('Sign in first'), notice(h('span', {}, 'This page reads the API with your token. ', h('a', { href: '#/sign-in' }, 'Sign in'))))
    shown = Promise.resolve()
  } else {
    shown = pages[found.name](page)
  }
  // Focus goes to the new page's heading, so that a keyboard or screen reader user starts there.
  main.querySelector<HTMLElement>('h1')?.focus()
  void shown.catch((error: unknown) => console.error(error))
}

function renderChrome(name: string, current: string | undefined): void {
  const nav = document.getElementById('nav')!
  replace(nav, h('ul', {}, NAV.map(([href, label]) => h('li', {},
    h('a', { href, ...(routeName(href) === name ? { 'aria-current': 'page' } : {}) }, label)))))
  const claims = current === undefined ? undefined : claimsOf(current)
  replace(document.getElementById('who')!, current === undefined ? h('a', { href: '#/sign-in' }, 'Sign in')
    : h('a', { href: '#/sign-in', title: claims?.scope ?? '' }, `${claims?.sub ?? 'signed in'}`, h('span', { class: 'visually-hidden' }, ' (account)')))
}

function routeName(href: string): string | undefined {
  return route(href)?.name
}

takeDevKey(location, history)
window.addEventListener('hashchange', render)
render()
