import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LiveHarness, liveHarness } from '../packages/server/src/testing/fixture.js'

// Debian's chromium, which `npm test` installs first (scripts/setup-chromium.mjs).
const executablePath = process.env.ANNAL_CHROMIUM ?? '/usr/bin/chromium'
const bundlePath = createRequire(import.meta.url).resolve('@annal/client/browser')
const entries = ['login alice', 'grant bob admin', 'logout alice', 'rotate key 7', 'login carol']
const proven = 2

/**
 * The page: its module script loads the bundle and, in the browser, verifies the log's checkpoint
 * and a tlog-proof of one entry fetched with LogClient, then the same proof with one byte of an
 * inclusion hash flipped. `window.outcome` is the promise of what it saw.
 */
function page(logUrl: string, verifierKey: string): string {
  const script = `
import { ClientError, LogClient, parsePolicy, verifyProof } from './annal-client.js'

async function run(logUrl, verifierKey, entry, index) {
  const policy = parsePolicy('log ' + verifierKey + '\\nquorum none\\n')
  const client = new LogClient(logUrl, { policy })
  const trusted = await client.checkpoint()
  const proof = await client.proofFile(index)
  const bytes = new TextEncoder().encode(entry)
  const verified = verifyProof(proof, bytes, policy)
  const lines = proof.split('\\n')
  const first = lines.findIndex((line) => line.startsWith('index ')) + 1
  const hash = Uint8Array.from(atob(lines[first]), (char) => char.charCodeAt(0))
  hash[0] ^= 1
  lines[first] = btoa(String.fromCharCode(...hash))
  let refusal = 'accepted'
  try {
    verifyProof(lines.join('\\n'), bytes, policy)
  } catch (error) {
    refusal = error instanceof ClientError ? error.code : String(error)
  }
  return { size: trusted.checkpoint.size, index: verified.index, refusal }
}

window.outcome = run(${JSON.stringify(logUrl)}, ${JSON.stringify(verifierKey)}, ${JSON.stringify(entries[proven])}, ${proven})
`
  return `<!doctype html>\n<meta charset="utf-8">\n<title>annal client</title>\n<script type="module">${script}</script>\n`
}

async function launch(): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: run \`node scripts/setup-chromium.mjs\` as root (npm test does), or set ANNAL_CHROMIUM`)
  }
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

let live: LiveHarness
let browser: Browser | undefined
let verifierKey: string

beforeAll(async () => {
  live = await liveHarness()
  const info = await live.ledger.createLog('main')
  await live.ledger.log('main').append(entries.map((entry) => new TextEncoder().encode(entry)))
  verifierKey = info.verifierKey
  browser = await launch()
})

afterAll(async () => {
  await browser?.close()
  await live?.close()
})

describe('the browser bundle in headless Chromium', () => {
  it('verifies a proof from a running server and refuses it with one byte changed', async () => {
    const context = await browser!.newContext()
    const tab = await context.newPage()
    const errors: string[] = []
    tab.on('pageerror', (error) => errors.push(error.message))
    tab.on('console', (message) => errors.push(message.text()))
    // The page and the bundle are answered under the server's origin, so that the client's fetches
    // to the API are same-origin; everything else reaches the real server.
    const bundle = await readFile(bundlePath)
    await tab.route(live.url('/browser/index.html'), (route) => route.fulfill({ contentType: 'text/html', body: page(live.url('/v1/logs/main'), verifierKey) }))
    await tab.route(live.url('/browser/annal-client.js'), (route) => route.fulfill({ contentType: 'text/javascript', body: bundle }))
    await tab.goto(live.url('/browser/index.html'))
    const outcome: unknown = await tab.evaluate('window.outcome')
    await context.close()
    expect(outcome, errors.join('\n')).toEqual({ size: entries.length, index: proven, refusal: 'INCLUSION_FAILED' })
  })
})
