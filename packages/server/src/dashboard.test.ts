import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, harness } from './testing/fixture.js'
import { DASHBOARD_CSP, loadDashboard, loopbackHost } from './dashboard.js'

const KEY = 'k'.repeat(43)
const TOKENS = [{ role: 'reader', scope: 'log:read', token: 'eyJ.reader.token' }]
const html = `<!doctype html><title>annal</title><script type="module" src="/app-3F2A9C1B.js"></script>${' '.repeat(2000)}`
let directory: string
let h: Harness

async function dashboardDirectory(files: Record<string, string>): Promise<string> {
  const made = await mkdtemp(join(tmpdir(), 'annal-dashboard-'))
  for (const [name, text] of Object.entries(files)) await writeFile(join(made, name), text)
  return made
}

beforeAll(async () => {
  directory = await dashboardDirectory({ 'index.html': html, 'app-3F2A9C1B.js': 'export {}\n', 'favicon.svg': '<svg/>' })
  h = await harness({ app: { dashboard: { directory, devSignIn: { key: KEY, tokens: TOKENS } } } })
})

afterAll(async () => {
  await h.close()
  await rm(directory, { recursive: true, force: true })
})

const get = (path: string, headers: Record<string, string> = {}) => h.app.request(path, { headers: { host: '127.0.0.1:8080', ...headers } })

describe('the dashboard files', () => {
  it('serves index.html at / with the CSP, revalidated, gzipped when asked', async () => {
    const response = await get('/', { 'accept-encoding': 'gzip, br' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
    expect(DASHBOARD_CSP).toContain("script-src 'self'")
    expect(DASHBOARD_CSP).not.toContain('unsafe')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('cache-control')).toBe('no-cache')
    expect(response.headers.get('content-encoding')).toBe('gzip')
    expect(gunzipSync(new Uint8Array(await response.arrayBuffer())).toString()).toBe(html)
    const plain = await get('/')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(html)
  })

  it('caches hashed names for a year and answers 304 to a matching ETag', async () => {
    const response = await get('/app-3F2A9C1B.js')
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const etag = response.headers.get('etag')!
    const again = await get('/app-3F2A9C1B.js', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect((await get('/favicon.svg')).headers.get('cache-control')).toBe('no-cache')
  })

  it('answers other paths as unknown routes, and the API as before', async () => {
    for (const path of ['/index.html', '/missing.js', '/../package.json']) {
      const response = await get(path)
      expect(response.status, path).toBe(404)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
    }
    expect((await get('/v1/logs')).status).toBe(200)
  })

  it('refuses a directory it cannot serve', async () => {
    const noIndex = await dashboardDirectory({ 'app.js': '' })
    const odd = await dashboardDirectory({ 'index.html': '', 'notes.txt': '' })
    const nested = await dashboardDirectory({ 'index.html': '' })
    await mkdir(join(nested, 'assets'))
    try {
      await expect(loadDashboard({ directory: noIndex })).rejects.toThrow(/no index.html/)
      await expect(loadDashboard({ directory: odd })).rejects.toThrow(/notes.txt/)
      await expect(loadDashboard({ directory: nested })).rejects.toThrow(/assets/)
      await expect(loadDashboard({ directory, devSignIn: { key: 'short', tokens: [] } })).rejects.toThrow(TypeError)
    } finally {
      await Promise.all([noIndex, odd, nested].map((made) => rm(made, { recursive: true, force: true })))
    }
  })
})

describe('dev sign-in', () => {
  it('hands the tokens to a page on loopback that holds the key, never cached', async () => {
    const response = await get('/dev-tokens', { 'annal-dev-key': KEY })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual({ tokens: TOKENS })
  })

  it('answers a wrong or missing key, or another Host (DNS rebinding), as an unknown route', async () => {
    const refused: Record<string, string>[] = [{}, { 'annal-dev-key': `${KEY}x` }, { 'annal-dev-key': KEY, host: 'attacker.example:8080' }]
    for (const headers of refused) {
      const response = await get('/dev-tokens', headers)
      expect(response.status, JSON.stringify(headers)).toBe(404)
      expect(await response.text()).not.toContain('eyJ')
    }
  })

  it('is not there without devSignIn', async () => {
    const plain = await harness({ app: { dashboard: { directory } } })
    try {
      expect((await plain.app.request('/dev-tokens', { headers: { 'annal-dev-key': KEY, host: 'localhost' } })).status).toBe(404)
    } finally {
      await plain.close()
    }
  })

  it('takes loopback Host names only', () => {
    for (const host of ['127.0.0.1:8080', 'localhost', 'LOCALHOST:1', '[::1]:8080', '127.1.2.3']) expect(loopbackHost(host), host).toBe(true)
    for (const host of [undefined, '', 'example.com', 'localhost.example.com', '127.0.0.1.nip.io', '0.0.0.0:8080', '[::2]']) {
      expect(loopbackHost(host), String(host)).toBe(false)
    }
  })
})
