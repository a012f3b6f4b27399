import { h, pretty, replace } from '../dom.js'
import { type Page, badge, heading, problem, refocus } from '../ui.js'
import { type EntryView, type LogView, STEP_TITLES, type Step, policyFromServer, verifyEntry } from '../verify.js'

const STATE_LABEL = { pending: 'not run', running: 'checking', passed: 'passed', failed: 'failed', skipped: 'skipped' } as const

/** One entry: its envelope and payload, and a Verify button that checks it in this browser. */
export async function entryPage(page: Page): Promise<void> {
  const [name, index] = page.args as [string, string]
  const path = `/v1/logs/${encodeURIComponent(name)}`
  replace(page.main, heading(`${name} #${index}`), h('p', {}, 'Loading…'))
  let entry: EntryView
  let log: LogView
  try {
    [entry, log] = await Promise.all([
      page.api.json<EntryView>(`${path}/entries/${encodeURIComponent(index)}`, { signal: page.signal }),
      page.api.json<LogView>(path, { signal: page.signal }),
    ])
  } catch (error) {
    replace(page.main, heading(`${name} #${index}`), problem(error))
    refocus(page.main)
    return
  }
  const policy = h('textarea', { id: 'policy', rows: 5, spellcheck: 'false', 'aria-describedby': 'policy-help', value: policyFromServer(log, location.origin) })
  const steps = h('ol', { class: 'steps', 'aria-live': 'polite' })
  const outcome = h('p', { class: 'outcome', role: 'status' })
  const verify = h('button', { type: 'button', class: 'primary', onclick: () => void run() }, 'Verify')
  const showSteps = (list: readonly Step[]) => replace(steps, list.map((step) => h('li', { class: `step ${step.state}` },
    badge(step.state === 'passed' ? 'good' : step.state === 'failed' ? 'bad' : step.state === 'running' ? 'warn' : 'idle', STATE_LABEL[step.state]),
    ' ', h('strong', {}, step.title), step.detail === '' ? null : h('div', { class: 'detail' }, step.detail))))
  showSteps(STEP_TITLES.map((title) => ({ title, state: 'pending', detail: '' })))

  async function run(): Promise<void> {
    verify.setAttribute('disabled', '')
    outcome.textContent = 'Verifying…'
    outcome.className = 'outcome'
    const verified = await verifyEntry(page.api, log, entry, policy.value, showSteps)
    verify.removeAttribute('disabled')
    outcome.textContent = verified ? `Verified: entry ${entry.index} is in the log, as shown.` : 'Verification failed: do not trust what is shown.'
    outcome.className = `outcome ${verified ? 'good' : 'bad'}`
  }

  replace(page.main,
    heading(`${name} #${entry.index}`, h('a', { href: `#/logs/${encodeURIComponent(name)}/search` }, `Search ${name}`)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Index'), h('dd', {}, String(entry.index)),
      h('dt', {}, 'Id (leaf hash)'), h('dd', { class: 'hash' }, entry.id),
      h('dt', {}, 'Proof file'), h('dd', {}, 'GET ', h('code', {}, `${path}/entries/${entry.index}/proof`), ' (a C2SP tlog-proof, for annal verify)')),
    h('section', { class: 'verify', 'aria-labelledby': 'verify-head' },
      h('h2', { id: 'verify-head' }, 'Verify in this browser'),
      h('p', { class: 'help' }, 'Fetches the checkpoint, the entry\'s leaf and its inclusion proof, and checks them here with @annal/client: ' +
        'the server is not trusted for the outcome.'),
      h('details', {}, h('summary', {}, 'Trust policy'),
        h('label', { for: 'policy' }, 'C2SP tlog-policy'),
        policy,
        h('p', { id: 'policy-help', class: 'help' }, 'By default, the keys this server states for the log and its witnesses. ' +
          'Paste keys you got elsewhere to check the server itself.')),
      h('div', { class: 'toolbar' }, verify, outcome),
      steps),
    'payload' in entry || entry.payload_erased === true || entry.payload_omitted !== undefined
      ? h('section', { 'aria-labelledby': 'payload-head' }, h('h2', { id: 'payload-head' }, 'Payload'),
        'payload' in entry ? h('pre', { tabindex: '0', 'aria-labelledby': 'payload-head' }, pretty(entry.payload))
          : h('p', {}, entry.payload_erased === true ? 'Erased. The entry and its proofs stay valid.' : `Not shown inline (${entry.payload_omitted}).`))
      : null,
    h('section', { 'aria-labelledby': 'envelope-head' }, h('h2', { id: 'envelope-head' }, entry.envelope === undefined ? 'Leaf' : 'Envelope'),
      h('pre', { tabindex: '0', 'aria-labelledby': 'envelope-head' }, entry.envelope === undefined ? entry.leaf_base64 ?? '' : pretty(entry.envelope))))
  refocus(page.main)
}
