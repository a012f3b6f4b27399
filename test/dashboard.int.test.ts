// The dashboard in Debian's Chromium (installed by `npm test`'s first step), against a real
// `annal serve --dev`: sign in (keyboard only), search, open an entry, verify it in the browser,
// and see verification fail for a tampered proof. Screenshots go to test/artifacts/dashboard/.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killStarted, startAnnal } from './process.js'

const executablePath = process.env.ANNAL_CHROMIUM ?? '/usr/bin/chromium'
const artifacts = join(import.meta.dirname, 'artifacts', 'dashboard')
const BANNER = /try:\n[\s\S]*proof\/inclusion/
const EVENTS = ['login', 'grant', 'export', 'logout', 'login', 'rotate'].map((action, n) => ({ actor: 'alice', action, n }))
const VERIFIED = 2

let data: string
let browser: Browser
let url: string
let link: string
let tokens: Record<string, string>

async function launch(): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: run \`node scripts/setup-chromium.mjs\` as root (npm test does), or set ANNAL_CHROMIUM`)
  }
  // Playwright gives every launch a fresh profile of its own (it refuses --user-data-dir).
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

async function append(event: unknown): Promise<number> {
  const response = await fetch(`${url}/v1/logs/audit/entries`, {
    method: 'POST', body: JSON.stringify(event), headers: { authorization: `Bearer ${tokens.appender}`, 'content-type': 'application/json' },
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { index: number }).index
}

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true })
  data = await mkdtemp(join(tmpdir(), 'annal-dashboard-'))
  const banner = (await startAnnal(['serve', '--dev', '--data', data, '--port', '0'], BANNER).matched).input
  url = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
  link = /dashboard .*: (http\S+#dev-sign-in=\S+)/.exec(banner)![1]!
  tokens = Object.fromEntries(['appender', 'reader'].map((role) =>
    [role, new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!]))
  for (const event of EVENTS) await append(event)
  browser = await launch()
})

afterAll(async () => {
  await browser?.close()
  await killStarted()
  if (data !== undefined) await rm(data, { recursive: true, force: true })
})

