import { ApiProblem } from '../api.js'
import { h, replace } from '../dom.js'
import { claimsOf, devKey, signIn, signOut, token } from '../session.js'
import { type Page, heading, problem } from '../ui.js'

interface DevToken {
  readonly role: string
  readonly scope: string
  readonly token: string
}

/** Paste a bearer token, or (annal serve --dev, from its link) pick a dev token. */
export async function signInPage(page: Page, done: () => void): Promise<void> {
  const input = h('textarea', {
    id: 'token', name: 'token', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'token-help',
  })
  const form = h('form', { class: 'sign-in', onsubmit: (event: SubmitEvent) => {
    event.preventDefault()
    const value = input.value.trim()
    if (value === '') return
    signIn(value)
    done()
  } },
  h('label', { for: 'token' }, 'Bearer token'),
  input,
  h('p', { id: 'token-help', class: 'help' },
    'An OAuth access token for this server. It stays in this tab (session storage) and goes only to this server\'s API, ' +
    'so the dashboard shows no more than the token allows.'),
  h('button', { type: 'submit' }, 'Sign in'))
  const dev = h('section', { 'aria-labelledby': 'dev-head' })
  const current = token()
  const claims = current === undefined ? undefined : claimsOf(current)
  replace(page.main, heading('Sign in'),
    current === undefined ? null : h('p', {}, `Signed in as ${claims?.sub ?? 'a token without sub'}. `,
      h('button', { type: 'button', class: 'link', onclick: () => {
        signOut()
        done()
      } }, 'Sign out')),
    dev, form)
  const key = devKey()
  if (key === undefined) return
  replace(dev, h('h2', { id: 'dev-head' }, 'Dev tokens'), h('p', { 'aria-live': 'polite' }, 'Fetching the dev tokens…'))
  try {
    const { tokens } = await page.api.json<{ tokens: DevToken[] }>('/dev-tokens', { headers: { 'Annal-Dev-Key': key }, signal: page.signal })
    replace(dev, h('h2', { id: 'dev-head' }, 'Dev tokens'),
      h('p', { class: 'help' }, 'annal serve --dev made these for a local trial. Pick one:'),
      h('ul', { class: 'dev-tokens' }, tokens.map((dev) => h('li', {},
        h('button', { type: 'button', onclick: () => {
          signIn(dev.token)
          done()
        } }, `Sign in as ${dev.role}`),
        h('span', { class: 'scope' }, dev.scope)))))
  } catch (error) {
    replace(dev, h('h2', { id: 'dev-head' }, 'Dev tokens'), error instanceof ApiProblem && error.status === 404
      ? h('p', { class: 'notice bad' }, 'This dev sign-in link is not for this server start (its key changes at every start): ' +
        'open the link annal serve --dev printed last, or paste a token.')
      : problem(error))
  }
}