/** A fresh context and page that record every console message, page error and CSP violation. */
async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning' || /Content.Security.Policy/i.test(message.text())) {
      problems.push(`${message.type()}: ${message.text()}`)
    }
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  // Reported as a console message by Chromium too; listened for here so that none slips by.
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (event) =>
    console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`)))
  return { context, page, problems }
}

/** Presses Tab until `target` has the focus, at most `max` times (keyboard only, no clicks). */
async function tabTo(page: Page, target: ReturnType<Page['getByRole']>, max = 30): Promise<void> {
  for (let presses = 0; presses < max; presses++) {
    await page.keyboard.press('Tab')
    if (await target.evaluate((element) => element === document.activeElement)) return
  }
  throw new Error(`${max} presses of Tab did not reach ${String(target)}`)
}

/** The focused element shows a focus ring. */
async function focusVisible(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const style = getComputedStyle(document.activeElement!)
    return style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) > 0
  })
}

describe('the dashboard in headless Chromium', () => {
  it('signs in with a dev token by keyboard, searches, opens an entry, verifies it, and fails a tampered proof', async () => {
    const { context, page, problems } = await open()
    await page.goto(link)
    // The key left the address bar for session storage.
    await expect.poll(() => page.url()).toBe(`${url}/#/sign-in`)
    const admin = page.getByRole('button', { name: 'Sign in as admin' })
    await admin.waitFor()
    await page.screenshot({ path: join(artifacts, '1-sign-in.png') })
    await tabTo(page, admin)
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor()
    await page.getByRole('cell', { name: 'audit', exact: true }).waitFor()
    await page.screenshot({ path: join(artifacts, '2-overview.png') })

    await page.getByRole('link', { name: 'Search audit' }).click()
    await page.getByLabel('Subject (sub)').fill('dev-appender')
    await page.getByLabel('Order').selectOption('oldest')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    const rows = page.locator('section[aria-labelledby="results-head"] tbody tr')
    await expect.poll(() => rows.count()).toBe(EVENTS.length)
    expect(await rows.first().locator('td').first().textContent()).toBe('0')
    await page.screenshot({ path: join(artifacts, '3-search.png') })

    await rows.nth(VERIFIED).getByRole('link').click()
    await page.getByRole('heading', { level: 1, name: `audit #${VERIFIED}` }).waitFor()
    expect(await page.getByRole('region', { name: 'Payload' }).textContent()).toContain('"action": "export"')
    const verify = page.getByRole('button', { name: 'Verify' })
    const outcome = page.locator('.outcome')
    await verify.click()
    await expect.poll(() => outcome.textContent()).toMatch(/^(Verified|Verification failed)/)
    expect(await outcome.textContent()).toBe(`Verified: entry ${VERIFIED} is in the log, as shown.`)
    expect(await page.locator('.step.passed').count()).toBe(5)
    expect(await page.locator('.step.failed').count()).toBe(0)
    await page.screenshot({ path: join(artifacts, '4-verified.png'), fullPage: true })

    // The same check against a proof with one hash changed in transit: the browser refuses it.
    await page.route('**/v1/logs/audit/proof/inclusion?**', async (route) => {
      const response = await route.fetch()
      const body = await response.json() as { proof: string[] }
      const first = body.proof[0]!
      body.proof[0] = `${first[0] === '0' ? '1' : '0'}${first.slice(1)}`
      await route.fulfill({ response, json: body })
    })
    await verify.click()
    await expect.poll(() => outcome.textContent()).toBe('Verification failed: do not trust what is shown.')
    const failed = page.locator('.step.failed')
    expect(await failed.count()).toBe(1)
    expect(await failed.textContent()).toContain('Inclusion proof reaches the checkpoint root')
    expect(await failed.textContent()).toContain('INCLUSION_FAILED')
    await page.screenshot({ path: join(artifacts, '5-tampered.png'), fullPage: true })
    await page.unroute('**/v1/logs/audit/proof/inclusion?**')

    // The live tail shows an entry appended after it opened.
    await page.goto(`${url}/#/logs/audit/tail`)
    await page.getByText('Live: following new entries.').waitFor()
    const index = await append({ actor: 'bob', action: 'tail' })
    await page.getByRole('link', { name: String(index), exact: true }).waitFor()
    await page.screenshot({ path: join(artifacts, '6-tail.png') })
    await context.close()
    expect(problems).toEqual([])
  })

  it('signs in with a pasted token by keyboard only, and keeps it in this tab only', async () => {
    const { context, page, problems } = await open()
    await page.goto(`${url}/#/sign-in`)
    const field = page.getByLabel('Bearer token')
    await field.waitFor()
    await tabTo(page, field)
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.insertText(tokens.reader!)
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in')
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor()
    await page.getByRole('link', { name: 'dev-reader (account)' }).waitFor()
    expect(await page.evaluate(() => [sessionStorage.getItem('annal.token') !== null, localStorage.length])).toEqual([true, 0])
    // A reader's token reads event logs, not the access log: the page shows what the API refuses.
    await page.goto(`${url}/#/logs/access/search`)
    await page.getByRole('alert').filter({ hasText: 'INSUFFICIENT_SCOPE' }).waitFor()
    const other = await context.newPage()
    await other.goto(`${url}/#/sign-in`)
    await other.getByLabel('Bearer token').waitFor()
    expect(await other.evaluate(() => sessionStorage.getItem('annal.token'))).toBeNull()
    await context.close()
    // Chromium reports every answer of 4xx: a reader's token is refused the access and alerts logs
    // (here and on the overview). Nothing else may be reported.
    expect(problems.filter((problem) => !problem.includes('the server responded with a status of 403'))).toEqual([])
    expect(problems.length).toBeGreaterThan(0)
  })
})
